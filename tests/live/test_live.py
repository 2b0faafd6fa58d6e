"""The live path, for real: a JACK dummy server, the real engine and an exported ONNX model (its parts that need
no server: tests/live/test_live_parts.py).

A harness JACK client plays known audio into the engine's input ports and
records its output ports. Every live run here is a few seconds long.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
import soundfile as sf

from vocalex.engine import Separator
from vocalex.cli.main import main
from vocalex.live.devices import resolve_devices
from vocalex.live.realtime import LiveEngine
from vocalex.live.gains import stem_gains
from vocalex.live.recorder import LiveRecorder
from vocalex.live.setup import build_live_stream
from vocalex.live.defaults import DEFAULT_MARGIN_MS
from vocalex.live.plan import headroom_samples
from vocalex.live.loopback import find_delay, measure_latency, noise_bursts, run_through_engine

pytest_plugins = ["live_server"]  # the session fixture jack_server: a running JACK server

pytestmark = pytest.mark.live

DEMO = "src/vocalex/engine/assets/demo_lets_go_fishin_30s.ogg"


# -- live runs on the JACK server ---------------------------------------------------------------


@pytest.fixture(scope="module")
def separator(tiny_model):
    return Separator.load(tiny_model, threads=1)


@pytest.fixture(scope="module")
def devices(jack_server):
    d = resolve_devices(None, None)
    assert d.hostapi == "JACK Audio Connection Kit"
    assert d.samplerate == jack_server
    return d


def _demo_excerpt(samplerate, seconds=3.0):
    audio, rate = sf.read(DEMO, dtype="float32", start=10 * 44100, frames=int(seconds * 44100))
    assert rate == 44100 == samplerate, "the live tests expect the JACK server at 44100 Hz"
    return audio


@pytest.mark.parametrize("synthesis", ["hann", "low-delay"])
def test_live_output_matches_offline_stream_mode_and_nothing_is_late(separator, devices, tmp_path, synthesis):
    """A known mix through the live input: the output equals `separate(mode="stream")`, aligned."""
    sr = devices.samplerate
    # The defaults of `vocalex live`, plus a quarter second of margin: this test's subject is that the output
    # equals stream mode, and CI machines stall for tens of milliseconds (a run with two blocks of margin had 3
    # late blocks in a row there); whether the calibrated headroom alone suffices is measured over minutes by
    # benchmarks/bench_live.py, not asserted in a few seconds here.
    setup = build_live_stream(devices, separator=separator, margin_ms=250.0, synthesis=synthesis)
    recorder = LiveRecorder(tmp_path / "rec", sr, devices.channels)
    engine = LiveEngine(
        setup.stream, devices, gains=stem_gains("accompaniment"), headroom=setup.plan.headroom,
        recorder=recorder, stride_period=setup.stride_period,
    )
    mix = _demo_excerpt(sr)
    recorded, _ = run_through_engine(engine, mix, tail=setup.plan.total + sr // 2)

    late = engine.late_at[: engine.stats.late_blocks]
    assert engine.stats.late_blocks == 0, f"late blocks at callbacks {late.tolist()} of {engine.stats.callbacks}"
    assert engine.stats.resyncs == 0
    captured, _ = sf.read(tmp_path / "rec" / "input.wav", dtype="float32")
    played, _ = sf.read(tmp_path / "rec" / "output.wav", dtype="float32")
    assert captured.shape == played.shape and not list((tmp_path / "rec").glob(".*partial"))

    # The harness's mix reached the engine's input bit-exact, at some position k.
    k, corr = find_delay(mix[:, 0], captured[:, 0])
    np.testing.assert_array_equal(captured[k:k + len(mix)], mix)

    # Offline stream mode over the captured input (same frame grid as the live stream, which
    # started at the first captured frame) is what the engine must have played, H + L later.
    offline = separator.separate(captured, sr, mode="stream", stride=setup.plan.stride, lookahead=setup.plan.lookahead,
                                 synthesis=synthesis, edges="zero")  # the live stream started from silence
    delay = engine.headroom + engine.algorithmic
    np.testing.assert_allclose(played[delay:], offline["accompaniment"][: len(played) - delay], atol=2e-5)

    # And through the server: the harness recorded that output, after the reported latency.
    expected = offline["accompaniment"][k:k + len(mix)]
    lag, corr = find_delay(expected[:, 0], recorded[:, 0])
    assert corr > 0.999
    np.testing.assert_allclose(recorded[lag:lag + len(mix)], expected, atol=2e-5)
    assert abs(lag - engine.latency_report()["total_samples"]) <= engine.blocksize


def test_worker_and_calibration_follow_a_realtime_callback(separator, devices):
    """Behind a realtime JACK server the worker runs SCHED_FIFO one step below the callback, and so does the timing."""
    from vocalex.live.jack_dummy import realtime_permitted

    if not realtime_permitted():
        pytest.skip("realtime scheduling is not permitted here: the test server runs --no-realtime")
    setup = build_live_stream(devices, separator=separator)
    engine = LiveEngine(setup.stream, devices, gains=stem_gains("all"), headroom=setup.plan.headroom,
                        stride_period=setup.stride_period)
    run_through_engine(engine, noise_bursts(devices.samplerate, devices.channels, seconds=0.5), tail=devices.samplerate // 4)
    found = re.fullmatch(r"callback FIFO (\d+), worker FIFO (\d+)", engine.scheduling_at_start)
    assert found, engine.scheduling_at_start
    callback, worker = int(found[1]), int(found[2])
    assert worker == max(1, callback - 1) == engine.worker_realtime_priority
    assert setup.calibration.priority == worker  # the headroom was measured as the worker runs
    # the headroom is what the calibration at that priority needs, plus the default margin
    assert setup.plan.headroom == headroom_samples(setup.calibration.need, devices.samplerate, engine.blocksize,
                                                   DEFAULT_MARGIN_MS)


class SlowStream:
    """A separator stream slower than real time: sleeps twice the block's duration in every call."""

    def __init__(self, stream, samplerate):
        self.stream, self.samplerate = stream, samplerate
        self.latency = stream.latency
        self.slow = False  # off during the engine's warm-up

    def process(self, block, out=None):
        if self.slow:
            time.sleep(2.0 * len(block) / self.samplerate)
        return self.stream.process(block, out)

    def reset(self):
        self.stream.reset()


