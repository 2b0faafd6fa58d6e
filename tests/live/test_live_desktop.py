"""`vocalex live --input desktop`: karaoke of what the desktop plays, against a real PulseAudio server.

The test starts its own PulseAudio server (private socket, private HOME, a null sink ``vx`` as the
default output: no sound card), plays the demo song into it with ``paplay`` as a player would, and runs
``vocalex live --input desktop --start-server --record``: the input recorded must be the song (found in it
by cross-correlation), and the output the separated karaoke. The server is stopped by its pid.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from studio_helpers import DEMO

pytest_plugins = ["live_server"]  # the session fixture jack_server: a running JACK server

ROOT = Path(__file__).resolve().parents[2]
NEEDED = ("pulseaudio", "pactl", "parec", "paplay", "jackd")

pytestmark = [
    pytest.mark.live, pytest.mark.subprocess, pytest.mark.slow,
    pytest.mark.skipif(any(shutil.which(t) is None for t in NEEDED) and not os.environ.get("CI"),
                       reason="needs pulseaudio, pulseaudio-utils and jackd2 (Debian)"),
]


@pytest.fixture(scope="module")
def pulse(tmp_path_factory):
    """A private PulseAudio server with a null sink `vx` (the default output); yields the environment to reach it."""
    home = tmp_path_factory.mktemp("pulse")
    socket_path = home / "native"
    env = dict(os.environ, HOME=str(home), XDG_RUNTIME_DIR=str(home), PULSE_SERVER=f"unix:{socket_path}",
               PYTHONPATH=str(ROOT / "src"))
    env.pop("PULSE_SINK", None)
    env.pop("PULSE_SOURCE", None)
    server = subprocess.Popen(["pulseaudio", "--daemonize=no", "--system=false", "--exit-idle-time=-1", "-n",
                               "--use-pid-file=no", "--disable-shm=yes", "--load=module-null-sink sink_name=vx",
                               f"--load=module-native-protocol-unix socket={socket_path} auth-anonymous=1"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode != 0:
            assert server.poll() is None, "pulseaudio exited at start"
            assert time.monotonic() < deadline, "pulseaudio did not answer within 15 s"
            time.sleep(0.05)
        yield env
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _best_match(needle: np.ndarray, haystack: np.ndarray) -> float:
    """The largest normalised cross-correlation of needle against every position of haystack (mono, float64)."""
    n = len(haystack) + len(needle)
    size = 1 << (n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(haystack, size) * np.conj(np.fft.rfft(needle, size)), size)[: len(haystack) - len(needle) + 1]
    window = np.cumsum(np.concatenate([[0.0], haystack ** 2]))
    energy = window[len(needle):] - window[: len(window) - len(needle)]
    score = corr / (np.linalg.norm(needle) * np.sqrt(np.maximum(energy, 1e-12)))
    return float(score.max())


def test_live_input_desktop_records_what_the_desktop_plays(pulse, tmp_path):
    player = subprocess.Popen(["paplay", str(DEMO)], env=pulse, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        live = subprocess.run([sys.executable, "-m", "vocalex", "live", "--input", "desktop", "--start-server",
                               "--duration", "4", "--record", str(tmp_path / "rec")],
                              env=pulse, capture_output=True, text=True, timeout=120)
    finally:
        player.terminate()
        player.wait(10)
    assert live.returncode == 0, live.stdout + live.stderr
    assert "desktop (vx.monitor)" in live.stdout, live.stdout
    captured, rate = sf.read(tmp_path / "rec" / "input.wav", dtype="float64")
    played, demo_rate = sf.read(DEMO, dtype="float64")
    assert rate == demo_rate == 44100
    loud = np.sqrt(np.mean(captured ** 2))
    assert loud > 0.01, loud  # the monitor carried the song, not silence
    # ... and it is the song: tenths of a second of it are found in the file, sample for sample. Not one long
    # stretch: the capture skips ahead when the output's clock falls behind the desktop's (a live input stays
    # live; the dummy server on a loaded machine runs slow), and a stretch with a skip inside matches less.
    song = played.mean(axis=1)
    tenth = rate // 10
    scores = [_best_match(captured[a: a + tenth].mean(axis=1), song) for a in range(0, len(captured) - tenth, 3 * tenth)]
    assert np.mean(np.array(scores) > 0.98) >= 0.5, scores
    output, _ = sf.read(tmp_path / "rec" / "output.wav", dtype="float64")
    assert np.sqrt(np.mean(output ** 2)) > 0.005  # karaoke came out


def test_no_server_is_one_line_and_exit_8(pulse, tmp_path):
    env = dict(pulse, PULSE_SERVER=f"unix:{tmp_path / 'nobody-here'}")
    live = subprocess.run([sys.executable, "-m", "vocalex", "live", "--input", "desktop", "--duration", "1"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert live.returncode == 8
    assert live.stderr.strip().splitlines() == [
        "vocalex: error: --input desktop: no PulseAudio or PipeWire server answers (pactl info failed); start one, "
        "or pass a device as --input"]


def test_the_studio_runs_live_from_the_desktop(pulse, jack_server, monkeypatch):
    # In this process the session's JACK server (live_server.py) is the output: a private server started here
    # beside it (server=True) would share libjack and PortAudio with the other live tests' clients. The studio
    # starting its own private server is what the browser test runs, in the studio's own process.
    pytest.importorskip("starlette")
    from vocalex.studio import library

    for name in ("HOME", "XDG_RUNTIME_DIR", "PULSE_SERVER"):
        monkeypatch.setenv(name, pulse[name])
    assert library.desktop_note() is None
    player = subprocess.Popen(["paplay", str(DEMO)], env=pulse, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run = library.LiveRun({"input": "desktop", "server": False, "vocals_db": float("-inf"), "accompaniment_db": 0.0})
    try:
        run.start()
        deadline = time.monotonic() + 90
        while run.state == "starting" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert run.state == "running", run.message
        while (run.snapshot().get("input_dbfs") or -200) < -40 and time.monotonic() < deadline:
            time.sleep(0.05)
        snap = run.snapshot()
        assert snap["input_dbfs"] > -40 and snap["devices"].startswith("desktop (vx.monitor) -> system")
    finally:
        run.stop()
        player.terminate()
        player.wait(10)
    assert run.state == "stopped" and not run.alive
