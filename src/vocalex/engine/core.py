"""The masking core of every stream: model-rate STFT, a model call every ``stride`` frames, masked synthesis.

:class:`MaskingCore` is what :class:`vocalex.engine.stream.StreamSeparator` runs between its resamplers
(live, ``separate --mode stream``) and what offline mode runs with batched, pipelined calls
(engine/offline.py). The per-hop loops are numba kernels here (the live path) with vectorised numpy
twins in npkernels.py (the offline path). Which frames a call emits: engine.config.stream_output_frames.
"""

from __future__ import annotations

import numpy as np

from .config import CoreConfig, core_holdback, stream_output_frames
from .jit import njit  # compiled on first call: the offline path never calls these
from .contract import rows_for
from .stft import OlaSynthesizer, StftAnalyzer, stft_delay


@njit(cache=True, nogil=True)
def _append_frames(new, n_bins, mag_hist, cplx_hist):
    """Shift the histories left by len(new) frames and append ``new``.

    new: complex64 (s, channels, n_freqs); mag_hist: float32 (channels, n_bins, hm)
    (magnitudes of the lowest n_bins bins, newest frame last); cplx_hist:
    complex64 (hc, channels, n_freqs), newest frame last.
    """
    s, channels, n_freqs = new.shape
    hm = mag_hist.shape[2]
    for c in range(channels):
        for k in range(n_bins):
            row = mag_hist[c, k]
            for t in range(hm - s):
                row[t] = row[t + s]
            for f in range(s):
                v = new[f, c, k]
                # sqrt of the power, not np.abs: abs of a complex is hypot(), several times slower
                # here, and spectra this small never overflow the square.
                row[hm - s + f] = np.sqrt(v.real * v.real + v.imag * v.imag)
    hc = cplx_hist.shape[0]
    for t in range(hc - s):
        cplx_hist[t] = cplx_hist[t + s]
    for f in range(s):
        cplx_hist[hc - s + f] = new[f]


def high_band_gain(n_freqs: int, n_bins: int) -> np.ndarray:
    """float32 (n_freqs,): 1 in the model's band, n_bins / k above it (a 1/f decay of the extended mask).

    Why the extended mask is the median of the model's top octave times this decay, not the
    top bin's mask: the rows at a U-Net's band edge (next to its zero padding) were the least
    reliable of its outputs here (on the bundled demo's vocal-free intro, |V|/|X| was 0.015 below
    10.5 kHz, 0.085 in 10.5-11 kHz, and the top bin repeated let 0.28 through above 11 kHz); the median of
    the top octave is what the model decided for the high end of its band in that frame, and
    singing has less of its energy above the model's band than within it, so the vocals' share
    falls with frequency there. Chosen on 40 MUSDB18 *training* clips (SDR above 11 kHz, median:
    vocals 1.21 dB top bin, 1.90 median, 2.21 median x 1/f, 2.14 median x 1/f^2), never on the
    validation clips the README reports.
    """
    k = np.arange(n_freqs, dtype=np.float64)
    gain = np.ones(n_freqs)
    gain[n_bins:] = n_bins / k[n_bins:]
    return gain.astype(np.float32)


