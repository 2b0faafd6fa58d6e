"""Live benchmark: end-to-end latency through a JACK server by loopback, and the live engine's timing.

    python3 benchmarks/bench_live.py --model MODEL.onnx [--start-server] [--repeats 3]
        [--stride 4 --lookahead 0 | --latency-ms 120|lowest] [--blocksize 256] [--provider cpu|cuda] [--threads N]

Each repeat runs the real live engine in passthrough on the JACK server, plays
noise bursts into its input ports through a harness client, records its output
ports and finds the delay by cross-correlation (engine/loopback.py). Prints,
per repeat, the measured end-to-end latency beside the reported one (algorithmic
+ compute headroom + device buffers), callback interval statistics, compute
time per processed block (p50/p99), late blocks and xruns, naming the machine.
Numbers only, no pass/fail. ``--start-server`` starts a private ``jackd --sync --no-realtime
-d dummy -r 44100 -p BLOCKSIZE`` for the run (engine/jack_dummy.py, as ``vocalex bench --live --start-server``).
"""

from __future__ import annotations

import argparse
import json
import os
import contextlib
import sys

def main(argv=None) -> int:
    from vocalex.live.defaults import DEFAULT_MARGIN_MS

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="ONNX model (default: the bundled model)")
    p.add_argument("--provider", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--threads", type=int, help="ONNX Runtime threads (default: the live default, 1)")
    p.add_argument("--stride", type=int)
    p.add_argument("--lookahead", type=int)
    p.add_argument("--latency-ms", help="latency budget as vocalex live --latency-ms (a number of ms, or 'lowest'): the "
                   "model and configuration come from the measured table, planned anew in each repeat as live does at start")
    p.add_argument("--blocksize", type=int, default=256)
    p.add_argument("--low-delay", action=argparse.BooleanOptionalAction, default=True,
                   help="asymmetric STFT windows, one hop of STFT delay (the live default; --no-low-delay for Hann)")
    p.add_argument("--margin-ms", type=float, default=DEFAULT_MARGIN_MS, help="default: as vocalex live")
    p.add_argument("--window", type=int, default=None, help="frames per model call (default: the model's own; as vocalex live --window)")
    p.add_argument("--seconds", type=float, default=3.0, help="length of the measurement signal per repeat")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--realtime-server", action="store_true",
                   help="with --start-server: run jackd --realtime (where permitted); the live worker then runs realtime too")
    p.add_argument("--start-server", action="store_true", help="start a private JACK dummy server (period = --blocksize) for the run")
    p.add_argument("--json", dest="json_path", help="also write the results as JSON")
    args = p.parse_args(argv)

    from vocalex.base.errors import VocalexError
    from vocalex.live.jack_dummy import dummy_jack_server

    results = []
    # a private server (its own name) whose period is the engine's device block; PortAudio is released before it stops
    server = (dummy_jack_server(period=args.blocksize, realtime=args.realtime_server) if args.start_server
              else contextlib.nullcontext())
    try:
        with server:
            _run_repeats(args, results)
    except VocalexError as exc:
        print(f"bench_live: error: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.json_path:
        with open(args.json_path, "w") as f:
            json.dump(results, f, indent=2)
        print(f"wrote {args.json_path}")
    return 0


def _run_repeats(args, results: list) -> None:
    """Load the model once, then measure args.repeats times on the running server, printing each result."""
    from vocalex.engine import Separator
    from vocalex.live.setup import LIVE_DEFAULT_THREADS
    from vocalex.base.machine import machine_name
    from vocalex.live.loopback import format_latency, measure_latency

    from vocalex.cli.options import latency_target

    threads = LIVE_DEFAULT_THREADS if args.threads is None else args.threads
    target = None if args.latency_ms is None else latency_target(args.latency_ms)
    pinned = args.stride is not None or args.lookahead is not None or args.window is not None
    # Without a pinned setting the model comes from the table (live/choice.py), chosen in each repeat as
    # `vocalex live` chooses at start; otherwise the model is loaded once here.
    separator = None if (not pinned and (args.model is None or target is not None)) else \
        Separator.load(args.model, provider=args.provider, threads=threads)
    print(f"machine: {machine_name()}; load average {os.getloadavg()[0]:.1f} at start")
    print(f"model: {separator.model.path if separator else 'chosen from the measured table'} ({args.provider}, "
          f"{threads} thread(s))")
    for i in range(args.repeats):
        r = measure_latency(
            model=args.model, provider=args.provider, threads=threads, stride=args.stride, lookahead=args.lookahead,
            latency_ms=None if target in (None, "lowest") else target, lowest=target == "lowest",
            blocksize=args.blocksize, margin_ms=args.margin_ms, seconds=args.seconds, separator=separator,
            synthesis="low-delay" if args.low_delay else "hann", window=args.window,
        )
        for line in r["choice"] or ():
            print("  " + line.strip())
        r["load_average"] = os.getloadavg()[0]
        results.append(r)
        print(f"[{i + 1}/{args.repeats}] {r['configuration']}; {args.seconds:g} s of audio")
        print("  " + r["calibration"])
        print("  " + format_latency(r))
        print(
            f"  measured {r['measured_samples']} vs reported {r['reported_samples']} samples "
            f"(difference {r['difference_ms']:+.2f} ms, within one block: {r['within_one_block']})"
        )
        print(
            f"  callback interval p50 {r['callback_interval_ms_p50']:.2f} ms, p99 {r['callback_interval_ms_p99']:.2f} ms, "
            f"max {r['callback_interval_ms_max']:.2f} ms (block {r['block_ms']:.2f} ms)"
        )
        print(
            f"  model call {r['model_call_ms']:.2f} ms at start; compute per block p50 {r['compute_ms_p50']:.2f} ms, "
            f"p99 {r['compute_ms_p99']:.2f} ms; threads: {r['scheduling']}"
        )
        print(
            f"  late blocks {r['late_blocks']} of {r['callbacks']}, xruns (status flags) {r['xruns']}, "
            f"server xruns {r['server_xruns']}, resyncs {r['resyncs']}, load average {r['load_average']:.1f}"
        )


if __name__ == "__main__":
    sys.exit(main())
