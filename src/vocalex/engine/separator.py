"""The Python API: ``Separator.load(...)``, ``.separate(audio, rate)``, ``.stream(rate, channels)``.

Audio layout is soundfile's: float (frames, channels), or (frames,) for mono.
Every result is time-aligned with the input (latency removed), has its exact
length, and vocals + accompaniment equals the input (to float32 rounding).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Iterator

import numpy as np

from vocalex.base.errors import InvalidSamplesError, UsageError

from .config import (DEFAULT_EDGES, DEFAULT_LOOKAHEAD, DEFAULT_MODE, DEFAULT_STRIDE, MODES, OfflineConfig,  # noqa: F401
                     StreamConfig, latency, lookahead_frames, parse_lookahead)
from .contract import ModelProfile
from .model import OnnxModel
from .offline import offline_stream
from .stream import MAX_CHANNELS, StreamSeparator

BLOCK_FRAMES = 65536    # host samples per internal block in separate()


def check_finite(block: np.ndarray, where: str = "audio") -> None:
    """Raise InvalidSamplesError if a float block holds NaN or Inf."""
    if not np.isfinite(block).all():
        raise InvalidSamplesError(f"{where} contains NaN or Inf samples")


def run_config(mode: str = DEFAULT_MODE, stride: int = DEFAULT_STRIDE, lookahead: int = DEFAULT_LOOKAHEAD,
               wiener: bool = False, synthesis: str = "hann", edges: str = DEFAULT_EDGES) -> StreamConfig | OfflineConfig:
    """The keyword form of the API (mode="stream", stride=...) as the frozen config it stands for.

    Offline mode has centred windows of its own (engine/offline.py): stride, lookahead and synthesis are
    stream-mode settings, refused (UsageError) when set with mode="offline".
    """
    if mode == "stream":
        if wiener:
            # A stream call covers `stride` frames (tens of ms): too few to estimate a spatial covariance from,
            # and the live path's budget has no room for it.
            raise UsageError("Wiener filtering is an offline-mode option; stream mode does not support it")
        return StreamConfig(stride, lookahead, synthesis, edges=edges)
    if mode == "offline":
        if (stride, lookahead, synthesis) != (DEFAULT_STRIDE, DEFAULT_LOOKAHEAD, "hann"):
            # refused, not ignored: a caller who sets them expects them to matter
            raise UsageError("stride, lookahead and synthesis are stream-mode settings; offline mode has its own "
                             "centred windows: pass mode=\"stream\" or drop them")
        return OfflineConfig(wiener=wiener, edges=edges)
    raise UsageError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")


EDGE_WINDOWS = 1   # model windows (n_fft) of signal mirrored at each end of a file: see edge_pad


def edge_pad(profile, sample_rate: int, windows: int | None = None) -> int:
    """Samples of mirrored signal put before a file's first and after its last sample: ``windows`` x the
    model's n_fft (its rate), in samples at the file's ``sample_rate`` (rounded up).

    Why: without it the first and last frames are analysed against silence that is not in the music, and the
    U-Net masks them from zero context. On 7-s MUSDB18 clips with the hq model, one window mirrored at each
    end (4096 samples) scored best among none / one / two windows on the training split (README: the
    validation split's numbers; benchmarks/studies/edges.py).
    """
    windows = EDGE_WINDOWS if windows is None else windows  # read at the call: the study sets it per run
    return -(-windows * profile.n_fft * int(sample_rate) // profile.sample_rate)


class MirroredEdges:
    """The blocks of a file with up to ``pad`` samples of it reflected about its first and its last sample
    (numpy's "reflect": the edge sample itself is not repeated), block by block in bounded memory: only the
    first pad + 1 samples are gathered before anything is yielded, and the last pad + 1 are held back to be
    reflected once the blocks end.

    A file of L <= pad samples gets L - 1 on each side (what exists; none for one sample, nothing at all for
    an empty file). ``front`` (samples put before the file) is known once the first block has been yielded;
    ``end`` (index of the first sample after the file, in the padded stream) once the last of the file has.
    ``check``: block -> float (n, channels) array, raising UsageError for a block the stream cannot take
    (StreamSeparator's own check: a bad block is refused with its message, not by numpy's concatenate).
    With pad 0 the blocks pass through unchanged.
    """

    def __init__(self, blocks: Iterable[np.ndarray], pad: int, check=None):
        self.blocks, self.pad, self.check = blocks, int(pad), check
        self.front = 0 if pad == 0 else None
        self.end = None

    def __iter__(self) -> Iterator[np.ndarray]:
        if self.pad == 0:
            n = 0
            for block in self.blocks:
                n += len(block)
                yield block
            self.end = n
            return
        one_d = False
        held, n = [], 0
        it = iter(self.blocks)
        for block in it:  # gather the head: pad + 1 samples (or the whole file, if shorter)
            one_d = getattr(block, "ndim", 2) == 1
            held.append(self.check(block))
            n += len(held[-1])
            if n > self.pad:
                break
        if n == 0:
            self.front = self.end = 0
            return
        tail = np.concatenate(held)
        shape = (lambda y: y[:, 0]) if one_d else (lambda y: y)
        self.front = min(self.pad, n - 1)
        if self.front:
            yield shape(tail[self.front:0:-1])
        for block in it:  # the middle: pass on all but the last pad + 1 samples
            one_d = getattr(block, "ndim", 2) == 1
            shape = (lambda y: y[:, 0]) if one_d else (lambda y: y)
            x = self.check(block)
            n += len(x)
            tail = np.concatenate([tail, x])
            if len(tail) > self.pad + 1:
                yield shape(tail[:-(self.pad + 1)])
                tail = tail[-(self.pad + 1):]
        self.end = self.front + n
        back = min(self.pad, n - 1)
        yield shape(np.concatenate([tail, tail[len(tail) - 1 - back:len(tail) - 1][::-1]]))


def separate_blocks(
    model: OnnxModel,
    blocks: Iterable[np.ndarray],
    sample_rate: int,
    channels: int,
    config: StreamConfig | OfflineConfig = OfflineConfig(),
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Separate a sequence of float (n, channels) blocks; yields aligned (vocals, accompaniment) blocks.

    The yielded blocks are float32 (m, channels); their total length equals the
    total input length and sample i of the output belongs to sample i of the
    input. Only the stream's fixed-size state is held: memory does not grow
    with the input length. ``config.edges == "mirror"``: the stream runs on the
    file with :func:`edge_pad` samples mirrored at each end (:class:`MirroredEdges`),
    and only the file's own samples come out.
    """
    stream = make_stream(model, sample_rate, channels, config)
    pad = edge_pad(model.profile, sample_rate) if config.edges == "mirror" else 0
    fed = MirroredEdges(blocks, pad, check=stream._check_block)
    pos = -stream.latency  # index in the (padded) stream input of the next output sample
    total_out = 0

    def emit(out):
        nonlocal pos, total_out
        v, a = out["vocals"], out["accompaniment"]
        start, pos = pos, pos + len(v)
        lo = min(max(fed.front - start, 0), len(v))
        hi = len(v) if fed.end is None else max(lo, min(fed.end - start, len(v)))
        total_out += hi - lo
        return v[lo:hi], a[lo:hi]

    for block in fed:
        v, a = emit(stream.process(block))
        if len(v):
            yield v, a
    v, a = emit(stream.flush())
    if len(v):
        yield v, a
    assert total_out == fed.end - fed.front, (total_out, fed.end, fed.front)


# soundfile's scaling of integer PCM (dtype="int16"/"int32" reads): full scale is 2**(bits - 1).
_PCM_SCALE = {np.dtype(np.int16): 2.0 ** 15, np.dtype(np.int32): 2.0 ** 31}


def as_float_audio(audio) -> np.ndarray:
    """A float array as it is; int16 / int32 PCM scaled to [-1, 1) as soundfile reads it; anything else refused."""
    if isinstance(audio, np.ndarray) and audio.ndim in (1, 2):
        if audio.dtype.kind == "f":
            return audio
        if audio.dtype in _PCM_SCALE:
            return (audio / _PCM_SCALE[audio.dtype]).astype(np.float32)
    got = f"{audio.dtype} array of shape {audio.shape}" if isinstance(audio, np.ndarray) else type(audio).__name__
    raise UsageError(f"audio must be a float, int16 or int32 array of shape (frames, channels) or (frames,), got {got}")


def whole_rate(sample_rate):
    """A sample rate given as a whole number of Hz, an int or a float (44100.0 from a library): as an int."""
    if isinstance(sample_rate, (float, np.floating)) and float(sample_rate).is_integer():
        return int(sample_rate)
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)):
        raise UsageError(f"sample_rate must be a whole number of Hz, got {sample_rate!r}")
    return int(sample_rate)


