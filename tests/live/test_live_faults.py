"""Faults in live mode, on real JACK dummy servers: one line, exit code 8, never a hang.

The device-loss tests run ``vocalex live`` as a subprocess on a JACK server of
their own and then kill, terminate or freeze that server: the session's
server (tests/live_server.py) and this pytest process's PortAudio never see
it. Every subprocess has a timeout, so a hang fails the test instead of
stalling the suite.
"""

from __future__ import annotations

import glob
import itertools
import os
import signal
import subprocess
import sys
import time

import pytest
import soundfile as sf

pytest_plugins = ["live_server"]  # the session fixture jack_server: a running JACK server
from live_server import start_jack_server, stop_jack_server  # noqa: E402

from vocalex.cli.main import main  # noqa: E402

pytestmark = pytest.mark.live

LIVE_START_TIMEOUT_S = 60.0   # model load, timing and warm-up in a fresh interpreter on a loaded machine
EXIT_TIMEOUT_S = 30.0         # the hang guard: a run whose device vanished must have exited by then
_server_numbers = itertools.count()


@pytest.fixture
def own_jack_server():
    """A JACK dummy server only this test uses (its name); stopped and cleaned up whatever the test did to it."""
    name = f"vocalex-fault-{os.getpid()}-{next(_server_numbers)}"
    process, log = start_jack_server(name)
    try:
        yield name, process
    finally:
        stop_jack_server(process, log, name)  # frees a killed server's registry slot too
        # A killed server and its clients leave their sockets and semaphores behind (only this name's).
        for path in glob.glob(f"/dev/shm/jack_{name}_*") + glob.glob(f"/dev/shm/jack_sem.*_{name}_*"):
            try:
                os.unlink(path)
            except OSError:
                pass


def _live_process(server: str, tmp_path, *args: str) -> tuple[subprocess.Popen, object, object]:
    """``vocalex live ARGS`` in a fresh interpreter on JACK server ``server``; stdout/stderr go to files."""
    env = dict(os.environ, JACK_DEFAULT_SERVER=server, JACK_NO_START_SERVER="1")
    out = open(tmp_path / "stdout.txt", "w+")
    err = open(tmp_path / "stderr.txt", "w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "vocalex.cli.main", "live", *args], stdout=out, stderr=err, env=env,
        stdin=subprocess.DEVNULL,
    )
    return process, out, err


def _wait_until_live(process, out, err) -> None:
    """Until the meter has printed its first line (the stream runs), or fail with what the process said."""
    deadline = time.monotonic() + LIVE_START_TIMEOUT_S
    while time.monotonic() < deadline:
        out.seek(0)
        if any(line.startswith("live ") for line in out):
            return
        if process.poll() is not None:
            err.seek(0)
            pytest.fail(f"vocalex live exited with {process.returncode} before running: {err.read()[-500:]}")
        time.sleep(0.05)
    process.kill()
    process.wait()
    pytest.fail(f"vocalex live did not start within {LIVE_START_TIMEOUT_S:.0f} s")


def _finish(process, out, err) -> tuple[int, str, str]:
    try:
        code = process.wait(timeout=EXIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"vocalex live still ran {EXIT_TIMEOUT_S:.0f} s after its device was gone (a hang)")
    out.seek(0)
    err.seek(0)
    return code, out.read(), err.read()


