"""Pytest fixture: a JACK dummy server for the live tests (load with ``pytest_plugins``).

Machines without a sound card still run a real, real-time-paced audio server:
``jackd --realtime -d dummy -r 44100 -p 256`` (``--no-realtime`` where realtime
scheduling is not permitted). The fixture starts its own,
under a server name private to this test session (``jackd -n NAME`` and
``JACK_DEFAULT_SERVER=NAME`` for this process), and stops it at the end. A
missing jackd fails the tests (the live path is never silently skipped).

Why not reuse a server that already runs: its mode and its other clients are
not ours. Two choices matter for sample-exact comparisons on a loaded machine:

* ``--sync``: a client that misses its deadline delays the server cycle
  instead of losing that cycle's audio. A server on a busy machine
  (a non-realtime one above all) misses cycles now and then; with an asynchronous one (jackd's
  default) the audio of such a cycle is lost and a test comparing samples
  through the server fails for the machine's sake, not the engine's. Pacing,
  callbacks and the engine's own late blocks stay as real as in async mode.
* a private name: other processes' clients (another agent's JACK tests, a
  running ``vocalex live``) never share the graph with the tests.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from vocalex.live.jack_dummy import dummy_server_command, realtime_permitted

SAMPLERATE = 44100
PERIOD = 256
START_TIMEOUT_S = 15.0


def jackd_command(name: str, samplerate: int = SAMPLERATE) -> list[str]:
    # realtime where permitted (root, or an rtprio limit), as a studio runs JACK: the live engine's worker then
    # follows its callback to realtime scheduling, and that path is the one the tests exercise
    return dummy_server_command(name, samplerate, PERIOD, realtime=realtime_permitted())


def server_answers(name: str) -> bool:
    # JACK_NO_START_SERVER: jack_lsp must only look for the server, never start one by itself
    env = dict(os.environ, JACK_NO_START_SERVER="1", JACK_DEFAULT_SERVER=name)
    try:
        return subprocess.run(["jack_lsp"], capture_output=True, timeout=5, env=env).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _rescan_portaudio() -> None:
    """Make an already initialised PortAudio look again (it enumerates JACK only at initialisation)."""
    sd = sys.modules.get("sounddevice")
    if sd is not None:
        while sd._initialized:
            sd._terminate()
        sd._initialize()


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


def start_jack_server(name: str, samplerate: int = SAMPLERATE):
    """Start ``jackd -n name`` and wait until it answers; returns (process, log file). Fails the test otherwise."""
    for tool in ("jackd", "jack_lsp"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed; the live tests need it (Debian: apt-get install jackd2 libportaudio2)")
    # jackd logs every xrun; a file, not a pipe nobody drains, so it can never block on a full pipe
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(jackd_command(name, samplerate), stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server_answers(name):
        if process.poll() is not None:
            log.seek(0)
            pytest.fail(f"jackd exited with {process.returncode}: {log.read().decode(errors='replace')[-500:]}")
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            pytest.fail(f"jackd did not answer within {START_TIMEOUT_S:.0f} s")
        time.sleep(0.02)
    return process, log


def stop_jack_server(process, log, name: str | None = None) -> None:
    """Stop a server started by :func:`start_jack_server` (whatever state a test left it in) and reap it.

    A server that did not exit cleanly (SIGKILL) keeps its slot in JACK's
    shared registry (/dev/shm/jack-shm-registry, 8 slots for all servers of
    this user): libjack reclaims a dead server's slot only when a server of
    the same name registers. With ``name`` given, such a server is started
    once more under its name and stopped cleanly, which frees the slot and
    its shared memory; leaked slots would soon keep every jackd on the
    machine from starting ("Too many servers already active").
    """
    if process.poll() is None:
        process.send_signal(signal.SIGCONT)  # a stopped server cannot act on SIGTERM
        process.terminate()
        try:
            # a server resumed after its client vanished takes seconds to wind down; killing it costs
            # less, the slot is reclaimed below
            process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    log.close()
    if process.returncode != 0 and name is not None:
        stop_jack_server(*start_jack_server(name))


@pytest.fixture(scope="session")
def jack_server():
    """A running JACK dummy server private to this session; yields its sample rate."""
    name = f"vocalex-test-{os.getpid()}"
    process, log = start_jack_server(name)
    previous = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = name  # libjack reads it: PortAudio and JACK-Client connect here
    _rescan_portaudio()
    try:
        yield SAMPLERATE
    finally:
        _release_portaudio_jack_client()
        stop_jack_server(process, log, name)
        if previous is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = previous