def make_stream(model, sample_rate: int, channels: int, config: StreamConfig | OfflineConfig) -> StreamSeparator:
    """The StreamSeparator that runs ``config``: the live path's stream, or offline mode's centred windows."""
    if isinstance(config, StreamConfig):
        # (config.block is left out: it only shortens the latency, which a file's separation removes anyway,
        # and a file's last block has whatever size is left)
        return StreamSeparator(model, sample_rate, channels, replace(config, block=None))
    if isinstance(config, OfflineConfig):
        return offline_stream(model, sample_rate, channels, config)
    raise UsageError(f"config must be a StreamConfig or an OfflineConfig, got {type(config).__name__}")


class Separator:
    """A loaded model plus the ways to run it. Create with :meth:`Separator.load`."""

    def __init__(self, model: OnnxModel):
        self.model = model

    @classmethod
    def load(cls, model=None, provider: str = "cpu", threads: int | None = None, spinning: bool = True,
             background: bool = False) -> "Separator":
        """model: path to a vocalex ONNX file, a name ("default", "hq": engine/registry.py), or None for the bundled default.

        "hq" loads the converted Spleeter model from the per-user cache; if it has not
        been built there, ModelNotBuiltError (a ModelError) says how to build it
        (`vocalex models build hq`): the runtime does not import torch to build it itself.
        spinning=False suits separating files (see :meth:`OnnxModel.load`); the default keeps the live path's.
        background=True returns once the model's header is read and builds its session in a thread
        (:meth:`OnnxModel.load`): a corrupted model then raises its ModelError at the first separation.
        """
        return cls(OnnxModel.load(model, provider=provider, threads=threads, spinning=spinning, background=background))

    @property
    def profile(self) -> ModelProfile:
        return self.model.profile

    def separate(
        self,
        audio: np.ndarray,
        sample_rate: int,
        mode: str = DEFAULT_MODE,
        stride: int = DEFAULT_STRIDE,
        lookahead: int = DEFAULT_LOOKAHEAD,
        wiener: bool = False,
        synthesis: str = "hann",
        edges: str = DEFAULT_EDGES,
        *,
        config: StreamConfig | OfflineConfig | None = None,
    ) -> dict:
        """audio: float (frames, channels) or (frames,) -> {"vocals", "accompaniment"}: float32, same shape.

        int16 / int32 PCM is scaled to [-1, 1) as soundfile reads it; ``sample_rate`` may be an integral float.

        ``mode="stream"`` gives what the live path outputs for this stride / lookahead
        (latency removed; exactly so with ``edges="zero"``, else beyond the first model window); ``"offline"`` uses centred,
        overlapping windows and has no stride or lookahead of its own. ``config``: a
        :class:`StreamConfig` or :class:`OfflineConfig` instead of the keywords. ``wiener=True``
        (offline only) refines the vocals by multichannel Wiener filtering
        (:mod:`vocalex.engine.wiener`); the stems still sum to the input.
        ``synthesis`` (stream mode): "hann", or "low-delay" for the asymmetric
        window pair that cuts the STFT delay from n_fft - hop to one hop (engine/stft.py).
        ``edges``: "mirror" (default) runs the model on the file with a model window (n_fft) of it mirrored
        at each end, so that its first and last frames have real context; "zero": silence around it, as the
        live path has (stream mode then equals the live output sample for sample; see :func:`edge_pad`).
        """
        audio = as_float_audio(audio)
        sample_rate = whole_rate(sample_rate)
        x = audio if audio.ndim == 2 else audio[:, None]
        if x.shape[1] > MAX_CHANNELS and x.shape[0] <= MAX_CHANNELS:
            raise UsageError(f"audio has shape {audio.shape}: {x.shape[1]} channels? It looks transposed: pass audio.T "
                             "(frames first, as soundfile reads)")
        check_finite(x)
        config = config or run_config(mode, stride, lookahead, wiener, synthesis, edges)
        blocks = (x[i:i + BLOCK_FRAMES] for i in range(0, len(x), BLOCK_FRAMES))
        vocals = np.empty(x.shape, dtype=np.float32)
        accompaniment = np.empty(x.shape, dtype=np.float32)
        pos = 0
        for v, a in separate_blocks(self.model, blocks, sample_rate, x.shape[1], config):
            vocals[pos:pos + len(v)] = v
            accompaniment[pos:pos + len(a)] = a
            pos += len(v)
        if audio.ndim == 1:
            vocals, accompaniment = vocals[:, 0], accompaniment[:, 0]
        return {"vocals": vocals, "accompaniment": accompaniment}

    def separate_blocks(self, blocks: Iterable[np.ndarray], sample_rate: int, channels: int, mode: str = DEFAULT_MODE,
                        stride: int = DEFAULT_STRIDE, lookahead: int = DEFAULT_LOOKAHEAD,
                        wiener: bool = False, synthesis: str = "hann", edges: str = DEFAULT_EDGES, *,
                        config: StreamConfig | OfflineConfig | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Block-wise separate(): float (n, channels) blocks in, aligned float32 (vocals, accompaniment) blocks out.

        For files too long for memory (see :func:`separate_blocks`); blocks are
        not checked for NaN / Inf here (audio_io's reader does that).
        """
        config = config or run_config(mode, stride, lookahead, wiener, synthesis, edges)
        return separate_blocks(self.model, blocks, whole_rate(sample_rate), channels, config)

    def stream(self, sample_rate: int, channels: int = 2, stride: int = DEFAULT_STRIDE,
               lookahead: int = DEFAULT_LOOKAHEAD, synthesis: str = "hann", *,
               config: StreamConfig | None = None) -> StreamSeparator:
        """A live StreamSeparator for this model (process / flush / reset / latency); stereo unless ``channels`` says.

        ``process(block)`` takes float (frames, channels) blocks of any size, or
        (frames,) when channels is 1, and returns ``{"vocals", "accompaniment"}``
        arrays of the same shape, delayed by ``latency`` samples; ``flush()``
        returns the last ``latency`` samples the same way. ``synthesis="low-delay"``:
        the asymmetric STFT window pair (engine/stft.py), one hop of STFT delay.
        """
        return StreamSeparator(self.model, whole_rate(sample_rate), channels, config or StreamConfig(stride, lookahead, synthesis))

    def latency(self, sample_rate: int, config: StreamConfig | None = None) -> int:
        """Stream-mode latency in samples at ``sample_rate`` (engine.config.latency: no stream is built)."""
        return latency(self.profile, config or StreamConfig(), whole_rate(sample_rate))

    def lookahead_frames(self, ms: float) -> int:
        """Milliseconds of look-ahead -> frames for this model (rounded up)."""
        return lookahead_frames(ms, self.profile)
