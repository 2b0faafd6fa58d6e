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
(:func:`vocalex.engine.core.high_band_gain` says why). The masking itself is
engine/core.py's :class:`~vocalex.engine.core.MaskingCore`; this module adds the resamplers, the dry delay
line and the block interface.

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

from dataclasses import replace

import numpy as np

from .config import CoreConfig, StreamConfig, describe_stream, stream_delays
from .core import MaskingCore
from .offline_core import OfflineCore
from vocalex.base.errors import UsageError

MIN_RATE, MAX_RATE = 8000, 192000
MAX_CHANNELS = 8


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


def check_window(model, channels: int, n_frames: int) -> None:
    """UsageError unless the model runs ``n_frames``-frame windows: one call on zeros, before any audio.

    Only the graph knows: a fixed frames axis takes its own length only, and a
    U-Net with k stride-2 layers needs a multiple of 2**k (the bundled model: 64).
    """
    probe = np.zeros((model.rows_for(channels), model.profile.n_bins, int(n_frames)), dtype=np.float32)
    try:
        model.run(probe)
    except UsageError:
        raise
    except Exception:  # ONNX Runtime's own message names a node deep inside the graph; say what it means
        raise UsageError(f"this model cannot run {n_frames}-frame windows: its graph refused them (a U-Net with k "
                         f"stride-2 layers needs a multiple of 2**k frames, the bundled model 64; a graph with a "
                         f"fixed frames axis only its own {model.profile.n_frames})") from None


