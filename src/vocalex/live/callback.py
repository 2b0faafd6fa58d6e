"""The audio callback: what PortAudio's thread runs every block, and nothing else.

It only copies: the input block into the input ring, the due output block out of the output ring (or the
delayed dry input, or silence, where the worker is late), the delivered block into the played ring; and it
counts status flags, late blocks and its own call times. It never allocates an audio buffer, takes no lock,
touches no file and runs no inference (live/realtime.py, "Threads and what each may do").
"""

from __future__ import annotations

import threading
import time

import numpy as np

from .ringbuffer import SpscRing

STATUS_FLAGS = ("input_overflow", "input_underflow", "output_overflow", "output_underflow")


class AudioCallback:
    """PortAudio's duplex callback over the engine's three rings (``callback(indata, outdata, frames, ...)``), or,
    with a file source, the output-only one (:meth:`from_file`) that takes its input block from the source.

    ``dry_offset``: how far behind the input writer the output plays (headroom + algorithmic latency), where a
    late block's delayed dry input is read; ``late_dry``: play that (True) or silence (False) for a late block.
    """

    def __init__(self, in_ring: SpscRing, out_ring: SpscRing, played_ring: SpscRing, stats, dry_offset: int,
                 late_dry: bool, source=None, blocksize: int = 256, channels: int = 2):
        self._in_ring, self._out_ring, self._played_ring = in_ring, out_ring, played_ring
        self.stats = stats
        self._dry_offset = dry_offset
        self._late_dry = late_dry  # a plain attribute: read every block
        self.times = np.zeros(8192, dtype=np.float64)  # perf_counter() of the last 8192 calls
        self.late_at = np.zeros(256, dtype=np.int64)  # callback index of the first 256 late blocks
        self.tid = None  # PortAudio's audio thread, known once it has called back
        # A file played as the input (file_source.FileSource): its block is filled from the source's ring.
        self.source = source
        self._source_block = np.zeros((max(blocksize, 8192), channels), dtype=np.float32)

    def __call__(self, indata, outdata, frames, time_info, status):
        stats = self.stats
        self.times[stats.callbacks % 8192] = time.perf_counter()
        if self.tid is None:
            self.tid = threading.get_native_id()
        if status:
            flags = stats.flags
            xrun = False
            for name in STATUS_FLAGS:
                if getattr(status, name):
                    flags[name] += 1
                    xrun = True
            if status.priming_output:
                flags["priming_output"] += 1
            if xrun:
                stats.xruns += 1
        self._in_ring.write(indata)
        out_ring = self._out_ring
        position = out_ring.read_count
        ready = out_ring.write_count - position
        if ready >= frames:
            out_ring.copy_from(position, outdata)
        else:
            ready = max(ready, 0)
            if ready:
                out_ring.copy_from(position, outdata[:ready])
            if self._late_dry:
                self._in_ring.copy_from(position + ready - self._dry_offset, outdata[ready:])
            else:
                outdata[ready:] = 0.0
            if stats.late_blocks < len(self.late_at):
                self.late_at[stats.late_blocks] = stats.callbacks
            stats.late_blocks += 1
        out_ring.read_count = position + frames
        self._played_ring.write(outdata)
        stats.callbacks += 1

    def file_callback(self, outdata, frames, time_info, status):
        """Output-only stream: the input block comes from the file source (a copy, never a wait)."""
        block = self._source_block[:frames]
        self.source.read_into(block)
        self(block, outdata, frames, time_info, status)

    def last_time(self) -> float | None:
        """perf_counter() of the latest call, None before the first."""
        n = self.stats.callbacks
        return self.times[(n - 1) % len(self.times)] if n else None

    def intervals(self) -> np.ndarray:
        """Seconds between consecutive callbacks, float64 (n - 1,), over the last 8192 callbacks."""
        n = self.stats.callbacks
        times = self.times
        if n <= len(times):
            t = times[:n]
        else:
            start = n % len(times)
            t = np.concatenate([times[start:], times[:start]])
        return np.diff(t)
