"""``vocalex info [MODEL] [--verify]``: print a model's self-description; with --verify, prove the file intact."""

from __future__ import annotations

import json

from .options import add_model, resolve_model


def register(sub) -> None:
    p = sub.add_parser("info", help="print a model's metadata (STFT profile, target, version, data, licence)")
    p.add_argument("model", nargs="?", default=None, help="ONNX model file or name: default, hq (default: the bundled model)")
    add_model(p, dest="model_option", help="the same, as an option")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--verify", action="store_true",
                   help="check the weights' sha256 and run the golden pair beside the model (exit 6 when either fails)")
    p.set_defaults(handler=run)


def run(args) -> int:
    from vocalex.base.errors import UsageError
    from vocalex.engine.contract import read_description

    if args.model is not None and args.model_option is not None:
        raise UsageError("name the model once: as an argument or with --model")
    path, profile, channels, extra = read_description(resolve_model(args.model if args.model is not None else args.model_option))
    info = {"path": str(path), "bytes": path.stat().st_size, **profile.describe(), "channels": channels, **extra}
    if args.verify:
        info.update(_verify(path))
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        width = max(len(k) for k in info)
        for key, value in info.items():
            print(f"{key:<{width}}  {value}")
    return 0


def _verify(path) -> dict:
    """The checks' results; a failed one raises ModelError (exit 6)."""
    from vocalex.engine.integrity import check_golden, check_weights, golden_path
    from vocalex.engine.model import OnnxModel

    sha = check_weights(path)
    err = check_golden(OnnxModel.load(path, threads=1, spinning=False))
    return {
        "verified_sha256": "ok" if sha else "no checksum in this model (exported before vocalex stamped one)",
        "verified_golden": f"ok, max abs error {err:.2e}" if err is not None else f"no golden pair ({golden_path(path).name})",
    }
