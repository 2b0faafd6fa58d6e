"""Streaming STFT analysis and overlap-add synthesis (numba, state allocated once).

Framing. Both objects work on a continuous sample stream, one frame per ``hop``
new samples. Frame ``k`` covers the stream samples ``[(k+1)*hop - n_fft,
(k+1)*hop)`` (samples before the stream start are zeros), so it is complete as
soon as sample ``(k+1)*hop - 1`` has arrived. The synthesiser overlap-adds
frame ``k`` at the same position and hands out a hop of finished samples per
frame; its output stream starts at the first sample of frame 0, i.e. it is the
input delayed by ``n_fft - hop`` samples (the algorithmic delay of any
STFT/ISTFT loop; DeepFilterNet states the same).

Windows. Periodic Hann for analysis and synthesis; the overlap-add is divided
by the accumulated synthesis weight ``sum_k w[i + k*hop]**2`` (periodic in
``i`` with period ``hop``; 1.5 for Hann 1024/256), which must be > 0, as in
demucs' ``apply.py``. With a unit mask the loop reconstructs its input.

FFTs run inside the numba kernels through rocket-fft (measured on this
machine: rfft of (2, 1024) 8 us inside numba vs 19 us for numpy.fft called
from Python; irfft 7 us vs 16 us). The FFT library allocates its result; every
other buffer (rings, frame scratch, accumulators) is allocated once here.
"""

from __future__ import annotations

import numpy as np

from .errors import UsageError
from .jit import njit  # numba (and rocket-fft, which registers np.fft for it) load on the first call


def hann_periodic(n_fft: int) -> np.ndarray:
    """The periodic Hann window, float64 (n_fft,): w[i] = sin^2(pi i / n_fft)."""
    return np.sin(np.pi * np.arange(n_fft) / n_fft) ** 2


def overlap_weight(window: np.ndarray, hop: int) -> np.ndarray:
    """Accumulated synthesis weight, float64 (hop,): sum over frames of window**2 at each hop phase."""
    n_fft = len(window)
    weight = np.zeros(hop)
    for start in range(0, n_fft, hop):
        seg = window[start:start + hop] ** 2
        weight[: len(seg)] += seg
    # A zero would make the overlap-add divide by zero: the hop is too large for this window.
    assert np.all(weight > 0), "overlap-add weight has zeros: hop too large for the window"
    return weight


def check_stft_args(n_fft: int, hop: int, channels: int) -> None:
    if n_fft < 2 or n_fft % 2:
        raise UsageError(f"n_fft must be an even number >= 2, got {n_fft}")
    if not 1 <= hop <= n_fft // 2:
        raise UsageError(f"hop must be in 1..n_fft/2 = {n_fft // 2} for a Hann window, got {hop}")
    if channels < 1:
        raise UsageError(f"channels must be at least 1, got {channels}")


@njit(cache=True, nogil=True, fft=True)
def _analyse(x, ring, state, window, scratch, out):
    """Consume samples of x until ``out`` is full or x is exhausted.

    x: float (n_samples, channels). ring: float64 (channels, n_fft), the last
    n_fft samples (circular, write index state[0]); state[1]: samples since the
    last frame. scratch: float32 (max_frames * channels, n_fft): single precision
    halves the FFT's time and the memory traffic of every spectrum after it, and
    its rounding (~1e-7) sits far below what a mask changes.
    out: complex64 (max_frames, channels, n_freqs). Returns (consumed, frames).
    """
    n_samples, channels = x.shape
    n_fft = ring.shape[1]
    hop = state[2]
    max_frames = out.shape[0]
    pos = state[0]
    since = state[1]
    frames = 0
    consumed = 0
    while consumed < n_samples and frames < max_frames:
        for c in range(channels):
            ring[c, pos] = x[consumed, c]
        pos += 1
        if pos == n_fft:
            pos = 0
        since += 1
        consumed += 1
        if since == hop:
            since = 0
            # pos is the oldest sample now: unroll the ring into a windowed frame.
            for c in range(channels):
                row = frames * channels + c
                for i in range(n_fft):
                    j = pos + i
                    if j >= n_fft:
                        j -= n_fft
                    scratch[row, i] = ring[c, j] * window[i]
            frames += 1
    state[0] = pos
    state[1] = since
    if frames > 0:
        spec = np.fft.rfft(scratch[: frames * channels])
        for f in range(frames):
            for c in range(channels):
                out[f, c, :] = spec[f * channels + c]
    return consumed, frames


