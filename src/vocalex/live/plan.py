"""How long the live path waits, and why: the stride and the compute headroom, planned from measurement.

What a listener hears is delayed by three parts (device samples):

* ``algorithmic`` L: the separator's own latency (``stream.latency``): the STFT
  window, the wait for the end of a stride, the lookahead, the hop hold and the
  resamplers;
* ``headroom`` H: how long the worker may take to turn a device block into
  output. Block k arrives in callback k and its output is due in callback
  k + H / blocksize, so the worker has H samples of time for it;
* ``device``: what the audio server and PortAudio buffer on the way in and out.

H is planned from a **calibration**: before the stream opens, the real
separator stream (same model, stride, lookahead, rate, channels and block size)
processes a few seconds of noise block by block and each block's processing
time is measured. The slowest blocks are the ones that complete a stride and
pay for the model call, so the p99.9 of those times, with a safety factor and
a wake-up allowance for the worker thread, is what H must cover, rounded up to
whole device blocks. Earlier versions kept one whole stride (plus a block) of
headroom whatever the call cost; measuring lets a 5 ms model call on a 23 ms
stride cost 2 blocks instead of 5.

The stride is the smallest whose model load (median block time summed over a
stride / the stride's duration) stays within ``max_load``: a larger stride only
adds waiting, while a smaller one would leave the worker no time to catch up
after a slow call.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from vocalex.base.errors import UsageError

from .defaults import MAX_MARGIN_MS
from .scheduling import at_realtime_priority, realtime_priority

# need = SAFETY * p99.9 + WAKE_UP_S: the p99.9 of a few seconds of blocks is close to their maximum, and the live
# worker shares the GIL and two cores with the audio callback, the meter and the OS; measured here the live
# per-block p99 ran 10-30 % above the calibration's, hence 1.5x, and the worker polls its ring every <= 1 ms.
SAFETY = 1.5
WAKE_UP_S = 0.001
CALIBRATION_SECONDS = 2.0   # audio per calibration round: ~1 s of wall time (idling as long as each block took)
CALIBRATION_ROUNDS = 3      # rounds; the plan takes the median of their p99.9 (see calibrate)
# The worker shares two cores with the audio server, the audio callback and the loopback harness: measured here
# through JACK with the bundled model (5 ms calls), stride 2 (43 % load) left 56-1225 late blocks in 20 s, while
# stride 3 (29 %) and 4 (22 %) left none, however much headroom stride 2 was given.
DEFAULT_MAX_LOAD = 0.35
# ... and over 5 minutes (benchmarks/bench_live.py --seconds 300) stride 3 still left 97 and 2420 late blocks in
# two runs and stride 2 8908 and 11707, while stride 4 left none: the stride the planner chooses by itself is
# never below this (an explicit --stride can go lower, e.g. where the model call is nearly free).
MIN_AUTO_STRIDE = 4


def check_margin_ms(margin_ms: float) -> None:
    """UsageError unless ``margin_ms`` is a number of milliseconds in 0..MAX_MARGIN_MS."""
    if not (math.isfinite(margin_ms) and 0 <= margin_ms <= MAX_MARGIN_MS):
        raise UsageError(f"`margin_ms` must be in 0..{MAX_MARGIN_MS:g}, got {margin_ms:g}")


def stride_samples(stride: int, hop: int, model_rate: int, device_rate: int) -> int:
    """Device samples between two model calls: stride hops at the model rate, converted to the device rate."""
    return math.ceil(stride * hop * device_rate / model_rate)


def headroom_samples(need_seconds: float, device_rate: int, blocksize: int, margin_ms: float = 0.0) -> int:
    """The compute headroom H in device samples: ``need_seconds`` plus the margin, rounded up to whole blocks (at least one)."""
    blocks = max(1, math.ceil((need_seconds + margin_ms / 1000.0) * device_rate / blocksize - 1e-9))
    return blocks * blocksize


@dataclass(frozen=True)
class Calibration:
    """Per-block processing times of the live worker's separator stream, measured on this machine (seconds)."""

    blocks: int
    blocksize: int
    p50: float
    p99: float
    p999: float
    max: float
    mean: float
    priority: int | None = None  # the realtime priority it ran at (the live worker's), None = ordinary scheduling
    rounds: tuple = ()           # each round's p99.9; p999 is their median

    @property
    def need(self) -> float:
        """Seconds of headroom the worker needs: SAFETY x p99.9 + the worker's wake-up allowance."""
        return SAFETY * self.p999 + WAKE_UP_S

    def describe(self) -> str:
        ms = 1000.0
        return (
            f"calibration: {self.blocks} blocks of {self.blocksize} processed, per block p50 {ms * self.p50:.2f} ms, "
            f"p99 {ms * self.p99:.2f} ms, p99.9 {ms * self.p999:.2f} ms"
            + (f" (median of {len(self.rounds)} rounds: {' / '.join(f'{ms * x:.2f}' for x in self.rounds)})"
               if len(self.rounds) > 1 else "")
            + f", max {ms * self.max:.2f} ms; "
            f"headroom covers {ms * self.need:.1f} ms ({SAFETY:g} x p99.9 + {ms * WAKE_UP_S:g} ms)"
            + ("" if self.priority is None else f"; measured at the worker's realtime priority {self.priority}")
        )


