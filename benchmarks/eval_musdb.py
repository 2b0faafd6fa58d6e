"""The README's quality table: vocalex (offline and stream) and every baseline on the MUSDB18-7s validation clips.

    python3 benchmarks/eval_musdb.py [--model M.onnx|hq ...] [--data DIR] [--wiener] [--museval] [--limit N]

Runs ``vocalex eval DATA --split valid --mode both --baselines [--wiener]`` in-process (same clips, same metric
for every system) and writes benchmarks/results/eval_musdb_valid.json; prints the table.
"""

from __future__ import annotations

import argparse
import sys

from _common import RESULTS, add_data_option, run_script, write_json


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", action="append", default=None,
                   help="ONNX model or name (default, hq); repeat to score several side by side (default: the bundled one)")
    add_data_option(p)
    p.add_argument("--split", default="valid")
    p.add_argument("--stride", type=int, default=None)
    p.add_argument("--lookahead", type=int, default=None)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--wiener", action="store_true", help="also offline mode with multichannel Wiener filtering")
    p.add_argument("--museval", action="store_true", help="also BSSEval v4 (slow: about 1 s per clip and system)")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--out", default=str(RESULTS / "eval_musdb_valid.json"))
    args = p.parse_args(argv)

    from vocalex.evaluation.evaluate import evaluate
    from vocalex.evaluation.report import print_table
    from vocalex.export.models import ensure

    for model in args.model or []:
        ensure(model)  # a named model (hq) is converted on first use

    results = evaluate(args.data, split=args.split, mode="both", wiener=args.wiener, baselines=True, museval=args.museval,
                       model=args.model, threads=args.threads, stride=args.stride, lookahead=args.lookahead,
                       limit=args.limit, progress=True)
    print_table(results)
    write_json(results, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main, "eval_musdb"))