@njit(cache=True, nogil=True)
def _masked_spectra(cplx_hist, first, count, mask, row0, col0, phasor, out, out0, scratch, gain):
    """out[out0 + f] = mask * spectrum * phasor for ``count`` frames.

    cplx_hist: complex64 (hc, channels, n_freqs), frames first..first+count-1 used.
    mask: float32 (batch, n_bins, n_frames), rows row0..row0+channels-1, columns
    col0..col0+count-1; bins above n_bins get the median of their column's top octave
    (the model's verdict on the top of its band) times gain[k]. phasor: complex64 (n_freqs,).
    out: complex64 (s, channels, n_freqs). scratch: float32 (n_bins - n_bins // 2,), work space.
    gain: float32 (n_freqs,), see :func:`high_band_gain`.
    """
    channels = cplx_hist.shape[1]
    n_freqs = cplx_hist.shape[2]
    n_bins = mask.shape[1]
    for f in range(count):
        for c in range(channels):
            for k in range(min(n_bins, n_freqs)):
                out[out0 + f, c, k] = cplx_hist[first + f, c, k] * mask[row0 + c, k, col0 + f] * phasor[k]
            if n_freqs > n_bins:
                # median of the column's top len(scratch) bins (inline: a kernel cannot call a lazily compiled one)
                lo = n_bins - scratch.shape[0]
                for k in range(lo, n_bins):
                    scratch[k - lo] = mask[row0 + c, k, col0 + f]
                scratch.sort()
                n = scratch.shape[0]
                high = 0.5 * (scratch[(n - 1) // 2] + scratch[n // 2])
                for k in range(n_bins, n_freqs):
                    out[out0 + f, c, k] = cplx_hist[first + f, c, k] * (high * gain[k]) * phasor[k]


@njit(cache=True, nogil=True)
def _frames_silent(cplx_hist, first, count) -> bool:
    """True if frames first..first+count-1 of cplx_hist, complex64 (hc, channels, n_freqs), are all exactly zero."""
    for f in range(first, first + count):
        for c in range(cplx_hist.shape[1]):
            for k in range(cplx_hist.shape[2]):
                v = cplx_hist[f, c, k]
                if v.real != 0.0 or v.imag != 0.0:
                    return False
    return True


class MaskingCore:
    """Model-rate STFT masking: float32 (n, channels) in, the vocals stream out (variable count).

    The output stream is the masked input delayed by ``align`` = n_fft - hop
    samples (plus the fractional ``delay_fraction`` applied as a phase), and is
    at most ``holdback`` samples behind the input count at any time.
    ``config`` (engine.config.CoreConfig) says how it runs: ``windows_per_call`` > 1
    batches that many stride-spaced windows in one model call (offline mode);
    pipelined calls and Wiener filtering are :class:`~vocalex.engine.offline_core.OfflineCore`'s;
    ``n_frames`` is the model
    window (offline mode: a dynamic-frames model's ``offline_frames``); ``block``:
    every input holds a multiple of this many samples (StreamConfig.block), which
    shortens the holdback (config.core_holdback); ``kernels``: "numba" (the
    compiled per-hop loops of this module and stft.py, for the live path) or
    "numpy" (their vectorised twins in npkernels.py: no numba start-up, for the
    offline path, which feeds hundreds of frames at a time).
    """

    def __init__(self, model, channels: int, config: CoreConfig, delay_fraction: float = 0.0):
        p = model.profile
        self.model = model
        self.config = config
        self.channels = channels
        self.stride = stride = config.stride
        self.lookahead = lookahead = config.lookahead
        self.windows = windows_per_call = config.windows_per_call
        synthesis, pipelined = config.synthesis, config.pipelined
        # A stereo model takes channels in pairs: an odd count gets its last channel duplicated (mono -> L = R).
        self.rows = rows_for(channels, model.channels)
        self.n_fft, self.hop, self.n_bins = p.n_fft, p.hop_length, p.n_bins
        self.model_frames = config.n_frames  # window length (offline: may be longer than the profile's)
        # StreamConfig.mirror: the window's last `mirror` columns are mirrored frames; every index below works on
        # the real frames, n_frames of them, and only the batch handed to the model is model_frames long.
        self.mirror = config.mirror
        self.n_frames = self.model_frames - self.mirror
        self.n_freqs = p.n_fft // 2 + 1
        self.frames_per_call = config.frames_per_call
        if config.kernels == "numpy":
            from . import npkernels as k  # here: the live path never loads the numpy twins

            self._synth = k.OlaSynthesizer(self.n_fft, self.hop, channels)
            self._analyzer = k.StftAnalyzer(self.n_fft, self.hop, channels, self.frames_per_call)
            self._append_frames, self._frames_silent, self._masked_spectra = k.append_frames, k.frames_silent, k.masked_spectra
        else:
            # The model always sees Hann magnitudes (what it was trained on); with low-delay synthesis the mask is
            # applied to the spectrum of the asymmetric analysis window that pairs with the short synthesis window.
            self._synth = OlaSynthesizer(self.n_fft, self.hop, channels, synthesis, shift=delay_fraction)
            self._analyzer = StftAnalyzer(self.n_fft, self.hop, channels, self.frames_per_call,
                                          self._synth.analysis_window if synthesis != "hann" else None)
            self._append_frames, self._frames_silent, self._masked_spectra = _append_frames, _frames_silent, _masked_spectra
        self.low_delay = synthesis != "hann"
        self.align = stft_delay(self.n_fft, self.hop, synthesis)
        self.holdback = core_holdback(self.hop, self.frames_per_call, lookahead, pipelined, config.block)
        self._out_cols = stream_output_frames(self.n_frames, stride, lookahead)
        s = self.frames_per_call
        self._new = np.zeros((s, channels, self.n_freqs), dtype=np.complex64)
        self._new_masked = np.zeros((s, channels, self.n_freqs), dtype=np.complex64) if self.low_delay else None
        self._mag = np.zeros((channels, self.n_bins, self.n_frames + (windows_per_call - 1) * stride), dtype=np.float32)
        # Pipelined, the history keeps s frames more: the previous call's frames are masked after the next call
        # has started (and the history has moved on by s), so the model never waits for the masking.
        self._cplx = np.zeros((lookahead + s * (2 if pipelined else 1), channels, self.n_freqs), dtype=np.complex64)
        direct = windows_per_call == 1 and self.rows == channels and not self.mirror  # the history itself is the batch
        self._batch = None if direct else np.zeros((windows_per_call * self.rows, self.n_bins, self.model_frames),
                                                   dtype=np.float32)
        # The masked frames go into the analysis buffer: _append_and_batch has moved its frames into the
        # histories before any masking, and the next frames are analysed into it only after the overlap-add.
        self._vocal_spec = self._new
        self._vocal_out = np.zeros((s * self.hop, channels), dtype=np.float32)
        # (the overlap gain correction of a fractional shift is Hann's; the low-delay pair builds the shift
        # into its synthesis window instead)
        self._phasor = _fractional_delay_phasor(self.n_fft, delay_fraction, hann=not self.low_delay).astype(np.complex64)
        self._scratch = np.zeros(self.n_bins - self.n_bins // 2, dtype=np.float32)
        self._high_gain = high_band_gain(self.n_freqs, self.n_bins)
        self._mask_phasor = self._phasor  # the phasor the masking applies (OfflineCore's Wiener filter applies it later)
        self.reset()

    def reset(self) -> None:
        self._analyzer.reset()
        self._synth.reset()
        self._mag[:] = 0.0
        self._cplx[:] = 0.0
        self._pending = 0       # frames analysed since the last model call
        self._frames_seen = 0   # frames analysed in total

    def feed(self, x: np.ndarray, sink) -> None:
        """x: float32 (n, channels); finished vocals, float32 (m, channels), go to sink(array)."""
        s = self.frames_per_call
        while len(x):
            if self._new_masked is None:
                used, frames = self._analyzer.push(x, self._new[self._pending:s])
            else:
                used, frames = self._analyzer.push(x, self._new[self._pending:s], self._new_masked[self._pending:s])
            x = x[used:]
            self._pending += frames
            if self._pending == s:
                self._pending = 0
                n = self._model_step()
                if n:
                    sink(self._vocal_out[: n * self.hop])

    def _model_step(self) -> int:
        """Run the model on the newest windows; synthesise their output frames. Returns frames emitted."""
        batch, needed = self._append_and_batch()
        mask = self.model.run(batch) if needed else None
        emitted = self._mask_frames(mask, needed)
        if emitted:
            self._synth.push(self._vocal_spec[:emitted], self._vocal_out[: emitted * self.hop])
        return emitted

    def _emitted_frames(self, newest: int, shift: int = 0):
        """(window b, first frame, count, history index, window column) of each window's output, oldest window first.

        shift: frames the complex history has moved on since ``newest`` was its newest frame."""
        stride, nf, hc, cols = self.stride, self.n_frames, self._cplx.shape[0] - shift, self._out_cols
        for b in range(self.windows - 1, -1, -1):  # oldest window first: frames leave in time order
            end = newest - b * stride  # the window's newest frame, its column nf - 1
            last = end - (nf - cols.stop)  # the window's last output column, as a frame index
            first = max(0, end - (nf - cols.start) + 1)  # frames before the stream start do not exist
            if last < 0:
                continue
            yield b, first, last - first + 1, hc - 1 - (newest - first), nf - 1 - (end - first)

    def _append_and_batch(self) -> tuple[np.ndarray, list[int]]:
        """Move the histories on; (float32 (rows, n_bins, n_frames) model input, windows it holds, newest first).

        A window whose output frames are all digital silence (a file's zero-padded
        tail, a muted input) needs no model call: any mask times a zero spectrum is
        zero, so it is left out of the batch and the output is the same.
        """
        s, c, r, stride, nf = self.frames_per_call, self.channels, self.rows, self.stride, self.n_frames
        self._append_frames(self._new, self.n_bins, self._mag, self._cplx)
        if self._new_masked is not None:  # the masked spectra come from the low-delay analysis window
            self._cplx[self._cplx.shape[0] - s:] = self._new_masked
        self._frames_seen += s
        needed = sorted(b for b, _, count, hist_first, _ in self._emitted_frames(self._frames_seen - 1)
                        if not self._frames_silent(self._cplx, hist_first, count))
        hm = self._mag.shape[2]
        if self._batch is None:
            return self._mag, needed  # the history is exactly one window: hand it over without a copy
        batch = self._batch
        for i, b in enumerate(needed):  # b = 0: the window ending at the newest frame
            end = hm - b * stride
            batch[i * r:i * r + c, :, :nf] = self._mag[:, :, end - nf:end]
            if r > c:
                batch[i * r + c, :, :nf] = self._mag[c - 1, :, end - nf:end]
            if self.mirror:  # columns nf, nf+1, ... = frames nf-2, nf-3, ... (the newest frame is the mirror's axis)
                batch[i * r:(i + 1) * r, :, nf:] = batch[i * r:(i + 1) * r, :, nf - 2:nf - 2 - self.mirror:-1]
        return batch[: len(needed) * r], needed

    def _mask_frames(self, mask, needed: list[int], shift: int = 0) -> int:
        """Masked spectra of the frames a call emits into _vocal_spec; returns their count.

        mask: float32 (len(needed) * rows, n_bins, n_frames) for the windows in ``needed``
        (or None) ending at the analysed frame ``shift`` frames before the newest; the other
        windows' frames are silent.
        """
        emitted = 0
        for b, first, count, hist_first, col0 in self._emitted_frames(self._frames_seen - 1 - shift, shift):
            if b in needed:
                row0 = needed.index(b) * self.rows
                self._masked_spectra(self._cplx, hist_first, count, mask, row0, col0, self._mask_phasor, self._vocal_spec, emitted,
                                     self._scratch, self._high_gain)
            else:
                self._vocal_spec[emitted:emitted + count] = 0.0
            self._keep_mixture(emitted, hist_first, count)
            emitted += count
        return emitted

    def _keep_mixture(self, at: int, hist_first: int, count: int) -> None:
        """Where a subclass needs the mixture frames behind the masked ones (OfflineCore's Wiener filter)."""


def _fractional_delay_phasor(n_fft: int, delay: float, hann: bool = True) -> np.ndarray:
    """complex128 (n_fft//2+1,): exp(-j w delay), scaled to undo the Hann^2 overlap gain change of a shift.

    A linear phase circularly shifts each windowed frame by ``delay`` samples;
    the synthesis window then overlaps a shifted analysis window, whose summed
    product is (2 + cos(2 pi delay / n_fft)) / 3 of the unshifted one (Hann, hop <= n_fft/4).
    """
    k = np.arange(n_fft // 2 + 1)
    phasor = np.exp(-2j * np.pi * k * delay / n_fft)
    if delay and hann:
        phasor *= 3.0 / (2.0 + np.cos(2 * np.pi * delay / n_fft))
    return phasor
