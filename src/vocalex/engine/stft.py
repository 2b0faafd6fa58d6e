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
by the accumulated weight ``sum_k a[i + k*hop] * s[i + k*hop]`` (periodic in
``i`` with period ``hop``; 1.5 for Hann 1024/256), which must be > 0, as in
demucs' ``apply.py``. With a unit mask the loop reconstructs its input.

Low-delay synthesis (:func:`low_delay_windows`). The STFT/ISTFT delay is the
synthesis window's support minus a hop: 768 samples (17.4 ms) for Hann
1024/256, most of a live path's budget. An asymmetric pair in the manner of
Mauler & Martin (2007) keeps the long analysis window (frequency resolution)
but synthesises from the newest 2 x hop samples of each frame only, so the
delay is one hop (5.8 ms). Here the pair feeds the masking only: the model
still sees Hann magnitudes, as it was trained.

FFTs run inside the numba kernels through rocket-fft (measured on this
machine: rfft of (2, 1024) 8 us inside numba vs 19 us for numpy.fft called
from Python; irfft 7 us vs 16 us). The FFT library allocates its result; every
other buffer (rings, frame scratch, accumulators) is allocated once here.
"""

from __future__ import annotations

import numpy as np

from vocalex.base.errors import UsageError
from .jit import njit  # numba (and rocket-fft, which registers np.fft for it) load on the first call


def hann_periodic(n_fft: int) -> np.ndarray:
    """The periodic Hann window, float64 (n_fft,): w[i] = sin^2(pi i / n_fft)."""
    return np.sin(np.pi * np.arange(n_fft) / n_fft) ** 2


def overlap_weight(window: np.ndarray, hop: int, synthesis: np.ndarray | None = None) -> np.ndarray:
    """Accumulated weight, float64 (hop,): sum over frames of analysis x synthesis window at each hop phase.

    window: analysis window (n_fft,); synthesis: the synthesis window (default: the same window).
    """
    n_fft = len(window)
    product = window * (window if synthesis is None else synthesis)
    weight = np.zeros(hop)
    for start in range(0, n_fft, hop):
        seg = product[start:start + hop]
        weight[: len(seg)] += seg
    # A zero would make the overlap-add divide by zero: the hop is too large for this window.
    assert np.all(weight > 0), "overlap-add weight has zeros: hop too large for the window"
    return weight


def low_delay_windows(n_fft: int, hop: int, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray, int]:
    """An asymmetric analysis/synthesis pair with an STFT/ISTFT delay of one hop.

    Returns (analysis (n_fft,), synthesis (n_fft,), support): the analysis
    window rises as the square root of a Hann of length 2 (n_fft - hop) and
    falls as the square root of a Hann of length 2 hop; the synthesis window is
    zero but for the newest ``support`` = 2 hop samples, where analysis x
    synthesis is a Hann of length 2 hop, which overlap-adds to exactly 1 at this
    hop. Needs hop <= n_fft / 2.

    shift: a sub-sample delay (in samples) that the frames receive as a linear
    phase before synthesis (the resampling path's fractional alignment): it
    moves the analysis window too, so the synthesis window is made against the
    analysis window evaluated ``shift`` samples later, which keeps the product,
    and with it the exact overlap-add, as it is.
    """
    rise, fall = n_fft - hop, hop

    def analysis_at(t):
        # |sin| = sqrt(sin^2): the square roots of the two Hann halves, at any real position t
        return np.where(t < rise, np.abs(np.sin(np.pi * t / (2 * rise))), np.abs(np.sin(np.pi * (t - rise + fall) / (2 * fall))))

    n = np.arange(n_fft, dtype=np.float64)
    analysis = analysis_at(n)
    support = 2 * hop
    synthesis = np.zeros(n_fft)
    target = hann_periodic(support)
    tail = analysis_at(n[n_fft - support:] - shift)
    # Where the analysis window is 0 (its very last sample can be) the product is 0 as well: no division.
    synthesis[n_fft - support:] = np.divide(target, tail, out=np.zeros(support), where=tail > 0)
    return analysis, synthesis, support


def stft_delay(n_fft: int, hop: int, synthesis: str = "hann") -> int:
    """Samples from an input sample to its place in the synthesised stream: the synthesis support minus a hop."""
    return (n_fft if synthesis == "hann" else 2 * hop) - hop


def check_stft_args(n_fft: int, hop: int, channels: int) -> None:
    if n_fft < 2 or n_fft % 2:
        raise UsageError(f"n_fft must be an even number >= 2, got {n_fft}")
    if not 1 <= hop <= n_fft // 2:
        raise UsageError(f"hop must be in 1..n_fft/2 = {n_fft // 2} for a Hann window, got {hop}")
    if channels < 1:
        raise UsageError(f"channels must be at least 1, got {channels}")


@njit(cache=True, nogil=True, fft=True)
def _analyse(x, ring, state, window, window2, scratch, out, out2):
    """Consume samples of x until ``out`` is full or x is exhausted.

    x: float (n_samples, channels). ring: float64 (channels, n_fft), the last
    n_fft samples (circular, write index state[0]); state[1]: samples since the
    last frame. scratch: float32 (2 * max_frames * channels, n_fft): single precision
    halves the FFT's time and the memory traffic of every spectrum after it, and
    its rounding (~1e-7) sits far below what a mask changes.
    out: complex64 (max_frames, channels, n_freqs). window2: a second analysis
    window (n_fft,) whose spectra go to out2 (same shape as out), or an empty
    array for none. Returns (consumed, frames).
    """
    n_samples, channels = x.shape
    n_fft = ring.shape[1]
    hop = state[2]
    max_frames = out.shape[0]
    two = window2.shape[0] == n_fft
    rows2 = max_frames * channels  # second window's frames sit after the first's in scratch
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
                    if two:
                        scratch[rows2 + row, i] = ring[c, j] * window2[i]
            frames += 1
    state[0] = pos
    state[1] = since
    if frames > 0:
        spec = np.fft.rfft(scratch[: frames * channels])
        for f in range(frames):
            for c in range(channels):
                out[f, c, :] = spec[f * channels + c]
        if two:
            spec2 = np.fft.rfft(scratch[rows2: rows2 + frames * channels])
            for f in range(frames):
                for c in range(channels):
                    out2[f, c, :] = spec2[f * channels + c]
    return consumed, frames


@njit(cache=True, nogil=True, fft=True)
def _synthesise(spec, acc, state, window, inv_weight, out):
    """Overlap-add frames and emit one finished hop per frame.

    spec: complex64 (n_frames, channels, n_freqs). acc: float64 (channels,
    support) circular accumulator, read index state[0]: only the newest
    ``support`` samples of each frame are synthesised (the window is zero
    before them). out: float32 (n_frames * hop, channels) receives the finished samples.
    """
    n_frames, channels, n_freqs = spec.shape
    n_fft = window.shape[0]
    support = acc.shape[1]
    offset = n_fft - support
    hop = inv_weight.shape[0]
    pos = state[0]
    frames_time = np.fft.irfft(spec.reshape(n_frames * channels, n_freqs), n_fft)
    for f in range(n_frames):
        for c in range(channels):
            row = f * channels + c
            for i in range(support):
                j = pos + i
                if j >= support:
                    j -= support
                acc[c, j] += frames_time[row, offset + i] * window[offset + i]
        # The oldest hop of the accumulator has received its last frame.
        for i in range(hop):
            j = pos + i
            if j >= support:
                j -= support
            for c in range(channels):
                out[f * hop + i, c] = acc[c, j] * inv_weight[i]
                acc[c, j] = 0.0
        pos += hop
        if pos >= support:
            pos -= support
    state[0] = pos


SYNTHESES = ("hann", "low-delay")


class StftAnalyzer:
    """Streaming STFT: one complex frame (channels, n_fft//2+1) per ``hop`` input samples.

    ``second_window`` (n_fft,), if given, is a second analysis window whose
    spectra of the same frames :meth:`push` writes to ``out2``.
    """

    def __init__(self, n_fft: int, hop: int, channels: int, max_frames: int, second_window: np.ndarray | None = None):
        check_stft_args(n_fft, hop, channels)
        self.n_fft, self.hop, self.channels = n_fft, hop, channels
        self.n_freqs = n_fft // 2 + 1
        self.max_frames = max_frames
        self.window = hann_periodic(n_fft)
        self.window2 = np.zeros(0) if second_window is None else np.asarray(second_window, dtype=np.float64)
        self._ring = np.zeros((channels, n_fft))
        self._state = np.array([0, 0, hop], dtype=np.int64)
        self._scratch = np.zeros(((2 if len(self.window2) else 1) * max_frames * channels, n_fft), dtype=np.float32)
        self._no_out2 = np.zeros((1, channels, self.n_freqs), dtype=np.complex64)

    def push(self, x: np.ndarray, out: np.ndarray, out2: np.ndarray | None = None) -> tuple[int, int]:
        """x: float (n, channels); out (and out2): complex64 (k <= max_frames, channels, n_freqs).

        Consumes input until ``out`` holds k frames or x is exhausted; returns
        (samples consumed, frames written).
        """
        return _analyse(x, self._ring, self._state, self.window, self.window2, self._scratch, out,
                        self._no_out2 if out2 is None else out2)

    def reset(self) -> None:
        self._ring[:] = 0.0
        self._state[:2] = 0


class OlaSynthesizer:
    """Streaming inverse STFT: overlap-adds frames, emits ``hop`` finished samples per frame.

    synthesis="hann": Hann analysis and synthesis, delay n_fft - hop.
    synthesis="low-delay": the pair of :func:`low_delay_windows` (frames must
    come from its analysis window), delay ``support - hop`` = one hop; ``shift``
    is the sub-sample delay the frames carry as a linear phase (see there).
    ``delay`` is that STFT/ISTFT delay in samples.
    """

    def __init__(self, n_fft: int, hop: int, channels: int, synthesis: str = "hann", shift: float = 0.0):
        check_stft_args(n_fft, hop, channels)
        if synthesis not in SYNTHESES:
            raise UsageError(f"synthesis must be one of {SYNTHESES}, got {synthesis!r}")
        self.n_fft, self.hop, self.channels = n_fft, hop, channels
        if synthesis == "hann":
            self.analysis_window = self.window = hann_periodic(n_fft)
            self.support = n_fft
        else:
            self.analysis_window, self.window, self.support = low_delay_windows(n_fft, hop, shift)
        # (with a shift the product with the unshifted analysis window is not exactly a Hann: normalise by the
        # shifted product's weight, which is 1, as the frames arrive shifted)
        self.inv_weight = np.ones(hop) if synthesis != "hann" else 1.0 / overlap_weight(self.analysis_window, hop, self.window)
        self.delay = stft_delay(n_fft, hop, synthesis)
        self._acc = np.zeros((channels, self.support))
        self._state = np.zeros(1, dtype=np.int64)

    def push(self, spec: np.ndarray, out: np.ndarray) -> None:
        """spec: complex64 (n_frames, channels, n_freqs) -> out: float32 (n_frames * hop, channels)."""
        _synthesise(spec, self._acc, self._state, self.window, self.inv_weight, out)

    def reset(self) -> None:
        self._acc[:] = 0.0
        self._state[:] = 0
