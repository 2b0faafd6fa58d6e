"""The streaming separator: any host block in, the same number of samples out, fixed latency.

Signal path (host rate H, model rate M)::

    input --(resample H->M)--> STFT --|mask from the model|--> ISTFT --(resample M->H)--> vocals
      \\----------------- delay line of exactly `latency` samples ----------------> dry
    accompaniment = dry - vocals            (so the stems always sum to the delayed input)

The model sees the magnitudes of the 128 newest frames (lowest n_bins bins;
zeros before the stream start) every ``stride`` new frames, all channels in one
call (a stereo model takes them as left/right pairs; an odd last channel is
paired with itself). Each call emits ``stride`` frames, those at newest-lookahead-(stride-1)
.. newest-lookahead, each with its own mask column. The mask is extended above
n_bins (no band cutoff) by the median of the column's top octave, decaying as 1/f
(:func:`high_band_gain` says why).

Latency (model-rate samples, no resampling)::

    (n_fft - hop)                        STFT/ISTFT alignment delay (hop with synthesis="low-delay",
                                         the asymmetric window pair of engine/stft.py)
    + (lookahead + stride - 1) * hop     waiting for newer frames and for the stride
    + (hop - 1)                          sample-accurate blocks: a hop's output is final
                                         only once its last input sample has arrived

The last term is what makes the output identical for every host block size (1,
40, 127, ... samples): a host that always delivered hop-aligned blocks could
save it, but then block size 1 would have to see different output. With
resampling, the time-aligned delay of the vocals path is made an integer number
of host samples by a linear-phase shift exp(-j w delta) applied together with
the mask, and the resamplers' worst hold-back in both directions is added
(engine/resample.py, about 1.3 ms each way); ``latency`` reports the exact
total in host samples.
"""

from __future__ import annotations

import weakref

import numpy as np

from .errors import UsageError
from .jit import njit  # compiled on first call: the offline path never calls these
from .model import rows_for
from .stft import OlaSynthesizer, StftAnalyzer, stft_delay

MIN_RATE, MAX_RATE = 8000, 192000
MAX_CHANNELS = 8


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


class SampleFifo:
    """A first-in first-out queue of float32 (n, channels) samples; grows only when a block is larger than ever before."""

    def __init__(self, channels: int, capacity: int):
        self._buf = np.zeros((max(capacity, 1), channels), dtype=np.float32)
        self._start = 0
        self._end = 0

    def __len__(self) -> int:
        return self._end - self._start

    def clear(self, prefill: int = 0) -> None:
        """Empty the queue, then put ``prefill`` zero samples in it."""
        self._start = 0
        self._end = 0
        if prefill:
            self._reserve(prefill)
            self._buf[:prefill] = 0.0
            self._end = prefill

    def _reserve(self, n: int) -> None:
        if self._end + n <= len(self._buf):
            return
        size = len(self)
        if size + n > len(self._buf):
            grown = np.zeros((max(2 * len(self._buf), size + n), self._buf.shape[1]), dtype=np.float32)
            grown[:size] = self._buf[self._start:self._end]
            self._buf = grown
        else:
            self._buf[:size] = self._buf[self._start:self._end]
        self._start, self._end = 0, size

    def write(self, x: np.ndarray) -> None:
        """x: float (n, channels)."""
        n = len(x)
        self._reserve(n)
        self._buf[self._end:self._end + n] = x
        self._end += n

    def read(self, n: int, out: np.ndarray) -> None:
        """Move the oldest n samples into out, float32 (n, channels)."""
        if n > len(self):
            raise RuntimeError(f"vocalex internal error: stream queue underflow ({len(self)} < {n}); please report")
        out[:] = self._buf[self._start:self._start + n]
        self._start += n


