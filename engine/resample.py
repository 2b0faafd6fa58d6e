"""Streaming sample-rate conversion between a host (file/device) rate and the model rate.

A thin owner of ``soxr.ResampleStream``. soxr's output is time-aligned with its
input (output sample n is input time n / out_rate) and chunk-size invariant,
but it withholds recent output while its filter waits for more input. The
engine needs a bound on that hold-back to promise a fixed latency, so
:func:`measure_holdback` probes it once per (rates, channels) with one-sample
chunks, the worst case (larger chunks withhold less; measured for 1 .. 8193).
"""

from __future__ import annotations

import functools

import numpy as np

QUALITY = "HQ"           # soxr's default: 20-bit pass band, -110 dB alias rejection
_PROBE_SAMPLES = 8192    # the hold-back settles within a few hundred input samples


class StreamResampler:
    """soxr in streaming mode: float32 (n, channels) in -> float32 (m, channels) out, m varies."""

    def __init__(self, in_rate: int, out_rate: int, channels: int):
        import soxr

        self.in_rate, self.out_rate, self.channels = int(in_rate), int(out_rate), int(channels)
        self._stream = soxr.ResampleStream(self.in_rate, self.out_rate, self.channels, dtype="float32", quality=QUALITY)
        self.holdback = measure_holdback(self.in_rate, self.out_rate, self.channels)

    def process(self, x: np.ndarray) -> np.ndarray:
        """x: float32 C-contiguous (n, channels) -> float32 (m, channels), as many samples as are final."""
        return self._stream.resample_chunk(x)

    def reset(self) -> None:
        self._stream.clear()


@functools.lru_cache(maxsize=None)
def measure_holdback(in_rate: int, out_rate: int, channels: int) -> float:
    """Largest shortfall, in output samples, of soxr's emitted count behind t * out_rate / in_rate.

    Probed with one-sample chunks (the worst case) on a scratch resampler.
    """
    import soxr

    stream = soxr.ResampleStream(in_rate, out_rate, channels, dtype="float32", quality=QUALITY)
    one = np.zeros((1, channels), dtype=np.float32)
    ratio = out_rate / in_rate
    emitted, worst = 0, 0.0
    for t in range(1, _PROBE_SAMPLES + 1):
        emitted += len(stream.resample_chunk(one))
        worst = max(worst, t * ratio - emitted)
    return worst
