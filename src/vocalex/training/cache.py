"""Decode-once cache: every track and extra file is decoded once, at the model
rate, to float16 .npy files; a training step then only slices arrays in memory
and never waits on ffmpeg.

Entries are keyed by the source files' absolute paths, sizes, mtimes and the
rate, so an edited or replaced file is decoded again. float16 keeps ~66 dB of
relative precision, far below what the model resolves, at half the bytes; it is
also the compact form GPU.md asks for when data must travel.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from vocalex.data.datasets import Track, decode_audio, resample

DEFAULT_CACHE = Path("~/.cache/vocalex").expanduser()


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    d = Path(path).expanduser() if path else Path(os.environ.get("VOCALEX_CACHE", DEFAULT_CACHE)).expanduser()
    d.mkdir(parents=True, exist_ok=True)
    return d


def _key(files: list[Path], rate: int, extra: str = "") -> str:
    h = hashlib.sha1()
    for f in sorted(files):
        st = Path(f).stat()
        h.update(f"{Path(f).resolve()}|{st.st_size}|{st.st_mtime_ns}|".encode())
    h.update(f"{rate}|{extra}".encode())
    return h.hexdigest()[:20]


def _save_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    os.replace(tmp, path)  # concurrent DDP ranks may race: the last complete write wins


def cached_track(track: Track, rate: int, directory: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """Track stems at ``rate`` -> {"vocals", "accompaniment"}: float16 (frames, channels), from cache if present."""
    path = cache_dir(directory) / f"track-{_key(track.files, rate, track.name)}.npz"
    if path.exists():
        with np.load(path) as z:
            return {"vocals": z["vocals"], "accompaniment": z["accompaniment"]}
    stems = track.load(rate)
    arrays = {k: stems[k].astype(np.float16) for k in ("vocals", "accompaniment")}
    _save_atomic(path, arrays)
    (path.with_suffix(".json")).write_text(json.dumps({"name": track.name, "files": [str(f) for f in track.files], "rate": rate}))
    return arrays


def cached_file(file: str | os.PathLike, rate: int, directory: str | os.PathLike | None = None) -> np.ndarray:
    """One audio file at ``rate`` -> float16 (frames, channels), from cache if present."""
    file = Path(file)
    path = cache_dir(directory) / f"file-{_key([file], rate)}.npz"
    if path.exists():
        with np.load(path) as z:
            return z["audio"]
    audio, native = decode_audio(file)
    audio = resample(audio, native, rate).astype(np.float16)
    _save_atomic(path, {"audio": audio})
    return audio
