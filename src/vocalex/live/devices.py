"""Audio devices through PortAudio (sounddevice): finding, checking and opening them; the JACK server's state.

PortAudio's own state is process-wide (Pa_Initialize at the import of sounddevice); the one fact this
module adds to it, that a stream of this process was abandoned (see :func:`abandon_portaudio`), is kept on
that same sounddevice module, not in a global of ours.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import threading
from dataclasses import dataclass

from .scheduling import realtime_priority
from vocalex.base.errors import DeviceError, UsageError

JACK_HOSTAPI_NAME = "JACK Audio Connection Kit"


def load_sounddevice():
    """Import sounddevice lazily: it needs the PortAudio library, only live mode does."""
    try:
        import sounddevice as sd
    except OSError as exc:  # "PortAudio library not found"
        raise DeviceError(f"live audio needs PortAudio: {exc} (Debian: apt-get install libportaudio2)") from None
    return sd


class DeviceLostError(DeviceError):
    """The device stopped delivering audio while running.

    ``engine``: the stopped LiveEngine (its stats); ``recorded``: the finalised recording's paths.
    """

    def __init__(self, message: str, engine=None, recorded: dict | None = None):
        super().__init__(message)
        self.engine = engine
        self.recorded = recorded or {}


def abandon_portaudio() -> None:
    """Keep PortAudio's exit handler from tearing down a stream whose device is gone.

    sounddevice terminates PortAudio at interpreter exit; with the JACK server
    gone that closes the abandoned stream (a wait of up to 10 minutes) and
    then jack_deactivate fails an assertion (abort). Unregistering it lets a
    normal exit finish; ``vocalex live`` goes further and leaves with
    ``os._exit`` (libjack's own threads may still run at exit).
    """
    import atexit

    sd = sys.modules.get("sounddevice")
    if sd is not None:
        sd._vocalex_abandoned = True  # read by portaudio_lost_its_jack_server(): the state lives with PortAudio's
    handler = getattr(sd, "_exit_handler", None)
    if handler is not None:
        atexit.unregister(handler)


def jack_server_running() -> bool:
    """Whether a JACK server answers (without starting one)."""
    try:
        import jack
    except (ImportError, OSError):
        import shutil
        import subprocess

        if shutil.which("jack_lsp") is None:
            return False
        # JACK_NO_START_SERVER: only look for a server; libjack would otherwise start one from ~/.jackdrc
        env = dict(os.environ, JACK_NO_START_SERVER="1")
        return subprocess.run(["jack_lsp"], capture_output=True, timeout=5, env=env).returncode == 0
    try:
        with quiet_stderr():  # libjack prints several lines when no server answers
            client = jack.Client("vocalex-probe", no_start_server=True)
    except jack.JackError:
        return False
    client.close()
    return True


@contextlib.contextmanager
def quiet_stderr():
    """Send file descriptor 2 to /dev/null for a moment (C libraries' chatter; Python's stderr is fd 2 too)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def portaudio(rescan_for_jack: bool = True):
    """The sounddevice module, re-initialised once if a JACK server runs that PortAudio has not seen.

    PortAudio enumerates JACK only when the server runs at Pa_Initialize time
    (the import of sounddevice). A rescan terminates PortAudio, so it is done
    only while this process has no open stream, i.e. before the engine starts.
    """
    sd = load_sounddevice()
    if not sd._initialized:  # terminated when a private JACK server stopped (jack_dummy): a later run starts afresh
        sd._initialize()
    if rescan_for_jack and hostapi_index(sd, JACK_HOSTAPI_NAME) is None and jack_server_running():
        sd._terminate()
        sd._initialize()
    return sd


def hostapi_index(sd, name: str) -> int | None:
    for index, api in enumerate(sd.query_hostapis()):
        if api["name"] == name:
            return index
    return None


def has_output_device() -> bool:
    """Whether PortAudio sees a device that plays: a sound card, or the ports of a running JACK server."""
    return any(d["max_output_channels"] > 0 for d in portaudio().query_devices())


def list_devices_text() -> str:
    """A table of the audio devices PortAudio sees, JACK's marked as preferred."""
    sd = portaudio()
    apis = sd.query_hostapis()
    jack_index = hostapi_index(sd, JACK_HOSTAPI_NAME)
    devices = sd.query_devices()
    if len(devices) == 0:
        return ("no audio devices found (no sound card and no JACK server running); without one, play a file into a "
                "private JACK dummy server and keep the output: vocalex live --input-file SONG --start-server --record DIR")
    lines = [f"{'index':>5}  {'in':>3} {'out':>3}  {'rate':>6}  host API / name"]
    for d in devices:
        mark = "*" if d["hostapi"] == jack_index else " "
        lines.append(
            f"{d['index']:>5}{mark} {d['max_input_channels']:>3} {d['max_output_channels']:>3}  "
            f"{int(d['default_samplerate']):>6}  {apis[d['hostapi']]['name']} / {d['name']}"
        )
    if jack_index is not None:
        lines.append("* JACK devices: chosen by default")
    return "\n".join(lines)


@dataclass(frozen=True)
class DeviceChoice:
    """The input and output device of a duplex stream and the format both run at."""

    input_index: int
    output_index: int
    input_name: str
    output_name: str
    hostapi: str
    samplerate: int
    channels: int


def find_device(sd, spec, kind: str, hostapi: int | None) -> dict:
    key = "max_input_channels" if kind == "input" else "max_output_channels"
    devices = [d for d in sd.query_devices() if d[key] > 0]
    if not devices:
        raise DeviceError(f"no audio {kind} device found (no sound card and no JACK server running); without one, "
                          "--input-file SONG --record DIR plays into a private JACK dummy server (--start-server)")
    if spec is None:
        if hostapi is not None:
            default = sd.query_hostapis(hostapi)[f"default_{kind}_device"]
        else:
            default = sd.default.device[0 if kind == "input" else 1]
        for d in devices:
            if d["index"] == default:
                return d
        return devices[0]
    text = str(spec).strip()
    if text.lstrip("-").isdigit():
        index = int(text)
        for d in devices:
            if d["index"] == index:
                return d
        raise DeviceError(f"no {kind} device with index {index}; see `list_devices`")
    exact = [d for d in devices if d["name"].lower() == text.lower()]
    matches = exact or [d for d in devices if text.lower() in d["name"].lower()]
    if hostapi is not None and len(matches) > 1:
        # the same device often appears under several host APIs: prefer JACK's
        preferred = [d for d in matches if d["hostapi"] == hostapi]
        matches = preferred or matches
    if not matches:
        raise DeviceError(f"no {kind} device named {text!r}; see `list_devices`")
    if len(matches) > 1:
        names = ", ".join(f"{d['index']}: {d['name']}" for d in matches)
        raise DeviceError(f"{kind} device name {text!r} is ambiguous ({names}); give an index")
    return matches[0]


# Rates offered when a device refuses the one asked for (PortAudio cannot list a device's rates).
COMMON_SAMPLERATES = (8000, 11025, 16000, 22050, 32000, 44100, 48000, 88200, 96000, 176400, 192000)


def _duplex_refuses(sd, din: dict, dout: dict, channels: int, rate: int) -> str | None:
    """PortAudio's reason why this input/output pair cannot run at ``rate``, or None when it can."""
    try:
        sd.check_input_settings(device=din["index"], channels=channels, dtype="float32", samplerate=rate)
        sd.check_output_settings(device=dout["index"], channels=channels, dtype="float32", samplerate=rate)
    except sd.PortAudioError as exc:
        return str(exc.args[0]) if exc.args else str(exc)
    return None


def _check_samplerate(sd, din: dict, dout: dict, channels: int, rate: int, hostapi: str) -> None:
    """A DeviceError naming the rates that work when the devices refuse ``rate`` (checked before anything opens)."""
    reason = _duplex_refuses(sd, din, dout, channels, rate)
    if reason is None:
        return
    candidates = sorted({int(din["default_samplerate"]), int(dout["default_samplerate"]), *COMMON_SAMPLERATES})
    working = [r for r in candidates if r != rate and _duplex_refuses(sd, din, dout, channels, r) is None]
    where = f"{din['name']!r}" if din["index"] == dout["index"] else f"{din['name']!r} -> {dout['name']!r}"
    if working:
        choice = "that" if len(working) == 1 else "one of these"
        hint = f"it runs at {', '.join(map(str, working))} Hz: use {choice} or leave --samplerate out"
    else:
        hint = "no common rate works either: see `list_devices`"
    if hostapi == JACK_HOSTAPI_NAME:
        hint += " (a JACK server runs at the one rate it was started with, jackd -r)"
    raise DeviceError(f"{where} refuses {rate} Hz ({reason}); {hint}")


def resolve_devices(input_spec=None, output_spec=None, max_channels: int = 2, samplerate: int | None = None) -> DeviceChoice:
    """Pick the input and output device (index or name, None = default, JACK preferred) and their format.

    ``samplerate`` None runs at the devices' own rate; a rate they refuse is a
    DeviceError naming the rates that work.
    """
    sd = portaudio()
    jack_index = hostapi_index(sd, JACK_HOSTAPI_NAME)
    din = find_device(sd, input_spec, "input", jack_index)
    dout = find_device(sd, output_spec, "output", jack_index)
    if din["hostapi"] != dout["hostapi"]:
        raise DeviceError(
            f"input {din['name']!r} and output {dout['name']!r} belong to different host APIs; "
            "a duplex stream needs both on one"
        )
    hostapi = sd.query_hostapis(din["hostapi"])["name"]
    channels = min(max_channels, din["max_input_channels"], dout["max_output_channels"])
    if samplerate is None:
        rate_in, rate_out = int(din["default_samplerate"]), int(dout["default_samplerate"])
        if rate_in != rate_out:
            raise DeviceError(
                f"input runs at {rate_in} Hz but output at {rate_out} Hz; a duplex stream needs one rate (--samplerate)"
            )
        rate = rate_in
    else:
        if samplerate <= 0:
            raise UsageError(f"`samplerate` must be a positive number of Hz, got {samplerate}")
        rate = int(samplerate)
        _check_samplerate(sd, din, dout, channels, rate, hostapi)
    return DeviceChoice(
        input_index=din["index"],
        output_index=dout["index"],
        input_name=din["name"],
        output_name=dout["name"],
        hostapi=hostapi,
        samplerate=rate,
        channels=channels,
    )


def stream_error(devices: DeviceChoice, what: str, exc: Exception) -> DeviceError:
    """The one-line error for a stream PortAudio could not open or start.

    A JACK server that went away after the devices were listed makes PortAudio
    report misleading causes ("Insufficient memory"): that case is named as
    what it is.
    """
    if devices.hostapi == JACK_HOSTAPI_NAME and not jack_server_running():
        return DeviceError(f"cannot {what}: the JACK server stopped (start it again and retry)")
    return DeviceError(f"cannot {what}: {exc}")


def portaudio_lost_its_jack_server() -> bool:
    """Whether PortAudio in this process holds a JACK client whose server is gone.

    Also true once a stream was abandoned (:func:`abandon_portaudio`).
    Then PortAudio must not be terminated (jack_deactivate fails an assertion
    and aborts the process): the process has to end without its teardown.
    """
    sd = sys.modules.get("sounddevice")
    if getattr(sd, "_vocalex_abandoned", False):
        return True
    if sd is None or not getattr(sd, "_initialized", 0) or hostapi_index(sd, JACK_HOSTAPI_NAME) is None:
        return False
    return not jack_server_running()


def probe_device(devices: DeviceChoice, blocksize: int, latency="low") -> tuple[int, int | None]:
    """What the live stream will get: (input + output latency in frames as PortAudio reports it, the realtime
    priority its callback thread runs at, or None where it is not realtime).

    The probe stream runs for a few silent callbacks: how the audio server
    schedules its clients (JACK with or without --realtime, PipeWire, ALSA) is
    only visible from inside a callback, and the worker's scheduling, and so
    the calibration's, follows it (live/scheduling.py).
    """
    sd = load_sounddevice()
    seen = []

    def callback(*args):
        if not seen:
            seen.append(threading.get_native_id())
        args[1 if len(args) == 5 else 0].fill(0)  # outdata (duplex) or the output-only stream's buffer

    try:
        with quiet_stderr():  # PortAudio prints its failed internal expressions on fd 2
            probe = open_stream(sd, devices, blocksize=blocksize, latency=latency, callback=callback)
    except sd.PortAudioError as exc:
        raise stream_error(devices, f"open {devices.input_name!r} -> {devices.output_name!r} at {devices.samplerate} Hz", exc) from None
    priority = None
    try:
        frames = sum(stream_latency_frames(sd, probe, devices, latency))
        try:
            probe.start()
            deadline = time.perf_counter() + 0.5
            while not seen and time.perf_counter() < deadline:
                time.sleep(0.002)
            if seen:
                priority = realtime_priority(seen[0])
            probe.stop()
        except sd.PortAudioError:  # the latency is known; a probe that cannot run leaves the worker ordinary
            pass
        return frames, priority
    finally:
        probe.close()


def stream_latency_frames(sd, stream, devices: DeviceChoice, latency="low") -> tuple[int, int]:
    """(input, output) buffering of an open stream in frames, as PortAudio reports it; (0, output) for an
    output-only stream (a file as the input).

    PortAudio's JACK host API reports 0 for an output-only stream's latency while a duplex stream on the same
    device reports the port's playback latency (measured on a JACK dummy server at -p 256: duplex (0.0, 5.8 ms),
    output-only 0.0): the sound goes through the same output ports, so where an output-only stream reports less
    than the device's own default output latency for the ``latency`` asked ("low"/"high"; a number of seconds
    is taken as given), the device's is what the output adds.
    """
    if devices.input_index is not None:
        lin, lout = stream.latency
    else:
        lin, lout = 0.0, float(stream.latency)
        if isinstance(latency, str):
            lout = max(lout, float(sd.query_devices(devices.output_index)[f"default_{latency}_output_latency"]))
    return round(lin * devices.samplerate), round(lout * devices.samplerate)


def open_stream(sd, devices: DeviceChoice, **kw):
    """A duplex stream; output-only when the input is a file (``devices.input_index`` None, engine/file_source.py)."""
    common = dict(samplerate=devices.samplerate, channels=devices.channels, dtype="float32", **kw)
    if devices.input_index is None:
        return sd.OutputStream(device=devices.output_index, **common)
    return sd.Stream(device=(devices.input_index, devices.output_index), **common)
