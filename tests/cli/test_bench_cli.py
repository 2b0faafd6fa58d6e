"""`vocalex bench --json` schema on a short generated file with an untrained tiny model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from vocalex.cli.main import main


@pytest.fixture()
def short_song(tmp_path):
    sr = 44100
    t = np.arange(int(1.2 * sr)) / sr
    x = 0.2 * np.sin(2 * np.pi * 330 * t)[:, None] + 0.02 * np.random.default_rng(0).standard_normal((len(t), 2))
    path = tmp_path / "song.wav"
    sf.write(path, x, sr)
    return path


def test_bench_json_schema(short_song, tiny_model, tmp_path):
    out = tmp_path / "bench.json"
    code = main(["bench", str(short_song), "--model", str(tiny_model), "--stride", "2", "--lookahead", "1",
                 "--rate", "48000", "--wiener", "--json", str(out)])
    assert code == 0
    r = json.loads(out.read_text())
    assert r["schema"] == "vocalex.bench/1"
    assert {"cpu", "cores", "onnxruntime"} <= set(r["machine"])
    assert r["provider"] == "cpu"
    assert r["song"]["seconds"] == pytest.approx(1.2, abs=1e-3) and r["song"]["channels"] == 2

    lat = r["latency"]
    hop_ms = 1000 * 256 / 44100
    assert lat["stride_frames"] == 2 and lat["lookahead_frames"] == 1 and lat["host_rate"] == 48000
    assert lat["window_ms"] == pytest.approx(1000 * 1024 / 44100)
    # the live stream's latency (low-delay synthesis: one hop of STFT delay), the one pure function's number
    assert lat["synthesis"] == "low-delay" and lat["alignment_ms"] == pytest.approx(hop_ms)
    from vocalex.engine.config import StreamConfig, latency
    from vocalex.engine.contract import read_profile

    assert lat["algorithmic_samples"] == latency(read_profile(tiny_model), StreamConfig(2, 1, "low-delay"), 48000)
    assert lat["stride_wait_ms"] == pytest.approx(hop_ms)
    assert lat["lookahead_ms"] == pytest.approx(hop_ms)
    assert lat["resampling_ms"] > 0  # 48 kHz host, 44.1 kHz model
    parts = sum(lat[k] for k in ("alignment_ms", "stride_wait_ms", "lookahead_ms", "hop_hold_ms", "resampling_ms"))
    assert parts == pytest.approx(lat["algorithmic_ms"])
    assert lat["algorithmic_ms"] == pytest.approx(1000 * lat["algorithmic_samples"] / 48000)
    assert lat["total_ms"] == pytest.approx(lat["algorithmic_ms"] + lat["compute_ms_p99"])
    assert 0 < lat["compute_ms_p50"] <= lat["compute_ms_p99"]

    st = r["stream"]
    # 1.2 s at hop 256 and stride 2: one model call per 512 samples once the stream runs.
    assert st["calls"] == len(r["compute_times_ms"]) and abs(st["calls"] - int(1.2 * 44100) // 512) <= 1
    assert st["real_time_factor"] > 0 and st["block"] == 256

    off = r["offline"]
    assert set(off["stages"]) == {"decode_s", "separate_s", "encode_s"}
    assert sum(off["stages"].values()) <= off["total_s"] + 1e-6
    assert 0 < off["model_s"] and off["model_calls"] > 0
    assert off["x_realtime"] == pytest.approx(off["seconds_audio"] / off["total_s"])
    assert off["model_calls"] >= 1
    wiener = r["offline_wiener"]  # --wiener: the same pipeline with the filter on
    assert wiener["seconds_audio"] == off["seconds_audio"] and wiener["x_realtime"] > 0


def test_bench_bad_song_is_one_line_error(tmp_path, tiny_model, capsys):
    bad = tmp_path / "not_audio.wav"
    bad.write_text("hello")
    assert main(["bench", str(bad), "--model", str(tiny_model)]) == 3
    assert main(["bench", str(tmp_path / "missing.wav"), "--model", str(tiny_model)]) == 3
    assert main(["bench", "--model", str(tiny_model), "--block", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("vocalex: error:") for line in err)


def test_bench_live_delegates_to_the_loopback_measurement(short_song, tiny_model, tmp_path, monkeypatch):
    # The loopback itself is the live helper's and is tested against a JACK server in test_live.py;
    # here: bench --live passes its settings through and stores the result in the JSON.
    import vocalex.live.loopback as loopback

    seen = {}

    def fake_measure(**kwargs):
        seen.update(kwargs)
        return {"measured_ms": 47.5, "reported_ms": 47.0}

    monkeypatch.setattr(loopback, "measure_latency", fake_measure)
    monkeypatch.setattr(loopback, "format_latency", lambda r: f"end-to-end latency {r['measured_ms']} ms")
    out = tmp_path / "bench.json"
    assert main(["bench", str(short_song), "--model", str(tiny_model), "--live", "--stride", "2", "--lookahead", "3",
                 "--json", str(out)]) == 0
    # the lookahead as given: frames or milliseconds are resolved for the model in one place (engine.config.resolve_stream)
    assert seen == {"model": str(tiny_model), "provider": "cpu", "threads": None, "stride": 2, "lookahead": "3"}
    assert json.loads(out.read_text())["live"] == {"measured_ms": 47.5, "reported_ms": 47.0}


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.live
def test_bench_live_start_server_needs_no_running_server(short_song, tiny_model, tmp_path):
    # A machine with no sound card and no JACK server: --start-server brings a private dummy server up
    # for the measurement and takes it down again.
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "JACK_DEFAULT_SERVER"}
    env["JACK_DEFAULT_SERVER"] = f"nothing-runs-here-{os.getpid()}"  # so an existing default server is not used
    proc = subprocess.Popen([sys.executable, "-m", "vocalex.cli.main", "bench", str(short_song), "--model", str(tiny_model),
                             "--live", "--start-server", "--seconds", "1"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "end-to-end latency" in out
    left = subprocess.run(["pgrep", "-f", f"jackd -n vocalex-{proc.pid} "], capture_output=True, text=True)
    assert left.stdout.strip() == "", "the dummy server outlived the run"
    # without --live the option has nothing to start a server for
    proc = subprocess.run([sys.executable, "-m", "vocalex.cli.main", "bench", str(short_song), "--start-server"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2 and "add --live" in proc.stderr
