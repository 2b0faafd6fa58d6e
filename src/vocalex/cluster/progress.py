"""Progress of a catalogue run, one plain line at a time: files done / failed / left, audio hours per hour, ETA.

Plain lines (not a bar): a catalogue run lives for hours in a log file or a terminal multiplexer, where a
line every ``every`` seconds reads better than a redrawn bar. Errors are printed even with ``quiet``.
"""

from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    def __init__(self, total: int, quiet: bool = False, every: float = 10.0, stream=None):
        self.total, self.quiet, self.every = total, quiet, every
        self.stream = stream if stream is not None else sys.stderr
        self.done = self.failed = 0
        self.audio_seconds = 0.0
        self.start = self._last = time.monotonic()

    @property
    def left(self) -> int:
        return self.total - self.done - self.failed

    def say(self, line: str, always: bool = False) -> None:
        if always or not self.quiet:
            print(f"vocalex batch: {line}", file=self.stream, flush=True)

    def file_done(self, audio_seconds: float) -> None:
        self.done += 1
        self.audio_seconds += audio_seconds
        self.tick()

    def file_failed(self, source: str, error: str) -> None:
        self.failed += 1
        self.say(f"error: {source}: {error}", always=True)
        self.tick()

    def rates(self) -> tuple[float, float | None]:
        """(audio hours per hour of wall time, seconds left or None before the first file)."""
        wall = max(time.monotonic() - self.start, 1e-9)
        finished = self.done + self.failed
        eta = wall / finished * self.left if finished else None
        return self.audio_seconds / wall, eta

    def line(self) -> str:
        speed, eta = self.rates()
        return (f"{self.done} done, {self.failed} failed, {self.left} left of {self.total}; "
                f"{speed:.1f} h of audio per hour; ETA {_clock(eta) if eta is not None else '?'}")

    def tick(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= self.every:
            self._last = now
            self.say(self.line())
