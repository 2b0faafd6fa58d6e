"""``vocalex plot SONG -o fig.png``: spectrograms of mixture / vocals / accompaniment and the mask, for looking.

Separates the first ``--seconds`` of the song (after ``--start``) with the
chosen model and mode and draws the four panels of
:func:`vocalex.evaluation.plots.plot_spectrograms`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .options import add_model, add_provider, resolve_model


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "plot",
        help="spectrogram figure of a song's separation (PNG)",
        description="Spectrograms of mixture, vocals and accompaniment and the vocals mask for the first seconds of a song.",
    )
    p.add_argument("song", help="audio file")
    p.add_argument("-o", "--out", required=True, help="output PNG file")
    p.add_argument("--seconds", type=float, default=10.0, help="length to separate and draw (default 10)")
    p.add_argument("--start", type=float, default=0.0, help="start time in seconds (default 0)")
    p.add_argument("--max-hz", type=float, default=None, help="highest frequency drawn (default: Nyquist)")
    p.add_argument("--mode", choices=("offline", "stream"), default="offline", help="separation mode (default offline)")
    add_model(p)
    add_provider(p)
    p.add_argument("--force", action="store_true", help="overwrite the output file")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from vocalex.base.errors import AudioInputError, OutputError, UsageError

    if args.seconds <= 0:
        raise UsageError(f"--seconds must be positive, got {args.seconds}")
    if args.start < 0:
        raise UsageError(f"--start must be >= 0, got {args.start}")
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise UsageError(f"the figure is written as PNG; name the output *.png, got {out.name}")
    if out.is_dir():
        raise OutputError(f"{out} exists and is a folder")
    if out.exists() and not args.force:
        raise OutputError(f"{out} exists; use --force to overwrite")
    try:  # as `separate -o` does: a missing folder is created
        out.resolve().parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the folder of {out}: {exc.strerror or exc}") from None

    import matplotlib  # noqa: F401  (fail early, before separating, if the eval extra is missing)
    import numpy as np

    from vocalex.engine import Separator
    from vocalex.files.audio_io import AudioReader

    from vocalex.evaluation.plots import plot_spectrograms

    with AudioReader(args.song) as reader:
        rate = reader.sample_rate
        first = int(round(args.start * rate))
        last = first + int(round(args.seconds * rate))
        blocks, pos = [], 0
        for block in reader.blocks():
            lo, hi = max(first - pos, 0), min(last - pos, len(block))
            if hi > lo:
                blocks.append(block[lo:hi])
            pos += len(block)
            if pos >= last:
                break
    if not blocks:
        raise AudioInputError(f"{args.song}: shorter than --start {args.start} s")
    audio = np.concatenate(blocks)
    separator = Separator.load(model=resolve_model(args.model), provider=args.provider)
    stems = separator.separate(audio, rate, mode=args.mode)
    title = f"{Path(args.song).name} [{args.start:g}-{args.start + len(audio) / rate:g} s], {args.mode}, model {separator.profile.model_version}"
    plot_spectrograms(audio, stems["vocals"], stems["accompaniment"], rate, out, title=title, max_hz=args.max_hz)
    print(f"wrote {out}")
    return 0
