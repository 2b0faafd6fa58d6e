"""The live worker's job: input ring -> StreamSeparator -> stem gains -> output ring, levels, recording.

:class:`SeparationWorker` runs in the worker thread that :class:`vocalex.live.realtime.LiveEngine` starts
(the engine keeps the audio callback, the device and the thread's life). Every buffer it needs is made
here once: the separator writes its stems into them (``StreamSeparator.process(block, out=...)``), so
no audio buffer is allocated per block. The ring positions and the resync rule are the engine's
(module docstring of live/realtime.py): ``output write count == input position + headroom`` holds across
a resync, which writes silence for the input it skips.
"""

from __future__ import annotations

import time

import numpy as np


class SeparationWorker:
    """Turns the input ring's frames into the output ring's, one chunk of whatever has arrived at a time.

    stream: process(block, out=) / reset(); rings: live.ringbuffer.SpscRing (input, output, played);
    stats: the engine's LiveStats (this side updates process_calls, processed_frames, compute_seconds,
    resyncs, input_peak, output_peak); gains: linear (vocals, accompaniment); recorder: a LiveRecorder or None.
    """

    def __init__(self, stream, in_ring, out_ring, played_ring, stats, gains, recorder, blocksize: int, samplerate: int,
                 resync_lag: int):
        channels = in_ring.channels
        self.stream = stream
        self._aligned = getattr(stream, "block", None)  # StreamConfig.block of the stream, if it has one
        self._in_ring, self._out_ring, self._played_ring = in_ring, out_ring, played_ring
        self.stats = stats
        self.gains = gains
        self.recorder = recorder
        self.blocksize = blocksize
        self.resync_lag = resync_lag
        self._max_chunk = resync_lag + 8 * blocksize
        self._in_scratch = np.zeros((self._max_chunk, channels), dtype=np.float32)
        self._mix_scratch = np.zeros((self._max_chunk, channels), dtype=np.float32)
        self._stem_scratch = {stem: np.zeros((self._max_chunk, channels), dtype=np.float32)
                              for stem in ("vocals", "accompaniment")}
        self._played_scratch = np.zeros((played_ring.capacity, channels), dtype=np.float32)
        self._zeros = np.zeros((self._max_chunk, channels), dtype=np.float32)
        self._compute_times = np.zeros(4096, dtype=np.float64)   # seconds per process() call
        self._compute_frames = np.zeros(4096, dtype=np.int64)    # frames of that call
        self._peak_decay_per_frame = 10 ** (-20 / 20 / samplerate)  # peaks fall 20 dB per second

    def write_silence(self, n: int) -> None:
        while n > 0:
            m = min(n, len(self._zeros))
            self._out_ring.write(self._zeros[:m])
            n -= m

    def resync(self) -> None:
        """Skip all pending input (sustained overload): silence for its output, separator reset."""
        in_ring = self._in_ring
        target = in_ring.write_count
        skipped = target - in_ring.read_count
        if self.recorder is not None:
            self.record_input_until(target)
        in_ring.skip_to(target)
        self.write_silence(skipped)
        self.stream.reset()
        self.stats.resyncs += 1

    def record_input_until(self, end: int) -> None:
        """Record input frames [read_count, end) without processing them (they stay unconsumed).

        Frames the producer has already overwritten are lost; the recorder
        writes silence for that gap.
        """
        ring = self._in_ring
        position = max(ring.read_count, ring.write_count - ring.capacity + self.blocksize)
        while position < end:
            n = min(end - position, self._max_chunk)
            block = self._in_scratch[:n]
            ring.copy_from(position, block)
            if not ring.lapped(position):
                self.recorder.write("input", position, block)
            position += n

    def process_pending(self) -> bool:
        """Process all input that has arrived; False when there was none."""
        in_ring, out_ring, stats = self._in_ring, self._out_ring, self.stats
        available = in_ring.available()
        if available <= 0:
            return False
        if in_ring.lapped(in_ring.read_count) or out_ring.read_count - out_ring.write_count > self.resync_lag:
            self.resync()
            return True
        n = min(available, self._max_chunk)
        if self._aligned is not None:  # a stream planned for whole device blocks (StreamConfig.block)
            n -= n % self._aligned
            if n == 0:
                return False
        block = self._in_scratch[:n]
        position = in_ring.read(block)
        if in_ring.lapped(position):  # overwritten while we copied
            self.resync()
            return True
        t0 = time.perf_counter()
        vocals, accompaniment = self._stem_scratch["vocals"][:n], self._stem_scratch["accompaniment"][:n]
        self.stream.process(block, out={"vocals": vocals, "accompaniment": accompaniment})
        mix = self._mix_scratch[:n]
        gv, ga = self.gains
        np.multiply(accompaniment, ga, out=mix)
        if gv != 0.0:
            np.multiply(vocals, gv, out=vocals)
            mix += vocals
        dt = time.perf_counter() - t0
        out_ring.write(mix)
        i = stats.process_calls % len(self._compute_times)
        self._compute_times[i] = dt
        self._compute_frames[i] = n
        stats.process_calls += 1
        stats.processed_frames += n
        stats.compute_seconds += dt
        decay = self._peak_decay_per_frame ** n
        stats.input_peak = max(float(np.max(np.abs(block))), stats.input_peak * decay)
        if self.recorder is not None:
            self.recorder.write("input", position, block)
        return True

    def drain_played(self) -> None:
        """Move what the callback played into the output level and the recording."""
        ring = self._played_ring
        available = ring.available()
        if available <= 0:
            return
        if ring.lapped(ring.read_count):  # worker stalled for seconds: those frames are lost for the recording
            ring.skip_to(ring.write_count - ring.capacity // 2)
            available = ring.available()
        block = self._played_scratch[:available]
        position = ring.read(block)
        decay = self._peak_decay_per_frame ** available
        self.stats.output_peak = max(float(np.max(np.abs(block))), self.stats.output_peak * decay)
        if self.recorder is not None:
            self.recorder.write("output", position, block)

    def warm_up(self, frames: int) -> None:
        """Run the separator over ``frames`` of silence, then reset it.

        The first process() calls compile numba kernels and let ONNX Runtime
        allocate its arenas, which takes far longer than a block; done before
        the stream opens, it cannot make the first blocks late.
        """
        block = self._zeros[: self.blocksize]
        for _ in range(-(-frames // self.blocksize)):
            self.stream.process(block)
        self.stream.reset()

    def compute_times(self) -> tuple[np.ndarray, np.ndarray]:
        """(seconds, frames) of the recent process() calls, float64 and int64 (n,)."""
        n = min(self.stats.process_calls, len(self._compute_times))
        return self._compute_times[:n].copy(), self._compute_frames[:n].copy()