@pytest.mark.subprocess
@pytest.mark.parametrize(
    "fault, signum",
    [("server terminated", signal.SIGTERM), ("server killed", signal.SIGKILL), ("server frozen", signal.SIGSTOP)],
)
def test_device_vanishing_mid_run_exits_8_with_one_line_and_keeps_the_recording(own_jack_server, tiny_model, tmp_path, fault, signum):
    name, server = own_jack_server
    rec = tmp_path / "rec"
    process, out, err = _live_process(name, tmp_path, "--model", str(tiny_model), "--duration", "10", "--record", str(rec))
    _wait_until_live(process, out, err)
    time.sleep(0.5)  # some audio recorded
    server.send_signal(signum)  # SIGSTOP: callbacks stop while PortAudio still thinks the stream runs
    code, stdout, stderr = _finish(process, out, err)

    assert code == 8, stderr
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("vocalex: error: audio device stopped delivering audio after "), stderr
    assert "input 'system'" in lines[0]
    if signum == signal.SIGSTOP:
        assert "no block for" in lines[0]  # found by the stall watchdog, not by PortAudio
    # The recording up to the loss is complete and kept: both files, same length, no partial files.
    assert "recorded " in stdout and "stopped: " in stdout
    assert sorted(p.name for p in rec.iterdir()) == ["input.wav", "output.wav"]
    inp, outp = sf.info(str(rec / "input.wav")), sf.info(str(rec / "output.wav"))
    assert inp.frames == outp.frames > 0.3 * inp.samplerate
    assert sf.read(str(rec / "input.wav"))[0].shape == (inp.frames, 2)


@pytest.mark.subprocess
def test_no_audio_server_at_all_gives_one_line(tiny_model, tmp_path):
    # a server name nobody runs, and libjack may not start one: PortAudio then sees no device at all
    absent = f"vocalex-absent-{os.getpid()}"
    process, out, err = _live_process(absent, tmp_path, "--model", str(tiny_model), "--duration", "1", "--record", str(tmp_path / "rec"))
    code, stdout, stderr = _finish(process, out, err)
    assert code == 8
    assert stderr.startswith("vocalex: error: no audio input device found (no sound card and no JACK server running)")
    assert stderr.count("\n") == 1 and "--start-server" in stderr  # and how to go on without one
    assert not (tmp_path / "rec").exists()  # checked before the recording folder is made


def test_samplerate_the_server_refuses_names_the_rate_that_works(jack_server, tiny_model, tmp_path, capsys):
    rec = tmp_path / "rec"
    refused = 48000 if jack_server != 48000 else 44100
    argv = ["live", "--model", str(tiny_model), "--samplerate", str(refused), "--duration", "1", "--record", str(rec)]
    assert main(argv) == 8
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"'system' refuses {refused} Hz (Invalid sample rate)" in err
    assert f"it runs at {jack_server} Hz" in err and "jackd -r" in err
    assert not rec.exists()


def test_samplerate_the_server_runs_at_is_accepted(jack_server, tiny_model, capsys):
    assert main(["live", "--model", str(tiny_model), "--samplerate", str(jack_server), "--duration", "0.5"]) == 0
    assert f"{jack_server} Hz" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (["--samplerate", "0"], 2, "--samplerate must be in 1000..768000 Hz, got 0"),
        (["--samplerate", "-44100"], 2, "--samplerate must be in 1000..768000 Hz"),
        (["--blocksize", "0"], 2, "--blocksize must be in 16..8192 frames, got 0"),
        (["--duration", "-1"], 2, "--duration must be a positive number of seconds, got -1"),
        (["--duration", "nan"], 2, "--duration must be a positive number of seconds, got nan"),
        (["--margin-ms", "100000"], 2, "--margin-ms must be in 0..1000, got 100000"),
        (["--margin-ms", "-1"], 2, "--margin-ms must be in 0..1000, got -1"),
        (["--margin-ms", "nan"], 2, "--margin-ms must be in 0..1000, got nan"),
        (["--stride", "0"], 2, "stride must be in 1..128 frames, got 0"),
        (["--lookahead", "soon"], 2, "lookahead must be frames (e.g. 3) or milliseconds"),
        (["--samplerate", "44100", "--measure-latency"], 2, "drop --record/--duration/--samplerate"),
    ],
)
def test_cli_bad_numbers_give_one_line(jack_server, tiny_model, capsys, argv, code, message):
    assert main(["live", "--model", str(tiny_model), *argv]) == code
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_record_into_a_file_or_under_a_file_gives_one_line(jack_server, tiny_model, tmp_path, capsys):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    for target, message in [(a_file, "exists and is not a folder"), (a_file / "rec", "Not a directory")]:
        assert main(["live", "--model", str(tiny_model), "--duration", "1", "--record", str(target)]) == 7
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert a_file.read_text() == "not a folder"
    # a folder where the recording's files cannot be created (here: a folder in the way of one)
    rec = tmp_path / "rec"
    (rec / ".input.wav.partial").mkdir(parents=True)
    assert main(["live", "--model", str(tiny_model), "--duration", "1", "--record", str(rec)]) == 7
    err = capsys.readouterr().err
    assert f"cannot create the recording in {rec}: " in err and err.count("\n") == 1 and "Traceback" not in err
    assert [p.name for p in rec.iterdir()] == [".input.wav.partial"]


