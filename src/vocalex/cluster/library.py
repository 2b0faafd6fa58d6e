"""The one door from the cluster room into the library: every call into vocalex.base, .files and .engine goes here.

The rest of the room (inputs, manifest, worker, runner) imports names from this module only, so when the
library moves things again (as issue 23 moved file I/O into files/ and errors into base/) this file is the
one to fix. Nothing here imports ray; each import of the library is made where it is first needed, so
that the driver, which never separates, does not load ONNX Runtime or numba.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from vocalex.base.errors import (AudioInputError, MissingPackageError, ModelError, OutputError,  # noqa: F401
                                 UsageError, VocalexError)
from vocalex.base.termination import (INTERRUPTED_EXIT, TERMINATED_EXIT, Terminated,  # noqa: F401
                                      install_termination_handler)

# The stems a file gives, in the local run's layout OUT/<track>/<stem>.<fmt>.
FORMATS = ("wav", "flac")


def stems() -> tuple[str, ...]:
    from vocalex.files.separate import STEMS

    return STEMS


def is_audio_name(name: str) -> bool:
    """True when a file (or object) name has one of the library's audio suffixes."""
    from vocalex.base.suffixes import is_audio_file

    return is_audio_file(Path(name))


def audio_suffixes() -> frozenset:
    from vocalex.base.suffixes import AUDIO_SUFFIXES

    return AUDIO_SUFFIXES


def expand_local(paths, on_skip=None) -> list[tuple[Path, Path]]:
    """Local files and folders -> [(file, track folder relative to OUT)]: the very rule of ``vocalex separate``."""
    from vocalex.files.batch import expand_inputs

    return expand_inputs(paths, on_skip=on_skip)


def output_paths(out_root: Path, track: str, fmt: str) -> dict:
    """stem -> OUT/<track>/<stem>.<fmt>, as the library names them."""
    from vocalex.files.separate import output_paths as paths

    return paths(Path(track), out_root, fmt, name=track)


# ------------------------------------------------------------------ the model

def resolve_model(model) -> Path:
    """A model name or path -> its file (ModelError when missing); the named ``hq`` model must be built already."""
    from vocalex.engine.contract import resolve_model_path

    return resolve_model_path(model)


def model_version(path: Path) -> str:
    """The model's own version string, read from its metadata (no session is built)."""
    from vocalex.engine.contract import read_profile

    return read_profile(path).model_version


def run_config(path: Path, mode: str, stride=None, lookahead=None, wiener: bool = False):
    """The library's frozen run config for these options, checked against the model (UsageError when wrong)."""
    from vocalex.engine.config import OfflineConfig, resolve_stream
    from vocalex.engine.contract import read_profile

    if mode == "offline":
        if stride is not None or lookahead is not None:
            raise UsageError("--stride and --lookahead are stream-mode options (add --mode stream)")
        return OfflineConfig(wiener=wiener)
    if wiener:
        raise UsageError("--wiener is an offline-mode option; drop it or use --mode offline")
    return resolve_stream(read_profile(path), stride, lookahead)  # the CLI's resolver: the same config as `separate`


def load_separator(model_path: Path, provider: str, threads: int | None):
    """One ONNX Runtime session (checksum verified) for a worker: ``threads`` intra-op threads, no spinning."""
    from vocalex.engine.separator import Separator

    return Separator.load(model_path, provider=provider, threads=threads, spinning=False)


def separate(separator, path: Path, out_root: Path, track: Path, config, fmt: str, force: bool, on_progress=None):
    """One file -> OUT/<track>/{vocals,accompaniment}.<fmt> through the library's bounded-memory, atomic path.

    Returns (outputs {stem: Path}, audio seconds, warnings); raises VocalexError. ``on_progress`` may raise to
    stop the file: the library then discards its hidden partial files and any folder it created.
    """
    from vocalex.files.separate import separate_file

    result = separate_file(separator, path, out_root, name=str(track), config=config, fmt=fmt, force=force,
                           on_progress=on_progress)
    return result.outputs, result.seconds, tuple(result.warnings)


def partial_files(folder: Path, fmt: str) -> list[Path]:
    """Hidden partial files the library's atomic writer leaves in ``folder`` when its process is killed outright.

    The writer (files/audio_io.AtomicAudioWriter) names them ``.<stem>.<fmt>.<pid>.<hex>.part`` beside the
    final name and renames them into place only when complete; a SIGKILL'ed worker (a lost node) cannot
    remove its own. Only names of that exact shape are returned, never a final output.
    """
    found = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return found
    for stem in stems():
        prefix = f".{stem}.{fmt}."
        found += [Path(e.path) for e in entries
                  if e.name.startswith(prefix) and e.name.endswith(".part") and e.is_file(follow_symlinks=False)]
    return found


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """The sha256 of a file's bytes, read in 1 MiB chunks (bounded memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()
