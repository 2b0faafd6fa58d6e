"""Pytest fixture: a JACK dummy server for the live tests (load with ``pytest_plugins``).

Machines without a sound card still run a real, real-time-paced audio server:
``jackd --no-realtime -d dummy``. If a JACK server already answers, it is used
as is; otherwise one is started for the session and stopped at its end. A
missing jackd fails the tests (the live path is never silently skipped).

``--sync``: in synchronous mode a client that misses its deadline delays the
server cycle instead of losing that cycle's audio. On a loaded machine a
non-realtime server misses cycles now and then; the tests compare audio
sample by sample through the server, so a lost cycle would fail them for the
machine's sake, not the engine's. Pacing, callbacks and the engine's own late
blocks are as real as in asynchronous mode.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

JACKD_COMMAND = ("jackd", "--sync", "--no-realtime", "-d", "dummy", "-r", "44100", "-p", "256")
START_TIMEOUT_S = 15.0


def _env():
    # jack_lsp must only look for a server, never start one by itself
    return dict(os.environ, JACK_NO_START_SERVER="1")


def server_answers() -> bool:
    try:
        return subprocess.run(["jack_lsp"], capture_output=True, timeout=5, env=_env()).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _release_portaudio_jack_client() -> None:
    """Close PortAudio's JACK client while the server still runs.

    PortAudio keeps one JACK client per process from initialisation to exit;
    closing it after its server is gone aborts the interpreter (an assertion in
    pa_jack.c), so PortAudio is terminated first (sounddevice's exit handler
    then has nothing left to terminate).
    """
    sd = sys.modules.get("sounddevice")
    while sd is not None and sd._initialized:
        sd._terminate()


@pytest.fixture(scope="session")
def jack_server():
    """A running JACK server; yields its sample rate."""
    for tool in ("jackd", "jack_lsp"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed; the live tests need it (Debian: apt-get install jackd2 libportaudio2)")
    process = None
    if not server_answers():
        process = subprocess.Popen(JACKD_COMMAND, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env())
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server_answers():
            if process.poll() is not None:
                pytest.fail(f"jackd exited with {process.returncode}: {process.stderr.read().decode(errors='replace')[-500:]}")
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"jackd did not answer within {START_TIMEOUT_S:.0f} s")
            time.sleep(0.02)
    import jack

    probe = jack.Client("vocalex-test-probe", no_start_server=True)
    samplerate = probe.samplerate
    probe.close()
    try:
        yield samplerate
    finally:
        if process is not None:
            _release_portaudio_jack_client()
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
