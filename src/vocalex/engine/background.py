"""One function call run in a thread of its own, its result collected later.

The engine overlaps work two ways: the ONNX Runtime session of a file run is
built while the first file is decoded (engine/model.py), and offline mode runs
the model on one batch while the STFT work of the next goes on (engine/core.py).
Both need one call in flight and its result or exception back, nothing more.
concurrent.futures does this too, but its import (logging, queue: ~9 ms) is
paid by every one-file `vocalex separate`; a thread and an Event are enough.
"""

from __future__ import annotations

import threading


class InThread:
    """``fn()`` running in a daemon thread; ``result()`` waits for its value or raises its exception."""

    def __init__(self, fn, name: str = "vocalex-background"):
        self._done = threading.Event()
        self._value = self._error = None

        def run():
            try:
                self._value = fn()
            except BaseException as exc:  # delivered to whoever waits
                self._error = exc
            finally:
                self._done.set()

        threading.Thread(target=run, name=name, daemon=True).start()

    def result(self):
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value

    def exception(self) -> BaseException | None:
        """Wait for the call to end; its exception, or None."""
        self._done.wait()
        return self._error
