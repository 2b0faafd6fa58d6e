"""``vocalex bench [SONG]``: how late and how fast, for one model and provider, on this machine.

Parses the options and prints; what is measured, and how, is :mod:`vocalex.evaluation.speed`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vocalex.evaluation.speed import STREAM_BLOCK

from .options import add_model_options, add_stream, resolve_model


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "bench",
        help="latency budget and speed of a model on this machine",
        description="Latency budget, stream real-time factor and offline throughput (whole pipeline) on one song.",
    )
    p.add_argument("song", nargs="?", default=None, help="audio file (default: the bundled 30 s demo song)")
    add_model_options(p)
    add_stream(p)
    p.add_argument("--rate", type=int, default=None, help="host sample rate for the latency budget (default: the model's)")
    p.add_argument("--block", type=int, default=STREAM_BLOCK, help=f"stream mode: host block size (default {STREAM_BLOCK})")
    p.add_argument("--seconds", type=float, default=None, help="use only the first SECONDS of the song")
    p.add_argument("--json", dest="json_path", default=None, metavar="FILE", help="write the results as JSON")
    p.add_argument("--wiener", action="store_true", help="also time offline mode with multichannel Wiener filtering")
    p.add_argument("--live", action="store_true", help="also measure end-to-end latency through JACK by loopback")
    p.add_argument("--start-server", action="store_true",
                   help="with --live: start a private JACK dummy server for the measurement (no sound card needed)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from vocalex.base.errors import UsageError

    from vocalex.evaluation.speed import bench
    from vocalex.evaluation.report import check_writable, write_json

    if args.block < 1:
        raise UsageError(f"--block must be at least 1, got {args.block}")
    if args.seconds is not None and args.seconds <= 0:
        raise UsageError(f"--seconds must be positive, got {args.seconds}")
    if args.json_path is not None:
        check_writable(args.json_path)
    if args.start_server and not args.live:
        raise UsageError("--start-server starts a JACK server for --live; add --live")

    resolve_model(args.model)
    live = None
    if args.live:
        # First, so a missing JACK server fails in a second rather than after the whole bench.
        import contextlib

        from vocalex.live.jack_dummy import dummy_jack_server
        from vocalex.live.loopback import format_latency, measure_latency

        with dummy_jack_server() if args.start_server else contextlib.nullcontext():
            live = measure_latency(
                model=args.model, provider=args.provider, threads=args.threads, stride=args.stride, lookahead=args.lookahead
            )
    results = bench(
        song=args.song,
        model=args.model,
        provider=args.provider,
        threads=args.threads,
        stride=args.stride,
        lookahead=args.lookahead,
        host_rate=args.rate,
        block=args.block,
        seconds=args.seconds,
        wiener=args.wiener,
    )
    if live is not None:
        results["live"] = live
    print_report(results)
    if live is not None:
        print(format_latency(live))
    if args.json_path is not None:
        write_json(results, args.json_path)
        print(f"wrote {args.json_path}")
    return 0


def print_report(results: dict) -> None:
    """Latency budget, stream and offline speed as rich tables."""
    from rich.markup import escape
    from rich.table import Table

    from vocalex.evaluation.report import wide_console
    from vocalex.base.machine import describe

    console = wide_console()
    lat, st, off = results["latency"], results["stream"], results["offline"]
    m = results["model"]
    # One fact per line, and soft_wrap: a narrow terminal folds a long line itself instead of rich cutting it mid-phrase.
    console.print(f"[bold]vocalex bench[/bold]: {Path(m['path']).name} ({m['model_version']}; {m['sample_rate']} Hz, "
                  f"n_fft {m['n_fft']}, hop {m['hop_length']}) on {results['provider']}", soft_wrap=True)
    console.print(f"machine: {describe(results['machine'])}", soft_wrap=True, highlight=False)
    console.print(f"song: {results['song']['path']} ({results['song']['seconds']:.1f} s)", soft_wrap=True)

    # one line, as `vocalex live` states it (escaped: rich would read the configuration's brackets as markup)
    console.print(escape(f"latency budget of the live stream: algorithmic {lat['algorithmic_ms']:.1f} ms "
                         f"[{lat['configuration']}]"), soft_wrap=True, highlight=False)
    t = Table()
    t.add_column("part")
    t.add_column("ms", justify="right")
    rows = [
        (f"STFT window {lat['window_ms']:.1f} ms: its delay ({lat.get('synthesis', 'hann')} synthesis)", lat["alignment_ms"]),
        ("waiting for the stride ((stride - 1) hops)", lat["stride_wait_ms"]),
        ("lookahead", lat["lookahead_ms"]),
        ("hold (one hop less the device block's granularity)", lat["hop_hold_ms"]),
        ("resampling", lat["resampling_ms"]),
        ("= algorithmic", lat["algorithmic_ms"]),
        (f"compute per model call p50 (p99 {lat['compute_ms_p99']:.2f})", lat["compute_ms_p50"]),
        ("total = algorithmic + compute p99 (device buffers not included)", lat["total_ms"]),
    ]
    for name, value in rows:
        t.add_row(name, "-" if value is None else f"{value:.2f}")
    console.print(t)

    t = Table(title="speed")
    t.add_column("measure")
    t.add_column("value", justify="right")
    t.add_row(f"stream real-time factor (compute / audio, blocks of {st['block']})", f"{st['real_time_factor']:.3f}")
    t.add_row(f"stream model call p50 / p99 (budget {lat['call_period_ms']:.1f} ms per call)",
              f"{st['call_ms']['p50']:.2f} / {st['call_ms']['p99']:.2f} ms")
    t.add_row("offline throughput, whole pipeline", f"{off['x_realtime']:.1f}x real time")
    for stage, value in off["stages"].items():
        t.add_row(f"  {stage[:-2]}", f"{value:.3f} s ({100 * value / off['total_s']:.0f} %)")
        if stage == "separate_s":
            t.add_row("    of which ONNX Runtime (worker thread, overlapped with the STFT)",
                      f"{off['model_s']:.3f} s ({off['model_calls']} calls)")
    if "offline_wiener" in results:
        t.add_row("offline + Wiener filter (--wiener), whole pipeline", f"{results['offline_wiener']['x_realtime']:.1f}x real time")
    console.print(t)
