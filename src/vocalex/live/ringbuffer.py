"""A lock-free single-producer single-consumer ring of float32 audio frames.

The live engine moves audio between the PortAudio callback thread and one
worker thread through these rings. The callback must never wait, so there are
no locks: the storage is a preallocated ``(capacity, channels)`` float32 array
and two monotonic frame counters,

* ``write_count``: frames ever written; only the producer assigns it,
* ``read_count``: frames ever consumed; only the consumer assigns it.

A counter is published (assigned) only after the frames it covers have been
copied, and CPython executes the copy and the assignment in that order for every
thread (the GIL orders them), so a reader that sees ``write_count == w`` finds
frames ``< w`` complete. Frame ``p`` lives in slot ``p % capacity``; it stays
readable until the producer reaches ``p + capacity``.

The producer never waits for the consumer: writing when the ring is full
overwrites the oldest frames. A consumer that fell that far behind detects it
with :meth:`lapped` and resynchronises; this keeps every frame at its fixed
absolute position, which is what keeps the live engine's delay constant.

Counters are Python ints (they never wrap); positions below zero read as
silence, which is how a delayed signal starts.
"""

from __future__ import annotations

import numpy as np


class SpscRing:
    """A ring of ``capacity`` frames x ``channels`` float32 samples, one writer and one reader."""

    def __init__(self, capacity: int, channels: int):
        if capacity < 1:
            raise ValueError(f"ring capacity must be at least 1 frame, got {capacity}")
        if channels < 1:
            raise ValueError(f"ring channels must be at least 1, got {channels}")
        self.capacity = int(capacity)
        self.channels = int(channels)
        self._data = np.zeros((self.capacity, self.channels), dtype=np.float32)
        self.write_count = 0
        self.read_count = 0

    # -- producer side --------------------------------------------------------------------------

    def write(self, block: np.ndarray) -> None:
        """Append block (frames, channels) at ``write_count`` and publish it.

        Never waits; overwrites frames older than ``write_count - capacity``.
        Copies straight into the storage, so it allocates no audio buffer.
        """
        n = block.shape[0]
        if n > self.capacity:
            # only the newest `capacity` frames can survive anyway
            self.write_count += n - self.capacity
            block = block[n - self.capacity:]
            n = self.capacity
        start = self.write_count % self.capacity
        first = min(n, self.capacity - start)
        np.copyto(self._data[start:start + first], block[:first])
        if first < n:
            np.copyto(self._data[:n - first], block[first:])
        self.write_count += n  # publish after the copy

    # -- consumer side --------------------------------------------------------------------------

    def available(self) -> int:
        """Frames written but not yet consumed (may exceed capacity after a lap)."""
        return self.write_count - self.read_count

    def copy_from(self, position: int, out: np.ndarray) -> None:
        """Copy frames [position, position + len(out)) into out (frames, channels); no counter moves.

        Positions below zero read as silence. The caller makes sure the frames
        are still in the ring (``position >= write_count - capacity``) and
        already written; :meth:`lapped` tells afterwards whether the producer
        overwrote them during the copy.
        """
        n = out.shape[0]
        if position < 0:
            silent = min(n, -position)
            out[:silent] = 0.0
            if silent == n:
                return
            out = out[silent:]
            n -= silent
            position = 0
        start = position % self.capacity
        first = min(n, self.capacity - start)
        np.copyto(out[:first], self._data[start:start + first])
        if first < n:
            np.copyto(out[first:], self._data[:n - first])

    def read(self, out: np.ndarray) -> int:
        """Consume len(out) frames from ``read_count`` into out (frames, channels); returns their position."""
        position = self.read_count
        self.copy_from(position, out)
        self.read_count = position + out.shape[0]
        return position

    def read_or_silence(self, out: np.ndarray) -> int:
        """Consume what is there, up to len(out) frames, into out and zero the rest (an audio callback's read:
        it never waits); returns the frames read."""
        n = max(0, min(self.write_count - self.read_count, out.shape[0]))
        if n:
            self.read(out[:n])
        if n < out.shape[0]:
            out[n:] = 0.0
        return n

    def lapped(self, position: int) -> bool:
        """Whether frame ``position`` has been overwritten by the producer (the reader fell a lap behind)."""
        return self.write_count - position > self.capacity

    def skip_to(self, position: int) -> None:
        """Move the read position (consumer only), e.g. forward past frames that are no longer wanted."""
        self.read_count = int(position)