@pytest.mark.subprocess
def test_server_stopping_during_start_up_exits_8_with_one_line(own_jack_server, tiny_model, tmp_path):
    """The server goes away after the devices were chosen, while the engine warms up and opens its stream."""
    name, server = own_jack_server
    rec = tmp_path / "rec"
    process, out, err = _live_process(name, tmp_path, "--model", str(tiny_model), "--duration", "10", "--record", str(rec))
    deadline = time.monotonic() + LIVE_START_TIMEOUT_S
    while time.monotonic() < deadline:  # the first line comes after the model load, before the stream opens
        out.seek(0)
        if out.read().startswith("JACK Audio Connection Kit: 'system'"):
            break
        assert process.poll() is None, "vocalex live exited before it chose its devices"
        time.sleep(0.01)
    server.terminate()
    code, stdout, stderr = _finish(process, out, err)
    assert code == 8, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr and "Assertion" not in stderr, stderr
    # Depending on how far the start had got: the open fails, or the watchdog sees the stream stop.
    assert lines[0].endswith("the JACK server stopped (start it again and retry)") or "stopped delivering audio" in lines[0]
    assert not rec.exists() or sorted(p.name for p in rec.iterdir()) in ([], ["input.wav", "output.wav"])


def _limit_file_size(limit: int):
    """preexec_fn: files of the child may grow to ``limit`` bytes; a larger write fails with EFBIG (a full disk, in effect)."""
    import resource

    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # otherwise the kernel kills the writer instead of failing the write
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.subprocess
def test_recording_that_cannot_be_written_exits_7_and_leaves_no_file(own_jack_server, tiny_model, tmp_path):
    name, _ = own_jack_server
    rec = tmp_path / "rec"
    env = dict(os.environ, JACK_DEFAULT_SERVER=name, JACK_NO_START_SERVER="1")
    argv = [sys.executable, "-m", "vocalex.cli.main", "live", "--model", str(tiny_model), "--duration", "10", "--record", str(rec)]
    # 200 kB is about 0.6 s of one stereo float32 file at 44.1 kHz
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, preexec_fn=_limit_file_size(200_000))
    try:
        stdout, stderr = process.communicate(timeout=LIVE_START_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail("vocalex live kept running with a recording it could not write")
    assert process.returncode == 7, stderr
    assert stderr.startswith(f"vocalex: error: cannot write the recording in {rec} (") and stderr.count("\n") == 1, stderr
    assert stderr.rstrip().endswith("nothing was kept") and "Traceback" not in stderr
    assert list(rec.iterdir()) == []  # neither the partial files nor truncated ones under the final names


@pytest.mark.subprocess
def test_ctrl_c_while_the_server_is_frozen_does_not_hang(own_jack_server, tiny_model, tmp_path):
    """Stopping a stream whose server froze would wait for minutes inside PortAudio: the stop is bounded."""
    name, server = own_jack_server
    rec = tmp_path / "rec"
    process, out, err = _live_process(name, tmp_path, "--model", str(tiny_model), "--duration", "10", "--record", str(rec))
    _wait_until_live(process, out, err)
    server.send_signal(signal.SIGSTOP)
    process.send_signal(signal.SIGINT)  # at once: before the stall watchdog could have noticed
    code, stdout, stderr = _finish(process, out, err)
    assert code == 8, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert "audio device did not stop within" in lines[0] or "stopped delivering audio" in lines[0]
    assert sorted(p.name for p in rec.iterdir()) == ["input.wav", "output.wav"]