class MaskingCore:
    """Model-rate STFT masking: float32 (n, channels) in, the vocals stream out (variable count).

    The output stream is the masked input delayed by ``align`` = n_fft - hop
    samples (plus the fractional ``delay_fraction`` applied as a phase), and is
    at most ``holdback`` samples behind the input count at any time.
    ``windows_per_call`` > 1 batches that many stride-spaced windows in one model
    call (used by the offline mode). ``pipelined`` runs each model call in a
    worker thread while the next input is analysed and the previous output
    synthesised, at the price of one more call's worth of holdback (offline mode:
    throughput counts, latency is removed afterwards). ``wiener_iterations`` > 0
    refines each call's vocals by multichannel Wiener filtering over that call's
    output frames (:mod:`vocalex.engine.wiener`; offline mode only, where a call
    spans seconds of frames to estimate the spatial covariance from).
    ``n_frames``: frames per model window, the profile's unless given (offline
    mode passes a dynamic-frames model's ``offline_frames``).
    ``kernels``: "numba" (the compiled per-hop loops of this module and stft.py,
    for the live path) or "numpy" (their vectorised twins in npkernels.py: no
    numba start-up, for the offline path, which feeds hundreds of frames at a time).
    """

    def __init__(self, model, channels: int, stride: int, lookahead: int, windows_per_call: int = 1, delay_fraction: float = 0.0,
                 pipelined: bool = False, synthesis: str = "hann", wiener_iterations: int = 0, kernels: str = "numba",
                 n_frames: int | None = None):
        p = model.profile
        self.model = model
        self.channels = channels
        self.stride = stride
        self.lookahead = lookahead
        self.windows = windows_per_call
        # A stereo model takes channels in pairs: an odd count gets its last channel duplicated (mono -> L = R).
        self.rows = rows_for(channels, getattr(model, "channels", 1))  # stub models in tests have no .channels
        self.n_fft, self.hop, self.n_bins = p.n_fft, p.hop_length, p.n_bins
        self.n_frames = p.n_frames if n_frames is None else int(n_frames)  # window length (offline: may be longer)
        self.n_freqs = p.n_fft // 2 + 1
        self.frames_per_call = stride * windows_per_call
        if kernels == "numpy":
            if synthesis != "hann":
                raise ValueError("the numpy kernels (offline mode) have Hann synthesis only")
            from . import npkernels as k

            self._synth = k.OlaSynthesizer(self.n_fft, self.hop, channels)
            self._analyzer = k.StftAnalyzer(self.n_fft, self.hop, channels, self.frames_per_call)
            self._append_frames, self._frames_silent, self._masked_spectra = k.append_frames, k.frames_silent, k.masked_spectra
        elif kernels == "numba":
            # The model always sees Hann magnitudes (what it was trained on); with low-delay synthesis the mask is
            # applied to the spectrum of the asymmetric analysis window that pairs with the short synthesis window.
            self._synth = OlaSynthesizer(self.n_fft, self.hop, channels, synthesis, shift=delay_fraction)
            self._analyzer = StftAnalyzer(self.n_fft, self.hop, channels, self.frames_per_call,
                                          self._synth.analysis_window if synthesis != "hann" else None)
            self._append_frames, self._frames_silent, self._masked_spectra = _append_frames, _frames_silent, _masked_spectra
        else:
            raise ValueError(f"kernels must be 'numba' or 'numpy', got {kernels!r}")
        self.low_delay = synthesis != "hann"
        self.align = stft_delay(self.n_fft, self.hop, synthesis)
        self.holdback = ((2 if pipelined else 1) * self.frames_per_call + lookahead) * self.hop - 1
        s = self.frames_per_call
        self._worker = self._running = None
        if pipelined:
            from concurrent.futures import ThreadPoolExecutor

            self._worker = ThreadPoolExecutor(1, thread_name_prefix="vocalex-model")
            weakref.finalize(self, self._worker.shutdown, wait=False)  # the thread ends with its separator
        self._new = np.zeros((s, channels, self.n_freqs), dtype=np.complex64)
        self._new_masked = np.zeros((s, channels, self.n_freqs), dtype=np.complex64) if self.low_delay else None
        self._mag = np.zeros((channels, self.n_bins, self.n_frames + (windows_per_call - 1) * stride), dtype=np.float32)
        self._cplx = np.zeros((lookahead + s, channels, self.n_freqs), dtype=np.complex64)
        direct = windows_per_call == 1 and self.rows == channels  # the history itself is the batch
        self._batch = None if direct else np.zeros((windows_per_call * self.rows, self.n_bins, self.n_frames), dtype=np.float32)
        self._vocal_spec = np.zeros((s, channels, self.n_freqs), dtype=np.complex64)
        self._vocal_out = np.zeros((s * self.hop, channels), dtype=np.float32)
        # (the overlap gain correction of a fractional shift is Hann's; the low-delay pair builds the shift
        # into its synthesis window instead)
        self._phasor = _fractional_delay_phasor(self.n_fft, delay_fraction, hann=not self.low_delay).astype(np.complex64)
        self._scratch = np.zeros(self.n_bins - self.n_bins // 2, dtype=np.float32)
        self._high_gain = high_band_gain(self.n_freqs, self.n_bins)
        self.wiener_iterations = int(wiener_iterations)
        if self.wiener_iterations:
            # The filter needs the plain estimate without the delay phasor and the mixture frames it came from.
            self._mask_phasor = np.ones(self.n_freqs, dtype=np.complex64)
            self._mix_spec = np.zeros((s, channels, self.n_freqs), dtype=np.complex64)
        else:
            self._mask_phasor = self._phasor
        self.reset()

    def reset(self) -> None:
        if self._running is not None:  # a call still in flight belongs to the old stream: let it finish, drop it
            if self._running[0] is not None:
                self._running[0].exception()
            self._running = None
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
        if self._worker is not None:
            return self._pipelined_step()
        batch, needed = self._append_and_batch()
        mask = self.model.run(batch) if needed else None
        emitted = self._mask_frames(mask, needed)
        self._refine(emitted)
        if emitted:
            self._synth.push(self._vocal_spec[:emitted], self._vocal_out[: emitted * self.hop])
        return emitted

    def _pipelined_step(self) -> int:
        """One step behind: collect the previous call's mask, start this call, then synthesise the previous frames.

        The model runs in the worker thread (ONNX Runtime releases the GIL) while
        this thread overlap-adds the previous output and analyses the next input
        (numba, nogil), so a file keeps two cores busy. The order matters: the
        previous mask is applied before _append_frames moves the complex history on.
        """
        emitted = 0
        if self._running is not None:
            running, needed = self._running
            self._running = None
            emitted = self._mask_frames(running.result() if needed else None, needed)
        batch, needed = self._append_and_batch()
        self._running = (self._worker.submit(self.model.run, batch) if needed else None, needed)
        self._refine(emitted)  # while the model runs: the frames it needs were copied out by _mask_frames
        if emitted:
            self._synth.push(self._vocal_spec[:emitted], self._vocal_out[: emitted * self.hop])
        return emitted

    def _emitted_frames(self, newest: int):
        """(window b, first frame, count, history index, window column) of each window's output, oldest window first."""
        stride, nf, hc = self.stride, self.n_frames, self._cplx.shape[0]
        for b in range(self.windows - 1, -1, -1):  # oldest window first: frames leave in time order
            last = newest - b * stride - self.lookahead
            first = max(0, last - stride + 1)  # frames before the stream start do not exist
            if last < 0:
                continue
            yield b, first, last - first + 1, hc - 1 - (newest - first), nf - 1 - (newest - b * stride - first)

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
            batch[i * r:i * r + c] = self._mag[:, :, end - nf:end]
            if r > c:
                batch[i * r + c] = self._mag[c - 1, :, end - nf:end]
        return batch[: len(needed) * r], needed

    def _mask_frames(self, mask, needed: list[int]) -> int:
        """Masked spectra of the frames a call emits into _vocal_spec; returns their count.

        mask: float32 (len(needed) * rows, n_bins, n_frames) for the windows in ``needed``
        (or None) ending at the newest analysed frame; the other windows' frames are silent.
        """
        emitted = 0
        for b, first, count, hist_first, col0 in self._emitted_frames(self._frames_seen - 1):
            if b in needed:
                row0 = needed.index(b) * self.rows
                self._masked_spectra(self._cplx, hist_first, count, mask, row0, col0, self._mask_phasor, self._vocal_spec, emitted,
                                     self._scratch, self._high_gain)
            else:
                self._vocal_spec[emitted:emitted + count] = 0.0
            if self.wiener_iterations:
                self._mix_spec[emitted:emitted + count] = self._cplx[hist_first:hist_first + count]
            emitted += count
        return emitted

    def _refine(self, emitted: int) -> None:
        """With Wiener filtering on: replace the plain masked frames in _vocal_spec by the filtered ones, phasor applied."""
        if not self.wiener_iterations or not emitted:
            return
        from .wiener import wiener_vocals

        vocals = wiener_vocals(self._mix_spec[:emitted], self._vocal_spec[:emitted], self.wiener_iterations)
        np.multiply(vocals, self._phasor, out=self._vocal_spec[:emitted])


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


def check_stream_args(profile, sample_rate, channels, stride, lookahead, n_frames: int | None = None) -> None:
    """Raise UsageError for values that cannot work, naming the valid range (n_frames: the window, default the profile's)."""
    n_frames = profile.n_frames if n_frames is None else n_frames
    for name, value in (("sample_rate", sample_rate), ("channels", channels), ("stride", stride), ("lookahead", lookahead)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise UsageError(f"{name} must be an integer, got {value!r}")
    if not MIN_RATE <= sample_rate <= MAX_RATE:
        raise UsageError(f"sample rate {sample_rate} Hz is outside {MIN_RATE}..{MAX_RATE} Hz")
    if not 1 <= channels <= MAX_CHANNELS:
        raise UsageError(f"channels must be in 1..{MAX_CHANNELS}, got {channels}")
    if not 1 <= stride <= n_frames:
        raise UsageError(f"stride must be in 1..{n_frames} frames, got {stride}")
    if not 0 <= lookahead <= n_frames - stride:
        raise UsageError(f"lookahead must be in 0..{n_frames - stride} frames (n_frames - stride), got {lookahead}")


class StreamSeparator:
    """Separates a live stream: ``process(block)`` returns stems for every block, delayed by ``latency``.

    block: float (frames, channels) at ``sample_rate`` (or (frames,) when
    channels is 1); returns ``{"vocals": ..., "accompaniment": ...}``, float32
    arrays of the block's shape.
    The first ``latency`` output samples are start-up silence; ``flush()``
    returns the last ``latency`` samples (and resets), so dropping the first
    ``latency`` samples of all outputs gives exactly the input's length, aligned.
    ``kernels="numpy"`` runs the vectorised twins of the numba kernels (see
    MaskingCore; the offline mode uses them). ``n_frames``: the model window
    (default the profile's; offline mode passes the model's ``offline_frames``).
    """

    def __init__(self, model, sample_rate: int, channels: int, stride: int = 4, lookahead: int = 0, *, windows_per_call: int = 1,
                 pipelined: bool = False, synthesis: str = "hann", wiener_iterations: int = 0, kernels: str = "numba",
                 n_frames: int | None = None):
        profile = model.profile
        check_stream_args(profile, sample_rate, channels, stride, lookahead, n_frames)
        self.model = model
        self.profile = profile
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.stride = int(stride)
        self.lookahead = int(lookahead)
        self.synthesis = synthesis
        rate = profile.sample_rate
        if self.sample_rate == rate:
            self._up = self._down = None
            self._core = MaskingCore(model, self.channels, self.stride, self.lookahead, windows_per_call, pipelined=pipelined,
                                     synthesis=synthesis, wiener_iterations=wiener_iterations, kernels=kernels, n_frames=n_frames)
            align, prefill = self._core.align, self._core.holdback
        else:
            if kernels == "numpy":
                from .npkernels import StreamResampler
            else:
                from .resample import StreamResampler

            host = self.sample_rate
            self._up = StreamResampler(host, rate, self.channels)
            self._down = StreamResampler(rate, host, self.channels)
            base_align = stft_delay(profile.n_fft, profile.hop_length, synthesis)
            # Smallest integer host delay >= the core's; the fraction goes into the mask's phase.
            align = -(-base_align * host // rate)
            delta = align * rate / host - base_align
            self._core = MaskingCore(model, self.channels, self.stride, self.lookahead, windows_per_call, delta, pipelined,
                                     synthesis, wiener_iterations, kernels, n_frames)
            worst = (self._up.holdback + self._core.holdback) * host / rate + self._down.holdback
            prefill = int(np.ceil(worst)) + 1
        self._align = int(align)
        self._prefill = int(prefill)
        self.latency = self._align + self._prefill
        self._vocals = SampleFifo(self.channels, 4 * self.latency + 8192)
        self._dry = SampleFifo(self.channels, 4 * self.latency + 8192)
        self.reset()

    @property
    def model_latency(self) -> int:
        """Latency in model-rate samples of the core alone (no resampling)."""
        return self._core.align + self._core.holdback

    def reset(self) -> None:
        """Forget all audio: the next block is treated as the start of a new stream."""
        self._core.reset()
        if self._up is not None:
            self._up.reset()
            self._down.reset()
        self._vocals.clear(self._prefill)
        self._dry.clear(self.latency)
        self._out_pos = 0  # output samples returned since the stream start
        self._one_d = False  # the last block was (frames,): flush() answers in that shape too

    def _check_block(self, block) -> np.ndarray:
        """block -> float32 C-contiguous (frames, channels); a 1-D block is mono (frames,), as in soundfile."""
        c = self.channels
        if not isinstance(block, np.ndarray):
            raise UsageError(f"block must be a numpy array of shape (frames, {c}), got {type(block).__name__}")
        if block.ndim == 1 and c == 1:
            block = block[:, None]
        elif block.ndim == 1:
            raise UsageError(f"block has shape {block.shape} (mono) but this stream has {c} channels; "
                             f"pass (frames, {c}) blocks or make the stream with channels=1")
        elif block.ndim != 2 or block.shape[1] != c:
            hint = ""
            if block.ndim == 2 and block.shape[0] == c:
                hint = "; it looks transposed: pass block.T (frames first, as soundfile reads)"
            raise UsageError(f"block must have shape (frames, {c}), got {block.shape}{hint}")
        if block.dtype.kind != "f":
            raise UsageError(f"block must be float (float32 preferred), got {block.dtype}")
        return np.ascontiguousarray(block, dtype=np.float32)

    def process(self, block: np.ndarray) -> dict:
        """block: float (frames, channels), or (frames,) for a 1-channel stream.

        Returns ``{"vocals": ..., "accompaniment": ...}``, float32 of the block's
        shape, delayed by ``latency`` samples.
        """
        x = self._check_block(block)
        self._one_d = block.ndim == 1
        n = len(x)
        if self._up is None:
            self._core.feed(x, self._vocals.write)
        else:
            up = self._up.process(x)
            self._core.feed(up, self._down_sink)
        vocals = np.empty((n, self.channels), dtype=np.float32)
        dry = np.empty((n, self.channels), dtype=np.float32)
        self._dry.write(x)
        self._dry.read(n, dry)
        self._vocals.read(n, vocals)
        if self._out_pos < self.latency:
            # Output before the stream start: the masked filter's pre-echo of the first frames. Silence it.
            vocals[: self.latency - self._out_pos] = 0.0
        self._out_pos += n
        accompaniment = dry - vocals
        if self._one_d:
            return {"vocals": vocals[:, 0], "accompaniment": accompaniment[:, 0]}
        return {"vocals": vocals, "accompaniment": accompaniment}

    def _down_sink(self, vocals_model_rate: np.ndarray) -> None:
        self._vocals.write(self._down.process(np.ascontiguousarray(vocals_model_rate)))

    def flush(self) -> dict:
        """Drain: returns the last ``latency`` output samples (input padded with silence), then resets."""
        # The tail has the shape of the blocks given so far: (frames,) after 1-D blocks.
        shape = (self.latency,) if self._one_d else (self.latency, self.channels)
        tail = self.process(np.zeros(shape, dtype=np.float32))
        self.reset()
        return tail
