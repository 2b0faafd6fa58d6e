"""What a running live engine reports: the delay by part, and the meter's snapshot (read without locks)."""

from __future__ import annotations

import math
import time


def latency_report(engine) -> dict:
    """The delay from input to output of a LiveEngine, by part, in frames and ms."""
    device = sum(engine.device_latency)
    total = engine.algorithmic + engine.headroom + device
    sr = engine.samplerate
    return {
        "samplerate": sr,
        "blocksize": engine.blocksize,
        "algorithmic_samples": engine.algorithmic,
        "headroom_samples": engine.headroom,
        "device_samples": device,
        "device_input_samples": engine.device_latency[0],
        "device_output_samples": engine.device_latency[1],
        "total_samples": total,
        "algorithmic_ms": 1000 * engine.algorithmic / sr,
        "headroom_ms": 1000 * engine.headroom / sr,
        "device_ms": 1000 * device / sr,
        "total_ms": 1000 * total / sr,
    }


def snapshot(engine) -> dict:
    """What the meter shows of a LiveEngine, read without locks (values may be one block apart)."""
    s = engine.stats
    sr = engine.samplerate
    seconds, frames = engine.compute_times()
    recent = slice(-64, None)
    audio = frames[recent].sum() / sr
    load = float(seconds[recent].sum() / audio) if audio > 0 else 0.0
    period = engine.stride_period / sr
    return {
        "elapsed": 0.0 if engine.started_at is None else time.perf_counter() - engine.started_at,
        "input_dbfs": _dbfs(s.input_peak),
        "output_dbfs": _dbfs(s.output_peak),
        "latency_ms": latency_report(engine)["total_ms"],
        "load": load,
        "compute_ms_per_stride": 1000 * load * period,
        "budget_ms_per_stride": 1000 * period,
        "late_blocks": s.late_blocks,
        "xruns": s.xruns,
        "resyncs": s.resyncs,
        "callbacks": s.callbacks,
    }


def _dbfs(peak: float) -> float:
    return 20 * math.log10(peak) if peak > 1e-10 else -math.inf
