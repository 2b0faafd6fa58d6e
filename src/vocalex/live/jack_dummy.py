"""A JACK server with the dummy driver, started by vocalex itself: live audio with no sound card.

``vocalex bench --live --start-server`` (and ``vocalex live --start-server``)
use it so that a machine without audio hardware (a server, CI, a container) can
run the live path for real. The server is private to the run: it gets its own
name (``jackd -n``), this process points libjack at it through
JACK_DEFAULT_SERVER, and it is stopped when the run ends. ``--sync`` makes the
dummy driver wait for every client each cycle (an asynchronous dummy server on
a loaded machine drops cycles), ``--no-realtime`` needs no privileges.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import subprocess
import sys
import time

from vocalex.base.errors import DeviceError

START_TIMEOUT_S = 15.0


def realtime_permitted() -> bool:
    """Whether this process may use realtime scheduling (root, or an RLIMIT_RTPRIO above 0)."""
    try:
        return os.geteuid() == 0 or resource.getrlimit(resource.RLIMIT_RTPRIO)[0] != 0
    except (AttributeError, OSError, ValueError):  # not POSIX/Linux
        return False


def dummy_server_command(name: str, samplerate: int = 44100, period: int = 256, realtime: bool = False) -> list[str]:
    """jackd's command line: realtime as an audio setup with a sound card runs it, where permitted."""
    scheduling = ["--realtime"] if realtime else ["--no-realtime"]
    return ["jackd", "-n", name, "--sync", *scheduling, "-d", "dummy", "-r", str(samplerate), "-p", str(period)]


@contextlib.contextmanager
def dummy_jack_server(samplerate: int = 44100, period: int = 256, realtime: bool = False):
    """Start a private dummy JACK server, make it this process's default, yield its name; stop it at exit.

    realtime: run jackd with realtime scheduling where permitted (its process
    threads and its clients' callbacks, PortAudio's included, then preempt
    ordinary processes, and the live worker follows them). Off by default:
    on this 2-core VM, quiet, the realtime dummy server had 4-63 server xruns
    and 0-66 late blocks in each of five 5-minute runs, the ordinary one 0 or 1
    xruns and no late block in two runs (and 551 / 156 in a third; bench_live.py);
    under load (two other jobs on both cores, 60-s runs) realtime kept late
    blocks at 0-2 where the ordinary server's worker fell behind.
    Raises DeviceError when jackd is missing or does not come up.
    """
    from .devices import jack_server_running

    if shutil.which("jackd") is None:
        raise DeviceError("`start_server` needs jackd (Debian: apt-get install jackd2)")
    name = f"vocalex-{os.getpid()}"
    previous = os.environ.get("JACK_DEFAULT_SERVER")
    # jackd logs every xrun: to /dev/null, never to a pipe nobody drains
    process = subprocess.Popen(dummy_server_command(name, samplerate, period, realtime and realtime_permitted()), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
    os.environ["JACK_DEFAULT_SERVER"] = name  # libjack reads it: PortAudio connects to this server
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not jack_server_running():
            if process.poll() is not None:
                raise DeviceError(f"jackd exited with {process.returncode} at start ({' '.join(process.args)})")
            if time.monotonic() > deadline:
                raise DeviceError(f"jackd did not answer within {START_TIMEOUT_S:.0f} s")
            time.sleep(0.05)
        yield name
    finally:
        _release_portaudio()
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if previous is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = previous


def _release_portaudio() -> None:
    """Close PortAudio's JACK client while the server still runs.

    PortAudio keeps one JACK client from initialisation to exit; closing it
    after its server is gone aborts the interpreter (an assertion in pa_jack.c),
    so PortAudio is terminated before the server stops (sounddevice's exit
    handler then has nothing left to terminate).
    """
    sd = sys.modules.get("sounddevice")
    while sd is not None and sd._initialized:
        sd._terminate()


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when vocalex ends, whatever way (``vocalex live`` may leave by
    os._exit after a device loss, skipping every finally). Linux only; elsewhere the finally above stops it."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
