"""Setting a live run up: load the model, measure it on this machine, plan stride / lookahead / headroom
(vocalex.live.plan), and make the stream the run will use."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from vocalex.base.errors import UsageError
from vocalex.engine.config import StreamConfig, latency, resolve_stream
from vocalex.engine.registry import is_name
from vocalex.engine.separator import Separator
from vocalex.engine.stream import check_window

from .choice import TablePlanner, choose_stream, table_for
from .devices import DeviceChoice, probe_device
from .defaults import DEFAULT_MARGIN_MS
from .plan import (CALIBRATION_SECONDS, DEFAULT_MAX_LOAD, Calibration, LatencyPlan, calibrate, check_margin_ms, choose_stride,
                   headroom_samples, plan_latency, stride_load, stride_samples, time_model_call)
from .scheduling import at_realtime_priority, freeze_heap

LIVE_DEFAULT_THREADS = 1


@dataclass
class LiveSetup:
    """A separator stream made for a device, with the plan that chose its stride and lookahead."""

    separator: object
    stream: object
    plan: LatencyPlan
    call_seconds: float      # measured time of one model call (channels batched)
    stride_period: int       # device samples between model calls
    calibration: Calibration  # per-block processing times the headroom was planned from
    choice: object = None     # live.choice.Chosen when the model and configuration came from the measured table

    def describe(self) -> str:
        """The plan line `vocalex live` (and the studio) prints: the planned latency by part, naming the stream's
        configuration."""
        return self.plan.describe(self.stream.describe())


def build_live_stream(
    devices: DeviceChoice,
    model=None,
    provider: str = "cpu",
    threads: int | None = None,
    stride: int | None = None,
    lookahead: int | None = None,
    latency_ms: float | None = None,
    blocksize: int = 256,
    margin_ms: float = DEFAULT_MARGIN_MS,
    separator=None,
    max_load: float = DEFAULT_MAX_LOAD,
    calibration_seconds: float = CALIBRATION_SECONDS,
    synthesis: str = "low-delay",
    window: int | None = None,
    lowest: bool = False,
) -> LiveSetup:
    """Load the model (or use ``separator``), measure it, choose stride/lookahead and headroom, make the stream.

    The stride is the smallest the measured model call allows (:func:`choose_stride`)
    unless ``stride`` is given; with ``latency_ms`` the lookahead is the largest
    that fits the target (:func:`plan_latency`), else ``lookahead`` (default 0).
    The headroom comes from a calibration of the chosen stream on this machine
    (:func:`calibrate`) plus ``margin_ms``, in whole device blocks. ``window``: frames per model call
    (StreamConfig.window; None for the model's n_frames).

    The model and its configuration come from the measured table (live/choice.py) when nothing pins them: no
    ``separator``, ``stride``, ``lookahead`` or ``window``, and either no ``model`` (then the best quality within
    ``latency_ms``, or within choice.DEFAULT_TARGET_MS) or a named model with ``latency_ms`` (its rows only).
    ``lowest``: the configuration with the lowest planned latency here instead of a target.
    """
    if latency_ms is not None and (stride is not None or lookahead is not None):
        raise UsageError("give either `latency_ms` or `stride`/`lookahead`, not both")
    if latency_ms is not None and not (math.isfinite(latency_ms) and latency_ms > 0):
        raise UsageError(f"`latency_ms` must be a positive number, got {latency_ms:g}")
    check_margin_ms(margin_ms)
    # One ONNX Runtime thread unless told otherwise: the default pool spin-waits on every core, which
    # steals the CPU the audio threads need; on this 2-core machine under load a call took 13 ms with
    # one thread and 30 ms with the default pool.
    threads = LIVE_DEFAULT_THREADS if threads is None else threads
    rate, channels = devices.samplerate, devices.channels
    table = _table_rows(model, separator, stride, lookahead, window, latency_ms, lowest, synthesis)
    device, callback_priority = probe_device(devices, blocksize)
    # the worker (and so the timing of it) runs one realtime step below a realtime callback
    worker_priority = None if callback_priority is None else max(1, callback_priority - 1)
    if table:
        freeze_heap()  # as the live run will have it (LiveEngine.start), so that the calibrations do not time collections
        planner = TablePlanner(rate, channels, blocksize, device, margin_ms, provider, threads, worker_priority,
                               calibration_seconds)
        chosen = choose_stream(planner, table, latency_ms, lowest)
        return LiveSetup(chosen.separator, chosen.separator.stream(rate, channels, config=chosen.config), chosen.plan,
                         chosen.call_seconds, stride_samples(chosen.plan.stride, chosen.separator.profile.hop_length,
                                                             chosen.separator.profile.sample_rate, rate),
                         chosen.calibration, chosen)
    sep = separator if separator is not None else Separator.load(model=model, provider=provider, threads=threads)
    if window is not None:  # a window the graph cannot take is refused before anything is timed
        StreamConfig(window=window).check(sep.profile)
        check_window(sep.model, channels, window)
    call_seconds = at_realtime_priority(worker_priority, time_model_call, sep.model, channels, 8, window)
    # The device's period is fixed: at the model's rate the stream needs no hold for other block sizes
    # (StreamConfig.block: 5.8 ms less for the bundled model with 256-sample blocks). The worker feeds it whole blocks.
    block = blocksize if rate == sep.profile.sample_rate else None
    # One config, checked once; the planner varies only its stride and lookahead.
    base = resolve_stream(sep.profile, stride if stride is not None else choose_stride(call_seconds, sep.profile, max_load),
                          lookahead, synthesis, window, block)
    return _planned(sep, devices, base, call_seconds, latency_ms, blocksize, device, worker_priority, margin_ms, max_load,
                    calibration_seconds)


def _planned(sep, devices, base: StreamConfig, call_seconds: float, latency_ms, blocksize: int, device: int,
             worker_priority, margin_ms: float, max_load: float, calibration_seconds: float) -> LiveSetup:
    """The stream of ``base`` planned for this machine: a calibration of it, then its stride / lookahead (for a
    ``latency_ms`` target: the largest lookahead that fits) and the headroom."""
    profile, rate, channels = sep.profile, devices.samplerate, devices.channels
    hop, model_rate = profile.hop_length, profile.sample_rate
    # The stride fixes which blocks pay for a model call; lookahead does not change the work per block,
    # so one calibration at lookahead 0 serves every lookahead the planner tries.
    freeze_heap()  # as the live run will have it (LiveEngine.start), so that the calibration does not time collections
    calibration = calibrate(sep.stream(rate, channels, config=replace(base, lookahead=0)), blocksize,
                            calibration_seconds, priority=worker_priority)
    if latency_ms is not None:
        plan = plan_latency(
            profile, call_seconds, latency_ms, rate, blocksize,
            lambda st, lk: latency(profile, replace(base, stride=st, lookahead=lk), rate),  # pure: no stream is built
            calibration.need, device, max_load, margin_ms,
        )
    else:
        plan = LatencyPlan(
            base.stride, base.lookahead, latency(profile, base, rate),
            headroom_samples(calibration.need, rate, blocksize, margin_ms),
            device, rate, stride_load(call_seconds, base.stride, hop, model_rate),
        )
    stream = sep.stream(rate, channels, config=replace(base, stride=plan.stride, lookahead=plan.lookahead))
    period = stride_samples(plan.stride, hop, model_rate, rate)
    return LiveSetup(sep, stream, plan, call_seconds, period, calibration)


def _table_rows(model, separator, stride, lookahead, window, latency_ms, lowest, synthesis) -> list:
    """The measured candidates to choose from (live/choice.py), or [] where the caller pinned the model's setting."""
    if separator is not None or stride is not None or lookahead is not None or window is not None:
        if lowest:
            raise UsageError("the lowest latency is chosen from the measured table: drop `stride`/`lookahead`/`window`")
        return []
    if model is not None and not (is_name(model) and (latency_ms is not None or lowest)):
        return []
    rows = table_for(model if model is not None else None, synthesis)
    if not rows and (lowest or model is None):
        raise UsageError(f"no measured configuration with {synthesis} synthesis to choose from: give `model` and `stride`")
    return rows