def check_stream(sample_rate, channels) -> None:
    """Raise UsageError for a host rate or channel count that cannot work, naming the valid range."""
    for name, value in (("sample_rate", sample_rate), ("channels", channels)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise UsageError(f"{name} must be an integer, got {value!r}")
    if not MIN_RATE <= sample_rate <= MAX_RATE:
        raise UsageError(f"sample rate {sample_rate} Hz is outside {MIN_RATE}..{MAX_RATE} Hz")
    if not 1 <= channels <= MAX_CHANNELS:
        raise UsageError(f"channels must be in 1..{MAX_CHANNELS}, got {channels}")


class StreamSeparator:
    """Separates a live stream: ``process(block)`` returns stems for every block, delayed by ``latency``.

    block: float (frames, channels) at ``sample_rate`` (or (frames,) when
    channels is 1); returns ``{"vocals": ..., "accompaniment": ...}``, float32
    arrays of the block's shape.
    The first ``latency`` output samples are start-up silence; ``flush()``
    returns the last ``latency`` samples (and resets), so dropping the first
    ``latency`` samples of all outputs gives exactly the input's length, aligned.
    ``config``: a StreamConfig (resolved here for the model) or a CoreConfig, every setting resolved (offline
    mode's batched, pipelined windows on the numpy kernels: engine/offline.py).
    """

    def __init__(self, model, sample_rate: int, channels: int, config: StreamConfig | CoreConfig = StreamConfig()):
        profile = model.profile
        check_stream(sample_rate, channels)
        core = config.resolve(profile) if isinstance(config, StreamConfig) else config
        if core.n_frames not in (profile.n_frames, getattr(model, "offline_frames", None)):
            check_window(model, channels, core.n_frames)
        self.config = core
        self.block = core.block  # blocks must hold a multiple of it (StreamConfig.block)
        self.model = model
        self.profile = profile
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.stride = core.stride
        self.lookahead = core.lookahead
        self.synthesis = core.synthesis
        # the live path's core, or offline mode's (pipelined calls, Wiener filtering)
        core_type = OfflineCore if core.pipelined or core.wiener_iterations else MaskingCore
        if self.sample_rate == profile.sample_rate:
            self._up = self._down = None
            self._core = core_type(model, self.channels, core)
            align, prefill = self._core.align, self._core.holdback
        else:
            if core.kernels == "numpy":
                from .npkernels import StreamResampler
            else:
                from .resample import StreamResampler

            host, rate = self.sample_rate, profile.sample_rate
            self._up = StreamResampler(host, rate, self.channels)
            self._down = StreamResampler(rate, host, self.channels)
            align, prefill, delta = stream_delays(profile, host, core)
            # the block promise holds at the host rate only: resampled, the core's hold is the general one
            self._core = core_type(model, self.channels, replace(core, block=None), delta)
        self._align = int(align)
        self._prefill = int(prefill)
        self.latency = self._align + self._prefill
        # Each queue holds at most `latency` samples plus the block in hand: room for blocks up to latency + 8192
        # samples without growing (a larger block grows it once; offline, 4 x latency was ~7 MB a queue unused).
        self._vocals = SampleFifo(self.channels, 2 * self.latency + 8192)
        self._dry = SampleFifo(self.channels, 2 * self.latency + 8192)
        self.reset()

    def describe(self) -> str:
        """This stream's configuration in the words every latency statement names it with (engine.config.describe_stream)."""
        return describe_stream(self.config, self.profile.model_version, self.sample_rate)

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

    def process(self, block: np.ndarray, out: dict | None = None) -> dict:
        """block: float (frames, channels), or (frames,) for a 1-channel stream.

        Returns ``{"vocals": ..., "accompaniment": ...}``, float32 of the block's
        shape, delayed by ``latency`` samples. ``out``: the caller's
        ``{"vocals": v, "accompaniment": a}``, float32 C-contiguous arrays of the
        block's shape, written in place and returned (no output allocation per
        block: the live worker's way).
        """
        x = self._check_block(block)
        self._one_d = block.ndim == 1
        n = len(x)
        if self.block is not None and n % self.block:
            # its latency was planned for such blocks: another size would leave the output short
            raise UsageError(f"this stream takes blocks of a multiple of {self.block} samples (its block setting), got {n}")
        if out is not None:
            vocals, accompaniment = (self._out_buffer(out, key, n) for key in ("vocals", "accompaniment"))
        else:
            vocals = np.empty((n, self.channels), dtype=np.float32)
            accompaniment = np.empty((n, self.channels), dtype=np.float32)
        if self._up is None:
            self._core.feed(x, self._vocals.write)
        else:
            up = self._up.process(x)
            self._core.feed(up, self._down_sink)
        self._dry.write(x)
        self._dry.read(n, accompaniment)  # the dry input, delayed; minus the vocals below
        self._vocals.read(n, vocals)
        if self._out_pos < self.latency:
            # Output before the stream start: the masked filter's pre-echo of the first frames. Silence it.
            vocals[: self.latency - self._out_pos] = 0.0
        self._out_pos += n
        np.subtract(accompaniment, vocals, out=accompaniment)
        if out is not None:
            return out
        if self._one_d:
            return {"vocals": vocals[:, 0], "accompaniment": accompaniment[:, 0]}
        return {"vocals": vocals, "accompaniment": accompaniment}

    def _out_buffer(self, out: dict, key: str, n: int) -> np.ndarray:
        """The caller's buffer for ``key`` as a (n, channels) float32 view, or UsageError naming what is wrong."""
        buf = out.get(key) if isinstance(out, dict) else None
        shape = (n,) if self._one_d else (n, self.channels)
        if not isinstance(buf, np.ndarray) or buf.dtype != np.float32 or buf.shape != shape or not buf.flags.c_contiguous \
                or not buf.flags.writeable:
            raise UsageError(f"out[{key!r}] must be a writable C-contiguous float32 array of shape {shape}")
        return buf.reshape(n, self.channels)

    def _down_sink(self, vocals_model_rate: np.ndarray) -> None:
        self._vocals.write(self._down.process(np.ascontiguousarray(vocals_model_rate)))

    def flush(self) -> dict:
        """Drain: returns the last ``latency`` output samples (input padded with silence), then resets."""
        # The tail has the shape of the blocks given so far: (frames,) after 1-D blocks.
        n = self.latency
        if self.block is not None:  # whole blocks only: pad the silence, keep the first `latency` samples
            n = -(-n // self.block) * self.block
        shape = (n,) if self._one_d else (n, self.channels)
        tail = self.process(np.zeros(shape, dtype=np.float32))
        self.reset()
        return {stem: out[: self.latency] for stem, out in tail.items()}
