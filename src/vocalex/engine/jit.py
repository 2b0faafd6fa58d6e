"""numba kernels compiled (or loaded from numba's cache) on first call, not on import.

Importing numba costs about 0.3-0.5 s and rocket-fft (np.fft inside kernels)
pulls in scipy.fft for as much again; loading a cached kernel costs more on
its first call. Only the live / stream path needs per-hop kernels: the
offline path runs on numpy (engine/npkernels.py) and ``vocalex --help`` /
``info`` run nothing. So the kernels are declared with :func:`njit` from here,
which returns a :class:`LazyKernel`: numba is imported and the function
compiled (``cache=True``: once per install, then loaded) the first time it is
called.

The first compile after an install takes several seconds; when a kernel's
cache holds nothing for this numba version and source, one line says so on
stderr before compiling (once per process), so a first run does not look hung.
"""

from __future__ import annotations

import functools
import sys
import threading

COMPILING_LINE = "vocalex: compiling the engine's kernels once (first run after install, about 10 s) ..."

_lock = threading.RLock()
_announced = False


def njit(fft: bool = False, **options):
    """Decorator: like numba.njit(**options), but nothing is imported or compiled until the first call.

    fft=True: the kernel calls np.fft, which numba learns from rocket-fft (imported then, not before).
    """

    def wrap(py_func):
        return LazyKernel(py_func, options, fft)

    return wrap


class LazyKernel:
    """A numba kernel that imports numba and compiles (or loads its cache) on the first call."""

    def __init__(self, py_func, options, fft=False):
        self.py_func = py_func
        self._options = options
        self._fft = fft
        self._dispatcher = None
        functools.update_wrapper(self, py_func)

    def __call__(self, *args):
        dispatcher = self._dispatcher
        if dispatcher is None:
            dispatcher = self.dispatcher()
        return dispatcher(*args)

    def dispatcher(self):
        """The numba dispatcher (created on first use)."""
        with _lock:
            if self._dispatcher is None:
                import numba

                if self._fft:
                    import rocket_fft  # noqa: F401  (registers np.fft for numba; pulls in scipy.fft)

                dispatcher = numba.njit(**self._options)(self.py_func)
                if self._options.get("cache") and cache_is_cold(dispatcher):
                    announce_compiling()
                self._dispatcher = dispatcher
        return self._dispatcher


def cache_is_cold(dispatcher) -> bool:
    """True when numba's on-disk cache holds no compiled version of this kernel for this source and numba.

    Reads numba's index file through its cache object (internal API; if it
    ever changes, this says "warm" and the only loss is the line).
    """
    try:
        return not dispatcher._cache._cache_file._load_index()
    except Exception:
        return False


def announce_compiling() -> None:
    """Print COMPILING_LINE on stderr, once per process."""
    global _announced
    with _lock:
        if not _announced:
            _announced = True
            print(COMPILING_LINE, file=sys.stderr, flush=True)
