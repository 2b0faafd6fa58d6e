"""No sound card and no JACK server (issue 24): `live --list-devices` and `live --input-file` say how to go on
without one (--start-server, --record)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.subprocess
DEMO = "src/vocalex/engine/assets/demo_lets_go_fishin_30s.ogg"


def _no_server_env():
    # A JACK server name where none runs: the tests' own dummy server (tests/live_server.py) is not seen.
    return dict(os.environ, JACK_DEFAULT_SERVER=f"nothing-runs-here-{os.getpid()}")


def _vocalex(*args):
    return subprocess.run([sys.executable, "-m", "vocalex", *map(str, args)], capture_output=True, text=True,
                          env=_no_server_env(), timeout=300, cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.fixture(scope="module")
def no_devices():
    listing = _vocalex("live", "--list-devices")
    if "no audio devices found" not in listing.stdout:
        pytest.skip("this machine has an audio device: the no-sound-card messages cannot show here")
    return listing


def test_list_devices_says_how_to_go_on(no_devices):
    assert no_devices.returncode == 0
    assert "--start-server" in no_devices.stdout and "--record" in no_devices.stdout


def test_live_input_file_without_a_device_names_start_server(no_devices, tiny_model):
    r = _vocalex("live", "--input-file", DEMO, "--model", tiny_model, "--duration", 1)
    assert r.returncode == 8, r.stderr
    assert "--start-server" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_live_input_file_with_record_starts_the_private_server_itself(no_devices, tiny_model, tmp_path):
    import numpy as np
    import soundfile as sf

    clip, rate = sf.read(DEMO, dtype="float32", start=3 * 44100, frames=44100)
    song = tmp_path / "song.wav"
    sf.write(song, clip, rate, subtype="FLOAT")
    r = _vocalex("live", "--input-file", song, "--record", tmp_path / "rec", "--model", tiny_model, "--stride", 8)
    assert r.returncode == 0, r.stderr
    assert "private JACK dummy server" in r.stderr
    captured, _ = sf.read(tmp_path / "rec" / "input.wav", dtype="float32")
    np.testing.assert_array_equal(captured[:len(clip)], clip)
    played, _ = sf.read(tmp_path / "rec" / "output.wav", dtype="float32")
    assert len(played) >= len(clip) and np.abs(played).max() > 0.01  # the separation was played, not silence
