"""The live path's parts that need no audio server: the ring buffer, stem gains, the latency plan, the
calibration, thread priorities, the meter (tests/live/test_live.py runs them together on a JACK server)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vocalex.base.errors import UsageError
from vocalex.engine import Separator
from vocalex.engine.contract import ModelProfile
from vocalex.live.gains import stem_gains
from vocalex.live.plan import SAFETY, WAKE_UP_S, calibrate, choose_stride, headroom_samples, plan_latency
from vocalex.live.ringbuffer import SpscRing


# -- the ring buffer --------------------------------------------------------------------------


def test_ring_keeps_absolute_positions_across_wraparound():
    ring = SpscRing(10, 2)
    data = np.arange(46, dtype=np.float32).reshape(23, 2)
    out = np.zeros((4, 2), np.float32)
    got = []
    for start in range(0, 23, 3):  # writes of 3, reads of up to 4: the storage wraps several times
        ring.write(data[start:start + 3])
        while ring.available() >= 4:
            position = ring.read(out)
            got.append((position, out.copy()))
    for position, block in got:
        np.testing.assert_array_equal(block, data[position:position + 4])
    assert [p for p, _ in got] == [0, 4, 8, 12, 16]
    assert not ring.lapped(ring.read_count)


def test_ring_reads_silence_before_the_start_and_detects_a_lap():
    ring = SpscRing(8, 1)
    ring.write(np.ones((5, 1), np.float32))
    out = np.full((4, 1), 7.0, np.float32)
    ring.copy_from(-2, out)  # a delayed read that starts before the stream
    np.testing.assert_array_equal(out[:, 0], [0, 0, 1, 1])
    ring.write(np.full((6, 1), 2.0, np.float32))  # 11 frames written into 8 slots
    assert ring.lapped(0) and ring.lapped(2) and not ring.lapped(3)


# -- gains and the latency plan ---------------------------------------------------------------


def test_ring_read_or_silence_takes_what_is_there_and_zeroes_the_rest():
    ring = SpscRing(8, 2)
    out = np.full((4, 2), 7.0, np.float32)
    assert ring.read_or_silence(out) == 0 and not out.any() and ring.read_count == 0
    ring.write(np.arange(6, dtype=np.float32).reshape(3, 2))
    out[:] = 7.0
    assert ring.read_or_silence(out) == 3 and ring.read_count == 3
    np.testing.assert_array_equal(out, [[0, 1], [2, 3], [4, 5], [0, 0]])
    ring.write(np.ones((5, 2), np.float32))
    assert ring.read_or_silence(out) == 4 and ring.read_count == 7 and (out == 1).all()


def test_stem_gains_follow_keep_and_explicit_db():
    assert stem_gains("accompaniment") == (0.0, 1.0)
    assert stem_gains("vocals") == (1.0, 0.0)
    assert stem_gains("all") == (1.0, 1.0)
    v, a = stem_gains("accompaniment", vocals_db=-6.0, accompaniment_db=-math.inf)
    assert v == pytest.approx(10 ** (-6 / 20)) and a == 0.0


def _profile():
    return ModelProfile(44100, 1024, 256, "hann", 512, 128, "mask", "vocals", "t", "none", "MIT")


def _latency_of(stride, lookahead):  # the engine's formula at the model rate (no resampling)
    return 768 + (lookahead + stride - 1) * 256 + 255


def test_headroom_covers_the_need_in_whole_blocks():
    block = 256 / 44100  # 5.8 ms
    assert headroom_samples(0.0, 44100, 256) == 256               # at least one block
    assert headroom_samples(0.9 * block, 44100, 256) == 256
    assert headroom_samples(1.1 * block, 44100, 256) == 512
    # the margin is time added before rounding, not blocks after it: 3.1 ms of p99.9 and 10 ms -> 3 blocks
    need = SAFETY * 0.0031 + WAKE_UP_S
    assert headroom_samples(need, 44100, 256) == 256
    assert headroom_samples(need, 44100, 256, margin_ms=10.0) == 3 * 256
    assert headroom_samples(need, 44100, 128, margin_ms=10.0) == 6 * 128  # the same time in smaller blocks
    assert headroom_samples(0.9 * block, 44100, 256, margin_ms=1000 * 0.1 * block) == 256  # exactly one block


def test_plan_picks_smallest_stride_within_load_and_fills_budget_with_lookahead():
    p = _profile()
    # a 10 ms call: stride 1 (5.8 ms) and 3 (17.4 ms) exceed 50% load, stride 4 (23.2 ms) fits
    assert choose_stride(0.010, p, max_load=0.5) == 4
    assert choose_stride(0.010, p) == 5  # the default bound, 35 %
    assert choose_stride(0.001, p) == 4 and choose_stride(0.001, p, min_stride=1) == 1  # never below 4 by itself
    plan = plan_latency(p, 0.010, 150.0, 44100, 256, _latency_of, need_seconds=0.012, device_samples=512, max_load=0.5)
    assert plan.stride == 4
    assert plan.headroom == 3 * 256  # 12 ms needs 3 blocks of 5.8 ms, not the whole stride
    assert plan.total <= 150.0 * 44.1
    bigger = plan_latency(p, 0.010, 150.0, 44100, 256, _latency_of, need_seconds=0.012, device_samples=512,
                          max_load=0.5, max_lookahead=plan.lookahead + 1)
    assert bigger.lookahead == plan.lookahead  # one more frame of lookahead would not fit
    assert _latency_of(4, plan.lookahead + 1) + plan.headroom + 512 > 150.0 * 44.1


def test_plan_refuses_an_unreachable_target_with_the_reachable_one():
    with pytest.raises(UsageError, match="below what this model and device can reach"):
        plan_latency(_profile(), 0.010, 20.0, 44100, 256, _latency_of, need_seconds=0.012, device_samples=512)


def test_calibration_times_the_real_stream_and_leaves_it_as_new(tiny_model):
    sep = Separator.load(tiny_model, threads=1)
    stream = sep.stream(44100, 2, stride=2, lookahead=0)
    cal = calibrate(stream, 256, seconds=1.0)
    assert cal.blocks == 3 * round(44100 / 256) and len(cal.rounds) == 3  # three rounds of one second
    assert 0 < cal.p50 <= cal.p99 <= cal.max
    assert cal.p999 == pytest.approx(float(np.median(cal.rounds))) and max(cal.rounds) <= cal.max
    assert cal.need == pytest.approx(SAFETY * cal.p999 + WAKE_UP_S)
    # (how much slower the model-call blocks are than the others is a measurement: benchmarks/bench_live.py prints it)
    # the stream is reset: it separates exactly as a fresh one does
    x = np.random.default_rng(1).standard_normal((3000, 2)).astype(np.float32) * 0.1
    fresh = sep.stream(44100, 2, stride=2, lookahead=0)
    a, b = stream.process(x), fresh.process(x)
    for stem in a:
        np.testing.assert_array_equal(a[stem], b[stem])


class _FakeClock:
    """time.perf_counter and time.sleep for calibrate(): the clock moves only when the stream says it worked."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now

    def sleep(self, seconds):
        pass


