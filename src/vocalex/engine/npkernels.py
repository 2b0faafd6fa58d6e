"""NumPy twins of the engine's numba kernels, for the offline path.

The live path calls its kernels once per hop (5.8 ms) on a frame or two, where
numba's compiled loops win. Offline separation pushes hundreds of frames per
call, where vectorised numpy is as fast, and it needs neither numba's import
(0.3-0.5 s), rocket-fft's scipy import (as much again) nor the first-call
loading of numba's cache: for a one-file process that start-up was most of its
wall time. Each class / function here computes what its numba twin in
stft.py / stream.py / resample.py computes, with the same framing, state
and results up to float32 rounding (~1e-7: the FFT library, the summation
order; the analysis FFT runs in float64 here, numpy's faster one, and is
rounded to complex64 as the kernel's; overlap-add and resampler accumulators
are float64 in both); tests/engine/test_npkernels.py holds them to that. Large work
buffers are made once per object: on a VM every fresh megabyte temporary paid
page faults that took as long as the transform written into it.
"""

from __future__ import annotations

import numpy as np

from .resample import _polyphase_weights, _ratio, measure_holdback
from .stft import check_stft_args, hann_periodic, overlap_weight

_RESAMPLE_CHUNK = 4096  # outputs gathered at once: bounds the (chunk, taps, channels) temporary
_FRAME_CHUNK = 64       # frames transformed at once: bounds the (chunk, channels, n_fft) float64 temporaries to ~1 MB


