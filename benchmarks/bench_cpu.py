"""The README's latency and speed numbers for one model and provider, plus the compute-time histogram.

    python3 benchmarks/bench_cpu.py [--model M.onnx] [--provider cpu|cuda] [--threads N] [--wiener] [SONG]

Runs ``vocalex bench`` in-process (default song: the bundled 30 s demo) and writes
benchmarks/results/bench_<provider>.json and compute_hist_<provider>.png. On a GPU machine run it
with ``--provider cuda`` (onnxruntime-gpu installed) to get the CUDA numbers.
"""

from __future__ import annotations

import argparse
import sys

from _common import RESULTS, write_json


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("song", nargs="?", default=None)
    p.add_argument("--model", default=None)
    p.add_argument("--provider", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--stride", type=int, default=None)
    p.add_argument("--lookahead", type=int, default=None)
    p.add_argument("--seconds", type=float, default=None)
    p.add_argument("--wiener", action="store_true", help="also time offline mode with Wiener filtering")
    args = p.parse_args(argv)

    from vocalex.cli.bench import print_report
    from vocalex.evaluation.speed import bench
    from vocalex.base.machine import describe
    from vocalex.evaluation.plots import plot_compute_histogram

    results = bench(song=args.song, model=args.model, provider=args.provider, threads=args.threads,
                    stride=args.stride, lookahead=args.lookahead, seconds=args.seconds,
                    wiener=args.wiener)
    print_report(results)
    write_json(results, RESULTS / f"bench_{args.provider}.json")
    out = RESULTS / f"compute_hist_{args.provider}.png"
    lat = results["latency"]
    plot_compute_histogram(
        {f"stream, stride {lat['stride_frames']}": results["compute_times_ms"]}, out, budget_ms=lat["call_period_ms"],
        title=f"model call compute time, {results['model']['model_version']} on {args.provider}\n{describe(results['machine'])}",
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
