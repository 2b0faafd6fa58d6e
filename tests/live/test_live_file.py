"""`vocalex live --input-file`: a file played through the real live path on a JACK dummy server.

No input device is involved: the file is the input (live/file_source.py), the
output goes to the server's playback ports and ``--record`` keeps what was played.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import soundfile as sf

pytest_plugins = ["live_server"]  # the session fixture jack_server: a running JACK server
from vocalex.engine import Separator
from vocalex.engine.config import StreamConfig
from vocalex.cli.main import main
from vocalex.base.errors import AudioInputError, UsageError

pytestmark = pytest.mark.live

DEMO = "src/vocalex/engine/assets/demo_lets_go_fishin_30s.ogg"


def test_recording_equals_stream_mode_and_the_run_ends_at_the_file_end(jack_server, tiny_model, tmp_path, capsys):
    clip, rate = sf.read(DEMO, dtype="float32", start=5 * 44100, frames=2 * 44100)
    assert rate == jack_server
    song = tmp_path / "song.wav"
    sf.write(song, clip, rate, subtype="FLOAT")
    rec = tmp_path / "rec"
    # no --duration: the run has to end by itself once the file has been played. Stride 8 (46 ms per model
    # call) rather than the default 4, and a quarter second of margin: on a shared 2-core machine under load the
    # defaults had late blocks, and this test's subject is the output, not the timing (bench_live.py measures that).
    argv = ["live", "--input-file", str(song), "--record", str(rec), "--model", str(tiny_model), "--stride", "8",
            "--margin-ms", "250"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "'file song.wav' ->" in out
    # a late block plays the dry input instead (a loaded machine's doing): then the comparison below cannot hold
    assert "blocks, 0 late" in out, out
    captured, _ = sf.read(rec / "input.wav", dtype="float32")
    played, _ = sf.read(rec / "output.wav", dtype="float32")
    # the input was the file, bit for bit, then silence
    np.testing.assert_array_equal(captured[:len(clip)], clip)
    assert not captured[len(clip):].any()
    sep = Separator.load(tiny_model, threads=1)
    # lookahead 0 and low-delay: the defaults; the server's 256-sample periods at the model's rate: no hold for other sizes
    latency = sep.stream(rate, 2, config=StreamConfig(8, 0, "low-delay", block=256)).latency
    # the compute headroom is planned at start from a calibration (whole 256-frame blocks): read what was chosen
    headroom_ms = float(re.search(r"compute headroom ([0-9.]+) ms", out).group(1))
    blocks = round(headroom_ms / 1000 * rate / 256)
    assert abs(blocks * 256 / rate * 1000 - headroom_ms) < 0.06 and blocks >= 1
    delay = latency + blocks * 256
    # it ran until the file's last frame was played, and not much longer (the stop is polled every 0.25 s)
    assert len(clip) + delay <= len(played) <= len(clip) + delay + rate
    # edges="zero": the live stream started from silence, not from the file's mirrored start
    expected = sep.separate(clip, rate, mode="stream", stride=8, synthesis="low-delay", edges="zero")["accompaniment"]
    np.testing.assert_allclose(played[delay:delay + len(clip)], expected, atol=2e-5)
    assert not played[:delay].any()


def test_a_mono_file_at_another_rate_is_resampled_and_played_whole(jack_server, tiny_model, tmp_path, capsys):
    t = np.arange(int(1.0 * 48000)) / 48000
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    song = tmp_path / "tone48k.flac"
    sf.write(song, tone, 48000, subtype="PCM_24")
    rec = tmp_path / "rec"
    assert main(["live", "--input-file", str(song), "--record", str(rec), "--model", str(tiny_model), "--keep", "all"]) == 0
    captured, rate = sf.read(rec / "input.wav", dtype="float32")
    assert rate == jack_server and captured.shape[1] == 2
    np.testing.assert_array_equal(captured[:, 0], captured[:, 1])  # mono feeds both channels
    loud = np.flatnonzero(np.abs(captured[:, 0]) > 0.01)
    assert abs((loud[-1] - loud[0]) / rate - 1.0) < 0.01  # one second of tone at the server's 44.1 kHz


def test_bad_input_file_is_one_line_and_no_recording(jack_server, tiny_model, tmp_path, capsys):
    bad = tmp_path / "notes.txt"
    bad.write_text("not a song\n" * 40)
    code = main(["live", "--input-file", str(bad), "--record", str(tmp_path / "rec"), "--model", str(tiny_model)])
    assert code == AudioInputError.exit_code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "notes.txt" in err[0]
    assert not (tmp_path / "rec").exists()


def test_input_file_and_input_device_together_are_refused(capsys):
    assert main(["live", "--input-file", "x.wav", "--input", "1"]) == UsageError.exit_code
    assert "--input-file" in capsys.readouterr().err


@pytest.mark.subprocess
def test_no_sound_card_start_server_plays_a_file_into_a_recording(tiny_model, tmp_path):
    # The README's way to try live separation with no audio hardware: vocalex starts its own dummy server.
    import os
    import subprocess
    import sys

    song = tmp_path / "song.wav"
    clip, rate = sf.read(DEMO, dtype="float32", start=3 * 44100, frames=44100)
    sf.write(song, clip, rate, subtype="FLOAT")
    env = dict(os.environ, JACK_DEFAULT_SERVER=f"nothing-runs-here-{os.getpid()}")
    proc = subprocess.run([sys.executable, "-m", "vocalex.cli.main", "live", "--start-server", "--input-file", str(song),
                           "--record", str(tmp_path / "rec"), "--model", str(tiny_model), "--stride", "8"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    captured, _ = sf.read(tmp_path / "rec" / "input.wav", dtype="float32")
    np.testing.assert_array_equal(captured[:len(clip)], clip)


@pytest.mark.subprocess
def test_sigterm_stops_a_live_run_with_exit_143_and_keeps_the_recording(tiny_model, tmp_path):
    # SIGTERM is handled in one place (base/termination.py) for every command: live exits 143 like the others.
    import os
    import signal
    import subprocess
    import sys
    import time

    song = tmp_path / "song.wav"
    sf.write(song, np.zeros((20 * 44100, 2), np.float32), 44100, subtype="FLOAT")  # longer than the test waits
    rec = tmp_path / "rec"
    env = dict(os.environ, JACK_DEFAULT_SERVER=f"nothing-runs-here-{os.getpid()}")
    proc = subprocess.Popen([sys.executable, "-m", "vocalex", "live", "--start-server", "--input-file", str(song),
                             "--record", str(rec), "--model", str(tiny_model), "--stride", "8"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 90
        partial = rec / ".input.wav.partial"

        def recording():  # running: the worker has written audio (an empty recording would be discarded)
            return partial.exists() and partial.stat().st_size > 64 * 1024

        while time.monotonic() < deadline and not recording() and proc.poll() is None:
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, (proc.returncode, err)
    assert "vocalex: terminated" in err and "Traceback" not in err
    captured, _ = sf.read(rec / "input.wav", dtype="float32")  # finalised, not left as a partial file
    assert len(captured) > 0 and not (rec / ".input.wav.partial").exists()