class StftAnalyzer:
    """Streaming STFT as stft.StftAnalyzer: one complex frame per ``hop`` input samples, frames vectorised."""

    def __init__(self, n_fft: int, hop: int, channels: int, max_frames: int):
        check_stft_args(n_fft, hop, channels)
        self.n_fft, self.hop, self.channels = n_fft, hop, channels
        self.n_freqs = n_fft // 2 + 1
        self.max_frames = max_frames
        # The windowed frames go into a float64 scratch made once: numpy's float64 rfft is ~4x faster here than its
        # float32 one, and a fresh 1 MB temporary per chunk costs as much again in page faults on a VM (both
        # measured: 0.4 vs 1.6 ms per 128 stereo frames). The FFT's result is rounded to complex64, as the kernel's.
        self.window = hann_periodic(n_fft)
        self._frames = np.empty((_FRAME_CHUNK, channels, n_fft))
        self.reset()

    def reset(self) -> None:
        self._last = np.zeros((self.n_fft, self.channels), dtype=np.float32)  # the newest n_fft inputs, oldest first
        self._since = 0                                      # samples since the last frame

    def push(self, x: np.ndarray, out: np.ndarray) -> tuple[int, int]:
        """x: float (n, channels); out: complex64 (k, channels, n_freqs). Returns (samples consumed, frames written).

        Consumes input until ``out`` holds k frames or x is exhausted, as the numba kernel does.
        """
        hop, n_fft = self.hop, self.n_fft
        k = out.shape[0]
        frames = min(k, (self._since + len(x)) // hop)
        consumed = frames * hop - self._since if frames == k else len(x)
        signal = np.concatenate([self._last, np.asarray(x[:consumed], dtype=np.float32)])
        if frames:
            # Frame j ends (exclusive) at n_fft + (j + 1) * hop - since in `signal`.
            first = hop - self._since
            views = np.lib.stride_tricks.sliding_window_view(signal, n_fft, axis=0)  # (., channels, n_fft), no copy
            for lo in range(0, frames, _FRAME_CHUNK):
                hi = min(frames, lo + _FRAME_CHUNK)
                if not signal[first + hop * lo:first + hop * (hi - 1) + n_fft].any():
                    out[lo:hi] = 0.0  # digital silence (a file's flushed tail): its spectrum is zero, skip the FFT
                    continue
                windowed = self._frames[: hi - lo]  # (hi - lo, channels, n_fft)
                np.multiply(views[first + hop * lo:first + hop * (hi - 1) + 1:hop], self.window, out=windowed)
                out[lo:hi] = np.fft.rfft(windowed, axis=-1)
        self._last = signal[-n_fft:].copy()
        self._since = self._since + consumed - frames * hop
        return consumed, frames


class OlaSynthesizer:
    """Streaming inverse STFT as stft.OlaSynthesizer: overlap-adds frames, emits ``hop`` finished samples per frame."""

    def __init__(self, n_fft: int, hop: int, channels: int):
        check_stft_args(n_fft, hop, channels)
        self.n_fft, self.hop, self.channels = n_fft, hop, channels
        self.window = hann_periodic(n_fft)
        self.inv_weight = 1.0 / overlap_weight(self.window, hop)
        # Work buffers kept between calls and resets (grown when a call brings more frames): fresh megabyte
        # temporaries per call cost page faults that, on a VM, took as long as the transforms (see StftAnalyzer).
        self._ext = np.zeros((channels, 0))
        self._time = np.empty((_FRAME_CHUNK, channels, n_fft), dtype=np.float32)
        self._windowed = np.empty((_FRAME_CHUNK, channels, n_fft))
        self.reset()

    def reset(self) -> None:
        self._acc = np.zeros((self.channels, self.n_fft))  # pending sums, oldest sample first

    def push(self, spec: np.ndarray, out: np.ndarray) -> None:
        """spec: complex64 (n_frames, channels, n_freqs) -> out: float32 (n_frames * hop, channels)."""
        frames = spec.shape[0]
        if not frames:
            return
        hop, n_fft, c = self.hop, self.n_fft, self.channels
        span = (frames - 1) * hop + n_fft
        if self._ext.shape[1] < span + hop:
            self._ext = np.zeros((c, span + hop))
        ext = self._ext[:, : span + hop]
        ext[:, :n_fft] = self._acc
        ext[:, n_fft:] = 0.0
        for lo in range(0, frames, _FRAME_CHUNK):
            hi = min(frames, lo + _FRAME_CHUNK)
            if not spec[lo:hi].any():
                continue  # silent frames add nothing
            # (hi - lo, channels, n_fft): float32 inverse FFT of the complex64 frames, times the float64 window
            time = np.multiply(np.fft.irfft(spec[lo:hi], n_fft, axis=-1, out=self._time[: hi - lo]), self.window,
                               out=self._windowed[: hi - lo])
            if n_fft % hop == 0:
                # Frame f lands on hop-blocks f .. f + r - 1; adding the blocks with r descending adds
                # the frames in ascending order, the kernel's summation order.
                r_count, k = n_fft // hop, hi - lo
                blocks = ext[:, lo * hop:(hi - 1 + r_count) * hop].reshape(c, k - 1 + r_count, hop)
                parts = time.reshape(k, c, r_count, hop).transpose(1, 0, 2, 3)  # (c, k, r, hop)
                for r in range(r_count - 1, -1, -1):
                    blocks[:, r:r + k] += parts[:, :, r]
            else:
                for f in range(lo, hi):
                    ext[:, f * hop:f * hop + n_fft] += time[f - lo]
        done = ext[:, : frames * hop].reshape(c, frames, hop) * self.inv_weight
        out[: frames * hop] = done.reshape(c, frames * hop).T
        self._acc = ext[:, frames * hop:frames * hop + n_fft].copy()


def append_frames(new, n_bins, mag_hist, cplx_hist) -> None:
    """As core._append_frames: shift the histories left by len(new) frames and append ``new``.

    new: complex64 (s, channels, n_freqs); mag_hist: float32 (channels, n_bins, hm);
    cplx_hist: complex64 (hc, channels, n_freqs); newest frame last in both.
    """
    s = new.shape[0]
    if not s:
        return
    hm, hc = mag_hist.shape[2], cplx_hist.shape[0]
    mag_hist[:, :, : hm - s] = mag_hist[:, :, s:].copy()
    low = new[:, :, :n_bins]
    # sqrt of the power in float32, the kernel's arithmetic (not np.abs, which is hypot)
    mag_hist[:, :, hm - s:] = np.sqrt(low.real * low.real + low.imag * low.imag).transpose(1, 2, 0)
    if s >= hc:
        cplx_hist[:] = new[s - hc:]
    else:
        cplx_hist[: hc - s] = cplx_hist[s:].copy()
        cplx_hist[hc - s:] = new


def frames_silent(cplx_hist, first, count) -> bool:
    """True if frames first..first+count-1 of cplx_hist, complex64 (hc, channels, n_freqs), are all exactly zero."""
    return not cplx_hist[first:first + count].any()


def masked_spectra(cplx_hist, first, count, mask, row0, col0, phasor, out, out0, scratch, gain) -> None:
    """As core._masked_spectra: out[out0 + f] = mask * spectrum * phasor for ``count`` frames.

    mask: float32 (batch, n_bins, n_frames), rows row0.., columns col0..; bins above
    n_bins get the median of the column's top len(scratch) bins times gain[k]
    (core.high_band_gain). cplx_hist, out: complex64 (., channels, n_freqs).
    scratch: its length is what matters here (the kernel's work space).
    """
    channels, n_freqs = cplx_hist.shape[1], cplx_hist.shape[2]
    n_bins = mask.shape[1]
    m = mask[row0:row0 + channels, :, col0:col0 + count].transpose(2, 0, 1)  # (count, channels, n_bins)
    if n_freqs > n_bins:
        high = _median_last(m[:, :, n_bins - len(scratch):]).astype(np.float32)  # (count, channels, 1)
        m = np.concatenate([m, high * gain[n_bins:]], axis=2)
    out[out0:out0 + count] = cplx_hist[first:first + count] * m * phasor


def _median_last(x: np.ndarray) -> np.ndarray:
    """np.median(x, axis=-1, keepdims=True) for finite x, by partition: np.median's NaN check imports numpy.ma
    (~10 ms, a tenth of a one-file process's separation)."""
    n = x.shape[-1]
    k = n // 2
    if n % 2:
        return np.partition(x, k, axis=-1)[..., k:k + 1]
    part = np.partition(x, (k - 1, k), axis=-1)
    return (part[..., k - 1:k] + part[..., k:k + 1]) * x.dtype.type(0.5)


class StreamResampler:
    """As resample.StreamResampler (same filter, same outputs, same holdback), vectorised over each block."""

    def __init__(self, in_rate: int, out_rate: int, channels: int):
        self.in_rate, self.out_rate, self.channels = int(in_rate), int(out_rate), int(channels)
        self._in, self._out = _ratio(self.in_rate, self.out_rate)
        self._weights, self._half = _polyphase_weights(self.in_rate, self.out_rate)
        self._phases = self._weights.shape[0]
        self.holdback = measure_holdback(self.in_rate, self.out_rate, self.channels)
        self.reset()

    def reset(self) -> None:
        span = 2 * self._half
        self._hist = np.zeros((span, self.channels))  # inputs from index _hist_start on; before 0: zeros
        self._hist_start = -span
        self._n_in = 0
        self._n_out = 0

    def process(self, x: np.ndarray) -> np.ndarray:
        """x: float32 (n, channels) -> float32 (m, channels): every output that is final."""
        half, in_r, out_r = self._half, self._in, self._out
        self._hist = np.concatenate([self._hist, np.asarray(x, dtype=np.float64)])
        self._n_in += len(x)
        # Output n is final once input base(n) + half has arrived, base(n) = n * in_r // out_r.
        end = -(-(self._n_in - half) * out_r // in_r) if self._n_in > half else 0
        out = np.empty((max(end - self._n_out, 0), self.channels), dtype=np.float32)
        if self._phases == out_r:
            self._polyphase(end, out)
        else:
            self._gathered(end, out)
        if end > self._n_out:
            self._n_out = end
        keep_from = (self._n_out * in_r // out_r) - half + 1 - self._hist_start  # first input the next output needs
        keep_from = min(keep_from, len(self._hist))
        if keep_from > 0:
            self._hist = self._hist[keep_from:]
            self._hist_start += keep_from
        return out

    def _polyphase(self, end: int, out: np.ndarray) -> None:
        """Outputs n_out..end-1 into out, one phase at a time.

        Output n = q * out_r + j has phase(j) and base(n) = q * in_r + base(j):
        the outputs of one phase read windows in_r inputs apart, a strided view
        of the history times one kernel row.
        """
        half, in_r, out_r, n_out = self._half, self._in, self._out, self._n_out
        windows = np.lib.stride_tricks.sliding_window_view(self._hist, 2 * half, axis=0)  # (L, channels, span)
        for j in range(min(out_r, end - n_out)):
            n0 = n_out + j
            count = (end - 1 - n0) // out_r + 1
            num = n0 * in_r
            base = num // out_r
            start = base - half + 1 - self._hist_start
            rows = windows[start:start + in_r * (count - 1) + 1:in_r]  # (count, channels, span)
            out[j::out_r] = rows @ self._weights[num - base * out_r]

    def _gathered(self, end: int, out: np.ndarray) -> None:
        """Outputs n_out..end-1 into out for rate pairs with more phases than MAX_PHASES (nearest phase)."""
        half, in_r, out_r = self._half, self._in, self._out
        taps = np.arange(2 * half)
        for lo in range(self._n_out, end, _RESAMPLE_CHUNK):
            n = np.arange(lo, min(lo + _RESAMPLE_CHUNK, end), dtype=np.int64)
            num = n * in_r
            base = num // out_r
            phase = (num - base * out_r) * self._phases // out_r
            idx = (base - half + 1 - self._hist_start)[:, None] + taps  # (m, span) into _hist
            out[lo - self._n_out:lo - self._n_out + len(n)] = np.einsum("ms,msc->mc", self._weights[phase], self._hist[idx])
