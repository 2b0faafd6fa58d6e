"""What the desktop plays as a live input (`vocalex live --input desktop`): the monitor of the default output.

On Linux, PulseAudio and PipeWire (through its PulseAudio front end) give every output ("sink") a
monitor source that carries what players and browsers send to it. PortAudio reaches it through ALSA's
``pulse`` device (libasound2-plugins); ``PULSE_SOURCE`` tells that device which source to capture.
Other systems have no such monitor: the message says what to route instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from vocalex.engine.errors import DeviceError

DESKTOP = "desktop"
PULSE_DEVICE = "pulse"  # ALSA's PulseAudio plugin, as PortAudio lists it

ROUTE_HINT = {
    "darwin": "macOS has no monitor of its output: install a loopback device (e.g. BlackHole), send the "
              "system output to it and pass it as --input",
    "win32": "pass the output's loopback as --input: enable 'Stereo Mix' in the sound settings, or install a "
             "virtual cable (e.g. VB-CABLE) and play into it",
}


def _pactl(*args: str) -> str | None:
    try:
        done = subprocess.run(["pactl", *args], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def default_sink() -> str | None:
    """The default output's name as PulseAudio / PipeWire-pulse reports it, None when no server answers."""
    name = _pactl("get-default-sink")
    if name:
        return name
    info = _pactl("info")  # pactl before 15 has no get-default-sink
    for line in (info or "").splitlines():
        if line.startswith("Default Sink:"):
            return line.split(":", 1)[1].strip() or None
    return None


def desktop_unavailable() -> str | None:
    """None where the desktop can be captured here, else one line saying why not and what to route."""
    if sys.platform != "linux":
        return f"--input desktop needs PulseAudio or PipeWire (Linux); {ROUTE_HINT.get(sys.platform, 'route the output to a loopback input device and pass it as --input')}"
    if shutil.which("pactl") is None:
        return "--input desktop needs pactl (Debian: apt-get install pulseaudio-utils) and a PulseAudio or PipeWire server"
    if default_sink() is None:
        return "--input desktop: no PulseAudio or PipeWire server answers (pactl info failed); start one, or pass a device as --input"
    return None


def select_desktop_input() -> str:
    """Point ALSA's pulse device at the default output's monitor; returns the --input device to open."""
    note = desktop_unavailable()
    if note:
        raise DeviceError(note)
    os.environ["PULSE_SOURCE"] = f"{default_sink()}.monitor"
    return PULSE_DEVICE
