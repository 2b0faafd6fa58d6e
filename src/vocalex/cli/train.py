"""``vocalex train``: train a U-Net on multitrack data (needs torch: pip install 'vocalex[train]')."""

from __future__ import annotations

import argparse

from .options import add_threads


MUSDB_TERMS = "MUSDB18 7-s previews (academic / non-commercial use only)"


def _widths(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(w) for w in text.replace(" ", "").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"widths must be comma-separated integers, got {text!r}") from None
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"widths must be positive, got {text!r}")
    return widths


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train a separation model on multitrack data",
                              description="Train the U-Net on MUSDB18 / MUSDB18-HQ / DSD100 / stem folders. "
                                          "Checkpoints go to OUT/last.pt (every --checkpoint-every steps) and "
                                          "OUT/best.pt (best validation vocals SDR); stop at any time and --resume.")
    p.add_argument("--data", nargs="+", required=True, metavar="PATH", help="dataset folders (layout detected)")
    p.add_argument("--out", "-o", required=True, metavar="DIR", help="output folder for checkpoints and logs")
    p.add_argument("--profile", default="live1024", help="STFT profile: paper, live1024, live1024-11k (the bundled model's), live2048 (default live1024)")
    p.add_argument("--widths", type=_widths, default=(8, 16, 32, 64, 128, 256), help="encoder widths (default 8,16,32,64,128,256)")
    p.add_argument("--stereo", action="store_true",
                   help="stereo network: left and right enter together (2 input planes, 2 masks), as Spleeter does")
    p.add_argument("--steps", type=int, default=10000, help="total optimiser steps (default 10000)")
    p.add_argument("--batch-size", type=int, default=16, help="spectrogram windows per step and process (default 16)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", nargs="?", const="auto", default=None, metavar="CKPT",
                   help="resume from CKPT (default OUT/last.pt)")
    p.add_argument("--valid-every", type=int, default=500, help="validate through the engine every N steps")
    p.add_argument("--valid-modes", default="offline,stream", help="engine modes to validate (comma list; 'none' to skip)")
    p.add_argument("--stream-valid-every", type=int, default=1, metavar="K",
                   help="validate stream mode at every K-th validation only (it costs a model call per stride)")
    p.add_argument("--checkpoint-every", type=int, default=50)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--stream-weight", type=float, default=0.5,
                   help="share of the loss on the frames the live engine outputs (0 = paper loss only)")
    p.add_argument("--stream-stride", type=int, default=4, help="engine stride the stream loss targets (default 4)")
    p.add_argument("--stream-lookahead", type=int, default=0, help="engine lookahead in frames (default 0)")
    p.add_argument("--extra-vocals", nargs="*", default=[], metavar="PATH", help="vocals-only files or folders")
    p.add_argument("--extra-accompaniment", nargs="*", default=[], metavar="PATH", help="accompaniment-only files or folders")
    p.add_argument("--remix-prob", type=float, default=0.5)
    p.add_argument("--extra-prob", type=float, default=0.2)
    p.add_argument("--instrumental-prob", type=float, default=0.1)
    p.add_argument("--cache", default=None, metavar="DIR", help="decode cache (default ~/.cache/vocalex)")
    add_threads(p, default="torch's and ONNX Runtime's choice", what="torch / onnxruntime CPU threads")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    p.add_argument("--no-amp", action="store_true", help="disable mixed precision on CUDA")
    p.add_argument("--ema", type=float, default=0.999,
                   help="decay of the weight average that is validated and exported (0 = raw weights; default 0.999)")
    p.add_argument("--model-version", default="dev")
    p.add_argument("--training-data", default="", help="training data with licences (model metadata)")
    p.add_argument("--licence", default="", help="licence of the weights (model metadata)")
    p.add_argument("--init", choices=("hq",), default=None,
                   help="start from a pretrained network: hq = Spleeter's 2-stem U-Nets (fixes --profile spleeter4096 "
                        "and --stereo; needs pip install 'vocalex[hq]'); its data/licence metadata then name MUSDB18's "
                        "non-commercial terms")
    p.add_argument("--teacher-cache", default=None, metavar="DIR",
                   help="distillation: also train on the (mixture, teacher vocals) pairs of DIR "
                        "(built by scripts/teacher_cache.py with the hq model)")
    p.add_argument("--teacher-prob", type=float, default=0.5, help="share of examples from --teacher-cache (default 0.5)")
    p.add_argument("--teacher-weight", type=float, default=0.5,
                   help="target = w * teacher + (1 - w) * true vocals where a cache entry has them (default 0.5: "
                        "the teacher alone did worse on a dev split, see MODEL_CARD.md)")
    p.add_argument("--valid-data", nargs="*", default=[], metavar="PATH",
                   help="validate on every track of PATH (a dev split) instead of the validation split of --data")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def run(args) -> int:
    from vocalex.base.errors import UsageError

    from vocalex.training.config import TrainConfig
    from vocalex.training.train import train

    modes = () if args.valid_modes.strip().lower() == "none" else tuple(m.strip() for m in args.valid_modes.split(","))
    for m in modes:
        if m not in ("offline", "stream"):
            raise UsageError(f"--valid-modes: unknown mode {m!r}; choose offline, stream or none")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be at least 1, got {args.threads}")
    cfg = TrainConfig(
        data=list(args.data), out=args.out, profile=args.profile, widths=args.widths, steps=args.steps,
        batch_size=args.batch_size, lr=args.lr, seed=args.seed, valid_every=args.valid_every,
        checkpoint_every=args.checkpoint_every, log_every=args.log_every, stream_weight=args.stream_weight,
        stream_stride=args.stream_stride, stream_lookahead=args.stream_lookahead, extra_vocals=list(args.extra_vocals),
        extra_accompaniment=list(args.extra_accompaniment), remix_prob=args.remix_prob, extra_prob=args.extra_prob,
        instrumental_prob=args.instrumental_prob, cache=args.cache, threads=args.threads, valid_modes=modes, stream_valid_every=args.stream_valid_every,
        channels=2 if args.stereo else 1, device=args.device, amp=not args.no_amp, ema=args.ema, model_version=args.model_version,
        training_data=args.training_data, licence=args.licence, init=args.init,
        teacher_cache=args.teacher_cache, teacher_prob=args.teacher_prob, teacher_weight=args.teacher_weight,
        valid_data=list(args.valid_data),
    )
    result = train(cfg, resume=args.resume, quiet=args.quiet)
    best = f", best validation vocals SDR {result['best']:.2f} dB" if result["best"] is not None else ""
    print(f"trained to step {result['step']}, loss {result['loss']:.4f}{best}; checkpoint {result['checkpoint']}")
    return 0