def calibrate(stream, blocksize: int, seconds: float = CALIBRATION_SECONDS, seed: int = 0,
              priority: int | None = None, rounds: int = CALIBRATION_ROUNDS) -> Calibration:
    """Time ``stream.process`` block by block on ``seconds`` of noise, ``rounds`` times, after a warm-up; the
    stream is reset after.

    stream: a StreamSeparator made exactly as the live one (it is used up and reset).
    The warm-up covers the separator's latency and two strides, so that
    numba's kernels, ONNX Runtime's first runs and the model-call blocks are
    all past before timing starts. priority: the live worker's realtime
    priority, to measure at (:func:`at_realtime_priority`).

    The p99.9 planned from is the median of the rounds' p99.9: each round's is in
    effect its slowest model-call block, so one stall of the machine during a
    2-s round (a VM descheduled for 15-35 ms) set the whole plan, 17-23 ms more
    than the next run on the same machine; the run's own tails are what the
    safety factor and the margin are for.
    """
    if priority is not None:
        return at_realtime_priority(priority, calibrate, stream, blocksize, seconds, seed, None, rounds)
    rate, channels = stream.sample_rate, stream.channels
    import numpy as np  # here, not at the top: `vocalex live --help` reads this module's defaults without numpy

    rng = np.random.default_rng(seed)
    block = np.empty((blocksize, channels), dtype=np.float32)
    warm = -(-(int(stream.latency) + 2 * blocksize + rate // 10) // blocksize)
    n = max(1, round(seconds * rate / blocksize))
    noise = (0.1 * rng.standard_normal((n + warm, blocksize, channels))).astype(np.float32)
    times = np.empty((max(1, int(rounds)), n))
    for i in range(warm):
        np.copyto(block, noise[i])
        stream.process(block)
    for r in range(len(times)):
        for i in range(n):
            np.copyto(block, noise[warm + i])
            t0 = time.perf_counter()
            stream.process(block)
            times[r, i] = time.perf_counter() - t0
            # Idle as long as the block took, as the live worker idles between blocks: a realtime thread that never
            # sleeps is throttled by Linux after 0.95 s of every second (sched_rt_runtime_us), which showed up here
            # as 55 ms blocks once a second; the idle time also leaves the caches as the live loop finds them.
            time.sleep(times[r, i])
    stream.reset()
    per_round = np.percentile(times, 99.9, axis=1)
    # p99 the same way as p99.9 (the median of the rounds'): pooled over the rounds it could come out above the
    # median p99.9 when one round stalled (seen: p99 6.86 ms beside p99.9 6.13 ms)
    return Calibration(
        blocks=times.size, blocksize=blocksize,
        p50=float(np.percentile(times, 50)), p99=float(np.median(np.percentile(times, 99, axis=1))),
        p999=float(np.median(per_round)), max=float(times.max()), mean=float(times.mean()),
        priority=realtime_priority(0),  # 0: this thread
        rounds=tuple(float(x) for x in per_round),
    )


@dataclass(frozen=True)
class LatencyPlan:
    """Stride and lookahead for a live run, and what each part of the delay costs (device samples)."""

    stride: int
    lookahead: int
    algorithmic: int      # separator latency L: overlap-add, stride, lookahead, hop hold, resampling
    headroom: int         # compute headroom H
    device: int           # device/server buffering (input + output) as reported
    samplerate: int
    load: float           # worker time per stride / stride duration (median block times)

    @property
    def total(self) -> int:
        return self.algorithmic + self.headroom + self.device

    def ms(self, samples: int) -> float:
        return 1000.0 * samples / self.samplerate

    def describe(self, configuration: str) -> str:
        """The plan line: the total and its parts, then the configuration they belong to (a stream's describe(),
        engine.config.describe_stream)."""
        return (
            f"latency {self.ms(self.total):.1f} ms = algorithmic {self.ms(self.algorithmic):.1f} ms + compute headroom "
            f"{self.ms(self.headroom):.1f} ms + device buffers {self.ms(self.device):.1f} ms [{configuration}] "
            f"(model load {100 * self.load:.0f}%)"
        )


def stride_load(call_seconds: float, stride: int, hop: int, model_rate: int) -> float:
    """Model load at ``stride``: one call's time over the stride's duration."""
    return call_seconds / (stride * hop / model_rate)


def choose_stride(call_seconds: float, profile, max_load: float = DEFAULT_MAX_LOAD, max_stride: int = 64,
                  min_stride: int = MIN_AUTO_STRIDE) -> int:
    """The smallest stride >= ``min_stride`` whose model load stays within ``max_load``; UsageError if none does."""
    hop, rate = profile.hop_length, profile.sample_rate
    for stride in range(min(min_stride, profile.n_frames), min(max_stride, profile.n_frames) + 1):
        if stride_load(call_seconds, stride, hop, rate) <= max_load:
            return stride
    raise UsageError(
        f"the model is too slow for live use here: one call takes {1000 * call_seconds:.1f} ms, "
        f"more than {100 * max_load:.0f}% of even a {min(max_stride, profile.n_frames)}-frame stride"
    )


def plan_latency(
    profile,
    call_seconds: float,
    target_ms: float,
    device_rate: int,
    blocksize: int,
    latency_of,
    need_seconds: float,
    device_samples: int = 0,
    max_load: float = DEFAULT_MAX_LOAD,
    margin_ms: float = 0.0,
    max_stride: int = 64,
    max_lookahead: int = 64,
) -> LatencyPlan:
    """The best-quality stride and lookahead whose total latency fits ``target_ms``.

    profile: the model's ModelProfile; call_seconds: one model call's time
    (for the load); need_seconds: what the headroom must cover (a
    :class:`Calibration`'s ``need``); latency_of(stride, lookahead) -> the
    separator's latency in device samples. The stride is :func:`choose_stride`'s;
    the lookahead, which is what buys quality, is then the largest that keeps
    algorithmic + headroom + device within the target. Raises UsageError naming
    the lowest reachable latency when none fits.
    """
    stride = choose_stride(call_seconds, profile, max_load, max_stride)
    load = stride_load(call_seconds, stride, profile.hop_length, profile.sample_rate)
    headroom = headroom_samples(need_seconds, device_rate, blocksize, margin_ms)
    target = target_ms * device_rate / 1000.0

    def plan(lookahead):
        return LatencyPlan(stride, lookahead, int(latency_of(stride, lookahead)), headroom, device_samples, device_rate, load)

    best = plan(0)
    if best.total > target:
        raise UsageError(
            f"--latency-ms {target_ms:g} is below what this model and device can reach here: "
            f"{best.ms(best.total):.1f} ms at stride {stride} (model call {1000 * call_seconds:.1f} ms)"
        )
    for lookahead in range(1, min(max_lookahead, profile.n_frames - stride) + 1):  # the engine's limit
        candidate = plan(lookahead)
        if candidate.total > target:
            break
        best = candidate
    return best


def time_model_call(model, channels: int, repeats: int = 8, window: int | None = None) -> float:
    """Seconds per model call on a (channels, n_bins, window) batch (window: the model's n_frames unless given):
    the 75th percentile after warm-up."""
    p = model.profile
    import numpy as np

    x = np.zeros((model.rows_for(channels), p.n_bins, window or p.n_frames), dtype=np.float32)
    for _ in range(2):
        model.run(x)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.run(x)
        times.append(time.perf_counter() - t0)
    return float(np.percentile(times, 75))