class _StallsOnce:
    """A stream whose every block takes 1 ms on the fake clock, and one block, in the first timed round, 41 ms:
    a machine stall during calibration."""

    def __init__(self, clock, at: int, latency: int = 1000):
        self._clock, self._at, self._calls = clock, at, 0
        self.sample_rate, self.channels, self.latency = 44100, 2, latency

    def process(self, block):
        self._calls += 1
        self._clock.now += 0.041 if self._calls == self._at else 0.001

    def reset(self):
        pass


def test_one_stall_during_calibration_does_not_set_the_plan(monkeypatch):
    from vocalex.live import plan

    clock = _FakeClock()
    monkeypatch.setattr(plan, "time", clock)
    warm = -(-(1000 + 2 * 256 + 44100 // 10) // 256)
    cal = calibrate(_StallsOnce(clock, warm + 20), 256, seconds=1.0)
    assert cal.max == pytest.approx(0.041) and cal.rounds[0] > 0.030  # the stall is seen, and sets its round's p99.9...
    assert cal.rounds[1:] == pytest.approx((0.001, 0.001))
    assert cal.p999 == pytest.approx(0.001)                              # ...and the plan comes from the other two


def test_timing_at_a_realtime_priority_runs_elsewhere_and_reports_back():
    from vocalex.live.jack_dummy import realtime_permitted
    from vocalex.live.plan import at_realtime_priority

    assert at_realtime_priority(None, lambda a, b=0: a + b, 2, b=3) == 5
    if realtime_permitted():
        import os

        assert at_realtime_priority(3, lambda: (os.sched_getscheduler(0), os.sched_getparam(0).sched_priority)) == (
            os.SCHED_FIFO, 3)
        assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the caller's thread is left as it was

    def fails():
        raise UsageError("inside")

    with pytest.raises(UsageError, match="inside"):
        at_realtime_priority(1, fails)



def test_meter_prints_plain_lines_when_not_a_terminal():
    import io

    from vocalex.live.meter import LiveMeter

    out = io.StringIO()
    snap = {
        "elapsed": 1.5, "input_dbfs": -12.04, "output_dbfs": -math.inf, "latency_ms": 75.4, "load": 0.25,
        "compute_ms_per_stride": 5.8, "budget_ms_per_stride": 23.2, "late_blocks": 2, "xruns": 1,
        "resyncs": 0, "callbacks": 300,
    }
    with LiveMeter(file=out, log_interval=60) as meter:
        meter.update(snap)
        meter.update(dict(snap, late_blocks=3))  # within the interval: no second line until the end
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert "in  -12.0 dBFS" in lines[0] and "out   -inf dBFS" in lines[0] and "late 2" in lines[0]
    assert "load 25% (5.8/23.2 ms per stride)" in lines[0] and "late 3" in lines[1]
