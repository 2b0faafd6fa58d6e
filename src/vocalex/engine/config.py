"""How a model is run: the frozen run configurations, their defaults, and the latency they imply.

Imports nothing heavy at module level (the CLI's option builders read the defaults from here while
``vocalex --help`` must not load numpy).

* :class:`StreamConfig` (stride, lookahead, synthesis): the stream / live mode. Its latency is a pure
  function of the model's profile, the config and the host rate (:func:`latency`): no stream has to be
  built to read it (the live planner asks it for every candidate).
* :class:`OfflineConfig` (wiener, context): the file mode, centred windows (engine/offline.py).
* :class:`CoreConfig`: what either comes to for one model, every setting resolved (the window in frames,
  calls batched or pipelined, which kernels): the stream, the masking core and the latency take it whole.
* :func:`resolve_stream`: the one resolver of a stream's settings as a user gives them (None for the
  default, lookahead in frames or "20ms"): defaults, milliseconds -> frames and the checks, in one place.
* :func:`stream_output_frames`: which frames of a model window the stream mode outputs; the engine's
  masking core and training's streaming loss both ask here.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from vocalex.base.errors import UsageError

MODES = ("offline", "stream")
DEFAULT_MODE = "offline"
DEFAULT_STRIDE = 4      # frames between model calls in stream mode
DEFAULT_LOOKAHEAD = 0   # frames of look-ahead in stream mode
SYNTHESES = ("hann", "low-delay")
# What a file's separation puts before its first and after its last sample (engine/separator.py, edge_pad):
# "mirror" the signal reflected about its first / last sample, "zero" silence (what the live path has).
EDGES = ("mirror", "zero")
DEFAULT_EDGES = "mirror"
KERNELS = ("numba", "numpy")
PROVIDER_NAMES = ("cpu", "cuda")  # engine.contract.PROVIDERS maps them to ONNX Runtime's
DEFAULT_PROVIDER = "cpu"


@dataclass(frozen=True)
class StreamConfig:
    """Stream mode: a model call every ``stride`` frames, ``lookahead`` frames of future context per call,
    ``synthesis`` "hann" or "low-delay" (engine/stft.py: one hop of STFT delay instead of n_fft - hop).

    ``block``: a promise that every block given to the stream holds a multiple of this many samples
    (a live device's fixed period), or None for blocks of any size. A stream must hold back its output
    until the next model call can have happened whatever the block size: up to hop - 1 samples more
    than the stride itself needs (5.8 ms for the bundled model). Blocks of a fixed size only ever end
    at multiples of it, so at the model's rate the hold shrinks to what they need (:func:`core_holdback`;
    none for blocks of one hop or a multiple of it). The output is the same signal, just less delayed:
    the cost is that the stream refuses a block of another size. At another host rate the resampler's
    outputs do not fall on block boundaries and the block changes nothing.

    ``mirror``: the last ``mirror`` columns of each model window are the newest analysed frames mirrored in
    time (frames t-1, t-2, ... after the newest frame t) instead of real frames: a U-Net that sees zeros past
    the window's edge masks its newest frames worst, and those are the ones a stream emits; a mirrored
    continuation is a stand-in future that costs no latency and no compute (the window keeps its length,
    its real context is ``mirror`` frames shorter). Stream mode only; see engine/core.py for the numbers.

    ``window``: frames the model sees per call, None for the model's own n_frames. A model whose graph
    has a dynamic frames axis can run shorter windows: less context, a cheaper call (the bundled model:
    64 frames, 1.5 s, a call of ~2.9 ms instead of ~5 ms on one core), the same latency. A graph that
    cannot take the length is refused when the stream is built.

    ``edges``: what the separation of a *file* in stream mode puts around the file (:data:`EDGES`); the live
    path has no file start and ignores it.
    """

    stride: int = DEFAULT_STRIDE
    lookahead: int = DEFAULT_LOOKAHEAD
    synthesis: str = "hann"
    block: int | None = None
    window: int | None = None
    mirror: int = 0
    edges: str = DEFAULT_EDGES

    def __post_init__(self):
        check_edges(self.edges)
        for name in ("stride", "lookahead", "mirror"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):  # numpy integers are Integral
                raise UsageError(f"{name} must be an integer, got {value!r}")
        if self.synthesis not in SYNTHESES:
            raise UsageError(f"synthesis must be one of {', '.join(SYNTHESES)}, got {self.synthesis!r}")
        if self.block is not None and (isinstance(self.block, bool) or not isinstance(self.block, numbers.Integral)
                                       or self.block < 1):
            raise UsageError(f"block must be a positive number of samples or None, got {self.block!r}")
        if self.window is not None and (isinstance(self.window, bool) or not isinstance(self.window, numbers.Integral)
                                        or self.window < 1):
            raise UsageError(f"window must be a positive number of frames or None, got {self.window!r}")

    def check(self, profile) -> None:
        """UsageError when this config does not fit the model's window (naming the valid range)."""
        self.resolve(profile)

    def resolve(self, profile) -> "CoreConfig":
        """This config for the model of ``profile``: its window in frames, checked (UsageError names the range)."""
        return CoreConfig(self.stride, self.lookahead, self.window or profile.n_frames, self.synthesis, self.block,
                          mirror=self.mirror)


