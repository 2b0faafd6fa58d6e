"""``vocalex export CKPT -o model.onnx``: a training checkpoint -> the verified,
self-describing ONNX model of the engine contract, plus its golden pair.

The STFT profile, widths and (unless overridden) model version, training data
and licence come from the checkpoint; the export gate of onnx_export.py must
pass (ONNX Runtime == PyTorch) before the file is put in place.
"""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("export", help="export a training checkpoint to a verified ONNX model",
                              description="Write the self-describing ONNX model (+ MODEL.golden.npz) from a "
                                          "`vocalex train` checkpoint; fails if ONNX Runtime and PyTorch disagree.")
    p.add_argument("checkpoint", metavar="CKPT", help="checkpoint written by vocalex train (last.pt, best.pt, step-N.pt)")
    p.add_argument("-o", "--out", required=True, metavar="MODEL.onnx", help="output ONNX file")
    p.add_argument("--fp16", action="store_true", help="store weights as float16 (half the file; upcast at load)")
    p.add_argument("--model-version", default=None, help="model version (default: from the checkpoint)")
    p.add_argument("--training-data", default=None, help="training data and its licence (default: from the checkpoint)")
    p.add_argument("--licence", default=None, help="licence of the weights (default: from the checkpoint)")
    p.add_argument("--tolerance", type=float, default=None,
                   help="max abs mask difference ONNX vs PyTorch (default 1e-4; 1e-3 with --fp16, whose upcast "
                        "graph accumulates in a different order: 1e-3 of a mask is -60 dB)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.set_defaults(handler=run)


def run(args) -> int:
    from pathlib import Path

    from vocalex.base.errors import OutputError, UsageError
    from vocalex.training.profiles import profile_from_checkpoint
    from vocalex.training.checkpoints import load_checkpoint, model_from_checkpoint

    from vocalex.export.onnx_export import export_onnx, golden_path, profile_for

    out = Path(args.out)
    if out.suffix != ".onnx":
        raise UsageError(f"the output must be an .onnx file, got {out}")
    if not out.parent.is_dir():
        raise OutputError(f"output folder does not exist: {out.parent}")
    if out.exists() and not args.force:
        raise OutputError(f"{out} exists; pass --force to overwrite")
    tolerance = args.tolerance if args.tolerance is not None else (1e-3 if args.fp16 else 1e-4)
    if tolerance < 0:
        raise UsageError(f"--tolerance must be >= 0, got {args.tolerance}")
    ckpt = load_checkpoint(args.checkpoint)
    model = model_from_checkpoint(ckpt)
    config = ckpt.get("config", {})
    profile = profile_for(
        profile_from_checkpoint(ckpt["profile"]),
        model_version=args.model_version or config.get("model_version") or f"step-{ckpt.get('step', 0)}",
        training_data=args.training_data or config.get("training_data") or ", ".join(config.get("data", [])) or "unknown",
        licence=args.licence or config.get("licence") or "unspecified",
    )
    extra, frames = None, {}
    if ckpt.get("arch") == "spleeter2stems":  # a fine-tuned hq model says where its starting weights came from
        from vocalex.export.spleeter_hq import OFFLINE_FRAMES, SOURCE, extra_metadata

        extra = extra_metadata(source=f"{SOURCE}, fine-tuned by vocalex train --init hq (step {ckpt.get('step', '?')})")
        frames = {"dynamic_frames": True, "check_frames": (OFFLINE_FRAMES,)}  # the hq model's offline windows too
    report = export_onnx(model, profile, out, fp16_weights=args.fp16, tolerance=tolerance, extra_metadata=extra, **frames)
    print(f"wrote {out} ({report['bytes'] / 1e6:.2f} MB, step {ckpt.get('step', '?')}, "
          f"max abs error vs PyTorch {report['max_abs_error']:.2g}) and {golden_path(out).name}")
    return 0