@pytest.mark.parametrize("late_fill", ["dry", "silence"])
def test_overload_keeps_the_stream_alive_at_its_fixed_delay(separator, devices, tmp_path, late_fill):
    sr = devices.samplerate
    setup = build_live_stream(devices, separator=separator)
    slow = SlowStream(setup.stream, sr)
    engine = LiveEngine(
        slow, devices, gains=stem_gains("all"), headroom=setup.plan.headroom, late_fill=late_fill,
        recorder=LiveRecorder(tmp_path / "rec", sr, devices.channels), stride_period=setup.stride_period,
    )
    noise = noise_bursts(sr, devices.channels, seconds=2.5)
    original_start = engine.start

    def start_slow():
        original_start()
        slow.slow = True

    engine.start = start_slow
    recorded, _ = run_through_engine(engine, noise, tail=sr // 2)

    s = engine.stats
    assert s.late_blocks > 0 and s.worker_error is None
    assert s.resyncs >= 1  # the worker caught up by skipping input, not by drifting
    assert s.callbacks >= 0.8 * (len(noise) + sr // 2) / engine.blocksize  # the stream kept running
    assert engine._worker is None  # joined
    # Passthrough gains: whatever was played (processed, dry fallback, or silence after a resync)
    # is the input at the one fixed delay, never at another.
    captured, _ = sf.read(tmp_path / "rec" / "input.wav", dtype="float32")
    played, _ = sf.read(tmp_path / "rec" / "output.wav", dtype="float32")
    delay = engine.headroom + engine.algorithmic
    reference = np.zeros_like(played)
    reference[delay:] = captured[: len(played) - delay]
    sounding = np.abs(played).max(axis=1) > 0
    np.testing.assert_allclose(played[sounding], reference[sounding], atol=1e-5)
    heard = sounding.sum() / np.count_nonzero(np.abs(reference).max(axis=1))
    if late_fill == "dry":  # late blocks still carry the (dry) signal, through the server too
        assert heard > 0.5 and np.abs(recorded).max() > 0.1
    else:  # late blocks are silent; what sounds came from the worker in time
        assert heard < 0.9


def test_measured_latency_is_within_one_block_of_the_reported(separator, jack_server):
    result = measure_latency(separator=separator, seconds=1.5)
    assert result["correlation"] > 0.99
    assert abs(result["measured_samples"] - result["reported_samples"]) <= result["blocksize"]
    assert result["within_one_block"]


# -- the command line -------------------------------------------------------------------------


def test_cli_list_devices_shows_the_jack_system_device(jack_server, capsys):
    assert main(["live", "--list-devices"]) == 0
    out = capsys.readouterr().out
    assert "JACK Audio Connection Kit / system" in out


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (["--input", "no-such-device"], 8, "no input device named 'no-such-device'"),
        (["--output", "99"], 8, "no output device with index 99"),
        (["--latency-ms", "5"], 2, "below what this model and device can reach"),
        (["--latency-ms", "100", "--stride", "2"], 2, "either --latency-ms or --stride"),
        (["--duration", "0"], 2, "--duration must be a positive"),
    ],
)
def test_cli_bad_arguments_give_one_line(jack_server, tiny_model, capsys, argv, code, message):
    assert main(["live", "--model", str(tiny_model), *argv]) == code
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("gain", ["loud", "nan", "+inf"])
def test_cli_bad_gain_gives_one_line(capsys, gain):
    with pytest.raises(SystemExit) as exc:
        main(["live", "--vocals-gain", gain])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--vocals-gain" in err and err.count("\n") == 1


