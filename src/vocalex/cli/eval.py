"""``vocalex eval DATASET``: SDR of vocalex and the baselines on the same clips, side by side.

Every system (vocalex offline, vocalex stream, and with ``--baselines`` the
mixture, centre cancellation, REPET-SIM and Spleeter 2-stem) separates the
same mixtures (the sum of the stems), and every estimate is scored with the
same metric at the dataset's own sample rate: the plain SDR of
:func:`vocalex.evaluation.metrics.sdr` per track and stem, aggregated as
median and mean over tracks; with ``--museval`` also BSSEval v4 (median over
1 s windows, then over tracks). For MUSDB18 the default split is the
validation split of training/splits.py, so the numbers are on held-out clips.
"""

from __future__ import annotations

import argparse

from .options import add_model_options, add_stream, resolve_model


SPLIT_CHOICES = ("auto", "valid", "train", "test", "all")
MODE_CHOICES = ("offline", "stream", "both")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "eval",
        help="score vocalex (and baselines) on a multitrack dataset",
        description="Per-track SDR of vocals and accompaniment on MUSDB18 / MUSDB18-HQ / DSD100 / a folder of stems.",
    )
    p.add_argument("dataset", help="dataset folder (MUSDB18 .stem.mp4, MUSDB18-HQ, DSD100, or one folder of stems per track)")
    p.add_argument("--split", choices=SPLIT_CHOICES, default="auto",
                   help="tracks to score; auto = the validation split for MUSDB18, every track otherwise")
    p.add_argument("--mode", choices=MODE_CHOICES, default="offline", help="vocalex mode(s) to score (default offline)")
    p.add_argument("--wiener", action="store_true",
                   help="also score offline mode with multichannel Wiener filtering (a 'vocalex offline+wiener' row)")
    p.add_argument("--baselines", action="store_true",
                   help="also score the mixture, centre cancellation, REPET-SIM and Spleeter 2-stem")
    p.add_argument("--museval", action="store_true", help="also compute BSSEval v4 (museval) SDR/SIR/SAR/ISR")
    add_model_options(p, repeat=True)
    add_stream(p)
    p.add_argument("--limit", type=int, default=None, metavar="N", help="score only the first N tracks")
    p.add_argument("--json", dest="json_path", default=None, metavar="FILE", help="write the full results as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from vocalex.base.errors import UsageError
    from vocalex.evaluation.evaluate import evaluate
    from vocalex.evaluation.report import check_writable, print_table, write_json

    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit must be at least 1, got {args.limit}")
    if args.wiener and args.mode == "stream":
        raise UsageError("--wiener scores offline mode; use it with --mode offline or --mode both")
    if args.wiener:
        from vocalex.engine.wiener import require

        require()
    if args.json_path is not None:
        check_writable(args.json_path)
    for model in args.model or []:
        resolve_model(model)
    if args.museval:
        from vocalex.evaluation.metrics import museval_available

        if not museval_available():
            raise UsageError("--museval needs the package museval (pip install 'vocalex[eval]')")
    results = evaluate(
        args.dataset,
        split=args.split,
        mode=args.mode,
        wiener=args.wiener,
        baselines=args.baselines,
        museval=args.museval,
        model=args.model,
        provider=args.provider,
        threads=args.threads,
        stride=args.stride,
        lookahead=args.lookahead,
        limit=args.limit,
        progress=True,
    )
    print_table(results)
    if args.json_path is not None:
        write_json(results, args.json_path)
        print(f"wrote {args.json_path}")
    return 0
