"""``vocalex info [MODEL]``: print a model's self-description."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("info", help="print a model's metadata (STFT profile, target, version, data, licence)")
    p.add_argument("model", nargs="?", default=None, help="ONNX model file or name: default, hq (default: the bundled model)")
    p.add_argument("--model", dest="model_option", default=None, metavar="MODEL", help="the same, as an option")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=run)


def run(args) -> int:
    from vocalex.export.models import ensure

    from vocalex.engine.errors import UsageError
    from vocalex.engine.model import read_channels, read_extra_metadata, read_profile, resolve_model_path

    if args.model is not None and args.model_option is not None:
        raise UsageError("name the model once: as an argument or with --model")
    model = ensure(args.model if args.model is not None else args.model_option)
    path = resolve_model_path(model)
    profile = read_profile(path)
    info = {"path": str(path), "bytes": path.stat().st_size, **profile.describe(), "channels": read_channels(path),
            **read_extra_metadata(path)}
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        width = max(len(k) for k in info)
        for key, value in info.items():
            print(f"{key:<{width}}  {value}")
    return 0
