"""What the desktop plays as a live input (`vocalex live --input desktop`): the monitor of the default output.

On Linux, PulseAudio and PipeWire (through its PulseAudio front end) give every output ("sink") a
monitor source that carries what players and browsers send to it. ``parec`` (pulseaudio-utils; PipeWire
answers it too) records that monitor as raw float32 into a ring, and the live engine reads the ring
as its input, exactly as it reads a file (file_source.FileSource): the output goes to any device,
JACK included. Why not PortAudio's ALSA ``pulse`` device: a duplex stream through it started after
0.8 to 2 s or not at all on a loaded machine (0 to 480 callbacks in 2 s, where 344 were due), which the
engine's stall watchdog rightly reports as a lost device. Other systems have no monitor: the message
says what to route instead.

Threads: a reader thread moves parec's output into the ring; the audio callback only copies from it
(:meth:`DesktopSource.read_into`), never waits, and skips ahead when parec delivered a burst, so the
input's delay stays under MAX_BACKLOG_SECONDS.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time

import numpy as np

from vocalex.base.errors import DeviceError

from .ringbuffer import SpscRing

DESKTOP = "desktop"
RING_SECONDS = 2.0
# A live input stays live: when more than MAX_BACKLOG_SECONDS wait in the ring (the output's clock runs slower
# than the desktop's, or a stall), the reader jumps ahead to SKIP_TO_SECONDS. One larger jump rather than many
# small ones: each is a click, and the audio between them stays intact.
MAX_BACKLOG_SECONDS = 0.1
SKIP_TO_SECONDS = 0.02
START_TIMEOUT_S = 5.0
READ_BYTES = 4096

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


class DesktopSource:
    """The default output's monitor as float32 (frames, ``channels``) at ``samplerate``, for LiveEngine(source=...)."""

    def __init__(self, samplerate: int, channels: int, monitor: str | None = None):
        note = desktop_unavailable()
        if note:
            raise DeviceError(note)
        self.monitor = monitor or f"{default_sink()}.monitor"
        self.samplerate, self.channels = int(samplerate), int(channels)
        self.path = self.monitor
        self.kind = "capture"      # how the stop line names its underruns ("file" for a FileSource)
        self._ring = SpscRing(int(RING_SECONDS * self.samplerate), self.channels)
        self.total = None          # a live input has no end
        self.underruns = 0         # callbacks that found less than a block captured (silence filled the gap)
        self.gap_frames = 0
        self.skipped = 0           # frames dropped to keep the backlog short
        self.error = None
        self._process = None
        self._thread = None
        self._stop = False

    def start(self) -> None:
        """Start parec and wait for its first audio (DeviceError when none comes)."""
        command = ["parec", "-d", self.monitor, "--raw", "--format=float32le", f"--rate={self.samplerate}",
                   f"--channels={self.channels}", "--latency-msec=10"]
        try:
            self._process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            raise DeviceError(f"cannot run parec: {exc.strerror or exc}") from None
        self._thread = threading.Thread(target=self._read, name="vocalex-desktop-reader", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while self._ring.write_count == 0 and self.error is None:
            if time.monotonic() > deadline:
                self.stop()
                raise DeviceError(f"the desktop's monitor {self.monitor!r} delivered no audio within {START_TIMEOUT_S:.0f} s")
            time.sleep(0.005)
        if self.error is not None:
            self.stop()
            raise self.error

    def _read(self) -> None:
        frame_bytes = 4 * self.channels
        pending = b""
        stream = self._process.stdout
        while not self._stop:
            chunk = os.read(stream.fileno(), READ_BYTES * frame_bytes)
            if not chunk:
                if not self._stop:
                    why = self._process.stderr.read().decode(errors="replace").strip().splitlines()
                    self.error = DeviceError(f"parec stopped capturing {self.monitor!r}" + (f": {why[-1]}" if why else ""))
                return
            pending += chunk
            whole = len(pending) - len(pending) % frame_bytes
            if whole:
                self._ring.write(np.frombuffer(pending[:whole], dtype=np.float32).reshape(-1, self.channels))
                pending = pending[whole:]

    def stop(self) -> None:
        self._stop = True
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    # -- audio callback ---------------------------------------------------------------------------

    def read_into(self, out: np.ndarray) -> None:
        """Fill out (frames, channels) with the newest captured frames; silence for what has not come. Never waits."""
        ring = self._ring
        backlog = ring.write_count - ring.read_count - out.shape[0]
        if backlog > MAX_BACKLOG_SECONDS * self.samplerate:
            skip = backlog - int(SKIP_TO_SECONDS * self.samplerate)
            ring.read_count += skip
            self.skipped += skip
        if ring.read_or_silence(out) < out.shape[0]:
            self.underruns += 1

    def played_out(self, output_position: int, delay: int) -> bool:
        return False  # runs until stopped


def resolve_desktop_devices(output_spec=None, samplerate: int | None = None):
    """The output device for a desktop input (as file_source.resolve_output_device, named for the monitor)."""
    import dataclasses

    from .file_source import resolve_output_device

    note = desktop_unavailable()
    if note:
        raise DeviceError(note)
    devices = resolve_output_device("desktop", output_spec, samplerate=samplerate)
    return dataclasses.replace(devices, input_name=f"desktop ({default_sink()}.monitor)")
