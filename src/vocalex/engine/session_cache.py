"""ONNX Runtime's optimised graph of a model, kept per machine: a one-file process skips the optimisation.

Most of a session build's CPU goes to graph optimisation (constant folding, fusions, the blocked NCHWc
layout MLAS runs convolutions in), redone in every process from a graph that never changes. ONNX
Runtime can save the graph it optimised (``optimized_model_filepath``); a session built from that file
with optimisation off runs the same kernels and gives the same output. For the bundled model that cut a
build from ~64 to ~43 ms of CPU (README, "Start-up"). The saved graph holds the layout chosen for this
CPU's vector width and is read by this ONNX Runtime build only (ONNX Runtime's documentation on offline
optimisation), so both are part of its key, and it lives in the per-user cache folder
(engine/registry.py), never beside the model.

Trust, as for a model file (engine/integrity.py):

* an entry is written only from a model file whose stamped weights checksum was just verified, and
  only for a stamped file (an unstamped one has nothing to verify against, and is never cached);
* an entry's own sha256 is in its name and is checked every time it is read; a mismatch deletes it and
  the process falls back to the model file itself;
* the key holds the model file's path, inode, size, modification and change times and stamped checksum:
  a model that changes (rebuilt, replaced, damaged by a write) is a miss, verified and optimised again,
  not a stale hit. A hit does not re-hash the model file: what runs is the verified entry made from it.
  (The file system's clock is coarse, a few ms: a same-size rewrite within one tick of the entry's
  making would go unseen, as by any tool that trusts stat, make included.)

Only the CPU provider is cached: other providers optimise for their device when the session is built.
The folder keeps the MAX_ENTRIES most recently used entries (a hit refreshes its entry's mtime); an older
entry of the same model file goes as soon as its successor is written.
``VOCALEX_SESSION_CACHE=0`` turns the cache off (the session is then built from the model file every time);
``VOCALEX_SESSION_CACHE=<folder>`` puts it elsewhere (the tests keep it out of the user's cache that way).
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from .integrity import WEIGHTS_KEY

CACHE_ENV = "VOCALEX_SESSION_CACHE"
SUBFOLDER = "sessions"   # under the per-user cache folder (engine/registry.py)
MAX_ENTRIES = 8          # a model is ~10 MB (the bundled one) to ~80 MB (hq)
CACHED_PROVIDER = "CPUExecutionProvider"
SUFFIX = ".onnx"


class CacheEntry:
    """Where one model file's optimised graph lives for this machine and ONNX Runtime build.

    File name: ``<model key>-<version key>.<sha256 of the file>.onnx``. The model key names the model file
    (its resolved path); the version key its inode, size, times, stamped checksum, ONNX Runtime version and CPU,
    so an older entry of the same model file is recognised (and removed) when a new one is written.
    """

    def __init__(self, folder: Path, model_key: str, version_key: str):
        self.folder = folder
        self.model_key = model_key
        self.prefix = f"{model_key}-{version_key}."

    def load(self) -> bytes | None:
        """The verified optimised graph, or None (no entry, unreadable, or damaged: a damaged one is removed)."""
        try:
            names = [n for n in os.listdir(self.folder) if n.startswith(self.prefix) and n.endswith(SUFFIX)]
        except OSError:
            return None
        for name in names:
            path = self.folder / name
            digest = name[len(self.prefix):-len(SUFFIX)]
            try:
                data = path.read_bytes()
            except OSError:
                continue  # removed by another process meanwhile
            if hashlib.sha256(data).hexdigest() == digest:
                try:
                    os.utime(path)  # most recently used: the last to be evicted
                except OSError:
                    pass
                return data
            _remove(path)
        return None

    def forget(self) -> None:
        """Remove this entry (ONNX Runtime refused it)."""
        try:
            names = [n for n in os.listdir(self.folder) if n.startswith(self.prefix)]
        except OSError:
            return
        for name in names:
            _remove(self.folder / name)

    def scratch(self) -> Path | None:
        """A fresh path in the cache folder for ONNX Runtime to write the optimised graph to, None if the folder
        cannot be made (a read-only home: the session is then built without saving)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            return None
        if not os.access(self.folder, os.W_OK):
            return None
        return self.folder / f".{self.prefix}{os.getpid()}.{id(self)}.tmp"

    def commit(self, scratch: Path) -> None:
        """Name the graph ONNX Runtime wrote to ``scratch`` by its sha256; drop older entries of the same model
        file. Failures are silent: the cache only saves time, the session in hand is already built."""
        try:
            digest = hashlib.sha256(scratch.read_bytes()).hexdigest()
            os.replace(scratch, self.folder / f"{self.prefix}{digest}{SUFFIX}")
        except OSError:
            _remove(scratch)
            return
        self._prune()

    def _prune(self) -> None:
        """Remove this model file's older entries, scratch files a killed process left, and all but the
        MAX_ENTRIES most recently used entries."""
        try:
            names = os.listdir(self.folder)
        except OSError:
            return
        aged = []
        for name in names:
            path = self.folder / name
            if name.startswith(self.model_key + "-") and not name.startswith(self.prefix):
                _remove(path)  # this model file's older entry
                continue
            try:
                st = path.stat()
            except OSError:
                continue
            if name.startswith("."):
                if name.endswith(".tmp") and st.st_mtime < time.time() - 3600:
                    _remove(path)  # an hour old: its writer is gone
            elif name.endswith(SUFFIX):
                aged.append((st.st_mtime, name))
        for _, name in sorted(aged, reverse=True)[MAX_ENTRIES:]:
            _remove(self.folder / name)


def entry_for(path: Path, meta: dict[str, str], ort_provider: str) -> CacheEntry | None:
    """The cache entry of a model file (its header metadata ``meta``), or None when it is not cached:
    another provider, an unstamped file, the cache turned off, or the file cannot be stat'ed."""
    setting = os.environ.get(CACHE_ENV, "")
    if ort_provider != CACHED_PROVIDER or setting == "0":
        return None
    stamp = meta.get(WEIGHTS_KEY)
    if stamp is None:
        return None
    import onnxruntime as ort

    from .registry import cache_dir

    try:
        real = os.path.realpath(path)
        st = os.stat(real)
    except OSError:
        return None
    model_key = _short(real)
    # inode and ctime too: a file replaced by rename, or rewritten with its mtime set back, is another version
    version_key = _short(f"{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}\0{stamp}\0"
                         f"{ort.__version__}\0{cpu_identity()}")
    folder = Path(setting).expanduser() if setting else cache_dir() / SUBFOLDER
    return CacheEntry(folder, model_key, version_key)


def cpu_identity() -> str:
    """The CPU as far as the optimised layout depends on it: model name and feature flags (Linux), else
    the platform's processor and machine strings."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            first = f.read(1 << 16).split("\n\n", 1)[0]  # the first processor's block: all cores are alike
        keep = [line for line in first.splitlines()
                if line.split(":", 1)[0].strip() in ("vendor_id", "model name", "flags", "Features", "CPU part")]
        if keep:
            return "\n".join(keep)
    except OSError:
        pass
    import platform

    return f"{platform.machine()} {platform.processor()}"


def _short(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
