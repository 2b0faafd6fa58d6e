"""What `vocalex train` says on stderr while it runs.

One line per message with the time in front, never the source location rich's ``Console.log`` appends
(``train.py:376``) and never re-wrapped to the terminal's width (a log copied from a narrow terminal stays one
line per message). While the clips are decoded (a minute for the 80 MUSDB18 previews the first time) a
progress line says how far it is: rewritten in place on a terminal, every tenth of the way otherwise.
"""

from __future__ import annotations

import sys
import time


class TrainConsole:
    def __init__(self, enabled: bool = True, stream=None):
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self._shown = -1

    def log(self, message: str) -> None:
        if self.enabled:
            print(f"{time.strftime('%H:%M:%S')} {message}", file=self.stream, flush=True)

    def preparing(self, done: int, total: int, what: str) -> None:
        """Progress of decoding ``total`` tracks of ``what`` (``done`` of them so far)."""
        if not self.enabled or total <= 0:
            return
        line = f"{time.strftime('%H:%M:%S')} data: preparing clips of {what}: {done}/{total}"
        if self.stream.isatty():
            print("\r" + line, end="\n" if done >= total else "", file=self.stream, flush=True)
            return
        tenth = 10 * done // total
        if tenth > self._shown or done >= total:
            self._shown = -1 if done >= total else tenth
            print(line, file=self.stream, flush=True)