@njit(cache=True, nogil=True, fft=True)
def _synthesise(spec, acc, state, window, inv_weight, out):
    """Overlap-add frames and emit one finished hop per frame.

    spec: complex64 (n_frames, channels, n_freqs). acc: float64 (channels,
    n_fft) circular accumulator, read index state[0]. out: float32
    (n_frames * hop, channels) receives the finished samples.
    """
    n_frames, channels, n_freqs = spec.shape
    n_fft = acc.shape[1]
    hop = inv_weight.shape[0]
    pos = state[0]
    frames_time = np.fft.irfft(spec.reshape(n_frames * channels, n_freqs), n_fft)
    for f in range(n_frames):
        for c in range(channels):
            row = f * channels + c
            for i in range(n_fft):
                j = pos + i
                if j >= n_fft:
                    j -= n_fft
                acc[c, j] += frames_time[row, i] * window[i]
        # The oldest hop of the accumulator has received its last frame.
        for i in range(hop):
            j = pos + i
            if j >= n_fft:
                j -= n_fft
            for c in range(channels):
                out[f * hop + i, c] = acc[c, j] * inv_weight[i]
                acc[c, j] = 0.0
        pos += hop
        if pos >= n_fft:
            pos -= n_fft
    state[0] = pos


class StftAnalyzer:
    """Streaming STFT: one complex frame (channels, n_fft//2+1) per ``hop`` input samples."""

    def __init__(self, n_fft: int, hop: int, channels: int, max_frames: int):
        check_stft_args(n_fft, hop, channels)
        self.n_fft, self.hop, self.channels = n_fft, hop, channels
        self.n_freqs = n_fft // 2 + 1
        self.max_frames = max_frames
        self.window = hann_periodic(n_fft)
        self._ring = np.zeros((channels, n_fft))
        self._state = np.array([0, 0, hop], dtype=np.int64)
        self._scratch = np.zeros((max_frames * channels, n_fft), dtype=np.float32)

    def push(self, x: np.ndarray, out: np.ndarray) -> tuple[int, int]:
        """x: float (n, channels); out: complex64 (k <= max_frames, channels, n_freqs).

        Consumes input until ``out`` holds k frames or x is exhausted; returns
        (samples consumed, frames written).
        """
        return _analyse(x, self._ring, self._state, self.window, self._scratch, out)

    def reset(self) -> None:
        self._ring[:] = 0.0
        self._state[:2] = 0


class OlaSynthesizer:
    """Streaming inverse STFT: overlap-adds frames, emits ``hop`` finished samples per frame."""

    def __init__(self, n_fft: int, hop: int, channels: int):
        check_stft_args(n_fft, hop, channels)
        self.n_fft, self.hop, self.channels = n_fft, hop, channels
        self.window = hann_periodic(n_fft)
        self.inv_weight = 1.0 / overlap_weight(self.window, hop)
        self._acc = np.zeros((channels, n_fft))
        self._state = np.zeros(1, dtype=np.int64)

    def push(self, spec: np.ndarray, out: np.ndarray) -> None:
        """spec: complex64 (n_frames, channels, n_freqs) -> out: float32 (n_frames * hop, channels)."""
        _synthesise(spec, self._acc, self._state, self.window, self.inv_weight, out)

    def reset(self) -> None:
        self._acc[:] = 0.0
        self._state[:] = 0