def test_cli_runs_for_a_duration_and_records_atomically(jack_server, tiny_model, tmp_path, capsys):
    rec = tmp_path / "rec"
    argv = ["live", "--model", str(tiny_model), "--duration", "1", "--record", str(rec), "--keep", "vocals"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert re.search(r"latency [\d.]+ ms = algorithmic .* \[model .*, stride \d+, lookahead 0, ", out) and "stopped:" in out
    assert "calibration: " in out and "p99.9" in out
    inp, sr = sf.read(rec / "input.wav")
    outp, _ = sf.read(rec / "output.wav")
    assert inp.shape == outp.shape and len(inp) >= 0.8 * sr
    assert sorted(p.name for p in rec.iterdir()) == ["input.wav", "output.wav"]
    # an existing recording is not overwritten without --force
    assert main(argv) == 7
    assert "exists; pass --force" in capsys.readouterr().err


def test_ctrl_c_stops_cleanly_and_finalises_the_recording(separator, devices, tmp_path):
    setup = build_live_stream(devices, separator=separator)
    engine = LiveEngine(
        setup.stream, devices, headroom=setup.plan.headroom,
        recorder=LiveRecorder(tmp_path / "rec", devices.samplerate, devices.channels), stride_period=setup.stride_period,
    )
    ticks = []

    def press_ctrl_c(snapshot):  # SIGINT arrives in the main thread as KeyboardInterrupt, here or in a sleep
        ticks.append(snapshot)
        if len(ticks) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        engine.run(duration=30, on_tick=press_ctrl_c, tick=0.2)
    assert engine._worker is None and engine._sd_stream.closed
    assert sorted(p.name for p in (tmp_path / "rec").iterdir()) == ["input.wav", "output.wav"]
    assert sf.info(str(tmp_path / "rec" / "input.wav")).frames == engine.stats.callbacks * engine.blocksize
    assert ticks[-1]["callbacks"] > 0 and ticks[-1]["latency_ms"] == engine.latency_report()["total_ms"]


def test_cli_measure_latency_prints_the_breakdown(jack_server, tiny_model, capsys):
    assert main(["live", "--model", str(tiny_model), "--measure-latency"]) == 0
    out = capsys.readouterr().out
    assert "end-to-end latency" in out and "compute headroom" in out and "device buffers" in out


def test_a_stream_that_cannot_open_leaves_no_recording(separator, devices, tmp_path):
    from dataclasses import replace

    from vocalex.base.errors import DeviceError

    setup = build_live_stream(devices, separator=separator)
    bogus = replace(devices, samplerate=devices.samplerate // 2)  # JACK opens only at the server's rate
    engine = LiveEngine(
        setup.stream, bogus, headroom=setup.plan.headroom,
        recorder=LiveRecorder(tmp_path / "rec", bogus.samplerate, bogus.channels),
    )
    with pytest.raises(DeviceError, match="cannot open"):
        engine.run(duration=1)
    assert list((tmp_path / "rec").iterdir()) == []