@dataclass(frozen=True)
class OfflineConfig:
    """File mode: centred windows with ``context`` frames each side (None: engine/offline.py's default),
    ``wiener`` for multichannel Wiener filtering of the vocals (engine/wiener.py), ``edges`` what is put
    around the file (:data:`EDGES`, engine/separator.py)."""

    wiener: bool = False
    context: int | None = None
    edges: str = DEFAULT_EDGES

    def __post_init__(self):
        check_edges(self.edges)


def check_edges(edges) -> None:
    if edges not in EDGES:
        raise UsageError(f"edges must be one of {', '.join(EDGES)}, got {edges!r}")


@dataclass(frozen=True)
class CoreConfig:
    """How the masking core runs, every setting resolved for one model: what a StreamConfig (one window per
    call, the numba kernels of the live path) or an OfflineConfig (engine/offline.py: centred windows, batched
    and pipelined calls, the numpy kernels) comes to. The stream, the masking core and the latency take it whole.

    ``n_frames``: frames per model window (``mirror`` of them mirrored: StreamConfig.mirror); ``windows_per_call`` stride-spaced windows go into one model call;
    ``pipelined``: each call runs in a thread while the next input is analysed (one call more of holdback);
    ``wiener_iterations`` > 0: multichannel Wiener filtering of each call's vocals (offline only); ``kernels``:
    "numba" (compiled per-hop loops) or "numpy" (their vectorised twins, no numba start-up; Hann synthesis only).
    """

    stride: int
    lookahead: int
    n_frames: int
    synthesis: str = "hann"
    block: int | None = None
    windows_per_call: int = 1
    pipelined: bool = False
    wiener_iterations: int = 0
    kernels: str = "numba"
    mirror: int = 0

    def __post_init__(self):
        StreamConfig(self.stride, self.lookahead, self.synthesis, self.block, mirror=self.mirror)  # types and names
        if not 1 <= self.stride <= self.n_frames:
            raise UsageError(f"stride must be in 1..{self.n_frames} frames, got {self.stride}")
        if not 0 <= self.lookahead <= self.n_frames - self.stride:
            raise UsageError(f"lookahead must be in 0..{self.n_frames - self.stride} frames (n_frames - stride), "
                             f"got {self.lookahead}")
        # the real frames must hold the stride and the lookahead, and the mirror reflects real frames only
        most = min(self.n_frames - self.stride - self.lookahead, (self.n_frames - 1) // 2)
        if not 0 <= self.mirror <= most:
            raise UsageError(f"mirror must be in 0..{most} frames (at most n_frames - stride - lookahead, and under "
                             f"half the window), got {self.mirror}")
        if self.kernels not in KERNELS:
            raise ValueError(f"kernels must be one of {KERNELS}, got {self.kernels!r}")
        if self.kernels == "numpy" and self.synthesis != "hann":
            raise ValueError("the numpy kernels (offline mode) have Hann synthesis only")
        if self.kernels == "numpy" and self.mirror:
            raise ValueError("mirrored window ends are a stream-mode option (numba kernels)")
        for name in ("stride", "lookahead", "n_frames", "windows_per_call", "wiener_iterations", "mirror"):
            object.__setattr__(self, name, int(getattr(self, name)))  # numpy integers in, plain ints kept

    @property
    def frames_per_call(self) -> int:
        """Frames a model call emits: ``stride`` per window."""
        return self.stride * self.windows_per_call


def stream_output_frames(n_frames: int, stride: int, lookahead: int) -> slice:
    """The frames of an ``n_frames`` window whose masks the stream mode outputs: T-L-stride .. T-L-1.

    Each model call's window ends at the newest analysed frame; the ``lookahead`` newest frames are only
    context, and the ``stride`` frames before them are emitted (engine/core.py MaskingCore).
    """
    if not 1 <= stride <= n_frames or not 0 <= lookahead <= n_frames - stride:
        raise ValueError(f"stride {stride} / lookahead {lookahead} do not fit a {n_frames}-frame window")
    return slice(n_frames - lookahead - stride, n_frames - lookahead)


def core_holdback(hop: int, frames_per_call: int, lookahead: int, pipelined: bool = False, block: int | None = None) -> int:
    """Samples the masking core's output may lag its input at the model rate (the core's prefill).

    A frame's mask comes with the call that emits it: ``frames_per_call`` frames are gathered, plus
    ``lookahead`` frames of future; a pipelined core (offline) is one call further behind. A call
    happens when the input count reaches a multiple of P = frames_per_call * hop, so the output lags
    by (count mod P) + the rest; over all counts that is at most P - 1. If every block holds a
    multiple of ``block`` samples, the counts at block ends are multiples of it, and count mod P is
    at most P - gcd(block, P): one hop less than P for blocks of a hop (StreamConfig.block).
    """
    return ((2 if pipelined else 1) * frames_per_call + lookahead) * hop - (math.gcd(block, frames_per_call * hop) if block else 1)


def stream_delays(profile, host_rate: int, core: CoreConfig) -> tuple[int, int, float]:
    """(align, prefill, delay_fraction) of a stream running ``core`` at ``host_rate``: latency = align + prefill samples.

    align: the STFT delay in host samples (rounded up; the fraction below it goes into the mask's phase);
    prefill: the worst holdback of resampler up + core + resampler down, in host samples.
    core.block shortens the core's holdback at the model's own rate only.
    """
    from .resample import measure_holdback
    from .stft import stft_delay

    rate, hop = profile.sample_rate, profile.hop_length
    base_align = stft_delay(profile.n_fft, hop, core.synthesis)
    if host_rate == rate:
        return base_align, core_holdback(hop, core.frames_per_call, core.lookahead, core.pipelined, core.block), 0.0
    held = core_holdback(hop, core.frames_per_call, core.lookahead, core.pipelined)
    # Smallest integer host delay >= the core's; the fraction goes into the mask's phase.
    align = -(-base_align * host_rate // rate)
    delta = align * rate / host_rate - base_align
    # (the resamplers' holdback does not depend on the channel count: the filter is the same per channel)
    worst = (measure_holdback(host_rate, rate, 1) + held) * host_rate / rate + measure_holdback(rate, host_rate, 1)
    return int(align), int(math.ceil(worst)) + 1, delta


def latency(profile, config: StreamConfig | CoreConfig, host_rate: int) -> int:
    """Algorithmic latency in host samples of the stream mode with ``config`` (what StreamSeparator.latency is)."""
    core = config.resolve(profile) if isinstance(config, StreamConfig) else config
    align, prefill, _ = stream_delays(profile, int(host_rate), core)
    return align + prefill


def describe_stream(config: StreamConfig | CoreConfig, model: str, host_rate: int) -> str:
    """The configuration a stated latency belongs to, in the words every command prints it with (issue 24: one
    latency vocabulary), e.g. ``model 0.3.1-live1024-11k-stereo-cpu, stride 4, lookahead 0, low-delay synthesis,
    128-frame windows, 44100 Hz in blocks of 256``. It names everything :func:`latency` depends on (the model's
    profile by its version, stride, lookahead, synthesis, host rate, the device block where it shortens the hold)
    and what else tells two configurations apart (the window, mirrored frames).

    ``config``: a StreamConfig (its window None: the model's own, written "model's windows") or a stream's
    resolved CoreConfig.
    """
    window = config.window if isinstance(config, StreamConfig) else config.n_frames
    parts = [f"model {model}", f"stride {config.stride}", f"lookahead {config.lookahead}", f"{config.synthesis} synthesis",
             "model's windows" if window is None else f"{window}-frame windows"]
    if config.mirror:
        parts.append(f"{config.mirror} mirrored")
    parts.append(f"{int(host_rate)} Hz" + (f" in blocks of {config.block}" if config.block else ""))
    return ", ".join(parts)


def lookahead_frames(ms: float, profile) -> int:
    """Look-ahead of at least ``ms`` milliseconds, in whole STFT frames of the model."""
    if not math.isfinite(ms) or ms < 0:
        raise UsageError(f"lookahead must be a non-negative number of milliseconds, got {ms}")
    return math.ceil(round(ms * profile.sample_rate / (1000.0 * profile.hop_length), 9))


def parse_lookahead(text, profile) -> int:
    """3 or '3' (frames) or '20ms' (milliseconds, rounded up to frames) -> frames."""
    t = str(text).strip().lower()
    try:
        if t.endswith("ms"):
            return lookahead_frames(float(t[:-2]), profile)
        return int(t)
    except ValueError:
        raise UsageError(f"lookahead must be frames (e.g. 3) or milliseconds (e.g. 20ms), got {text!r}") from None


def resolve_stream(profile, stride: int | None = None, lookahead: int | str | None = None, synthesis: str = "hann",
                   window: int | None = None, block: int | None = None, edges: str = DEFAULT_EDGES) -> StreamConfig:
    """A stream's settings as a user gives them -> the checked StreamConfig for the model of ``profile``.

    None takes the default (DEFAULT_STRIDE, DEFAULT_LOOKAHEAD); ``lookahead`` is frames (3 or "3") or milliseconds
    ("20ms", rounded up to whole frames of this model). UsageError names the setting and its valid range.
    """
    frames = DEFAULT_LOOKAHEAD if lookahead is None else parse_lookahead(lookahead, profile)
    config = StreamConfig(DEFAULT_STRIDE if stride is None else stride, frames, synthesis, block, window, edges=edges)
    config.check(profile)
    return config
