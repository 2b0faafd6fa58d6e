"""The live engine: a duplex audio stream, lock-free rings and one worker thread.

Threads and what each may do
----------------------------
* The **audio callback** (PortAudio's thread) only copies: the input block into
  the input ring, the output block out of the output ring (``outdata[:] = ...``
  via ``np.copyto``), the delivered block into the played ring, and counts
  status flags and late blocks. It never allocates an audio buffer, takes no
  lock, touches no file and runs no inference.
* The **worker thread** pulls input from the input ring, runs
  ``StreamSeparator.process``, applies the stem gains, pushes the result into
  the output ring, measures levels and compute times, and writes the recording.
* The **main thread** opens/closes the stream, runs the meter and handles Ctrl-C.

The fixed delay (exact, in device samples)
------------------------------------------
Every frame has an absolute position: the callback's n-th input frame is input
position n, and the n-th frame it plays is output position n. The worker keeps
the invariant ``output_ring.write_count == input_position + H``: the output
ring starts with H frames of silence and every processed input frame appends
exactly one output frame. The separator's own output is delayed by
``L = stream.latency`` (algorithmic: STFT overlap-add, stride, lookahead,
resampling), so

    played[n] = gains . stems(input)[n - H - L]

for every n, whatever the worker's timing. ``H`` is the **compute headroom**:
block k arrives in callback k and its output is due in callback k + H/blocksize,
so the worker has H samples of time per block. H is planned from a calibration
of the very stream on this machine (:mod:`vocalex.engine.live_plan`: 1.5 x the
p99.9 block time + 1 ms, rounded up to whole blocks, plus ``margin_blocks``),
not from the stride: a 5 ms model call needs 2 blocks of 5.8 ms, not the whole
stride it was once given. The device and audio server add their own buffering
on top (PortAudio's reported input and output latency), so what a listener
hears is delayed by ``H + L + device``.

Late results
------------
If, at callback time, the worker has not produced a frame that is due, the
callback plays the **delayed dry input** (``input[n - H - L]``, the same signal
with both stem gains at 0 dB) for the missing frames and counts one late block
(``--on-late silence`` plays silence instead). The dry input is time-aligned
with the processed output, so a late block is heard as the vocals briefly
returning, not as a click or a jump. The output position still advances: frames
the worker finishes after their due time are overwritten later and never
played, so the delay stays fixed. If the worker falls more than ``resync_lag``
frames behind (sustained overload), it skips all pending input, writes silence
for the skipped output positions, resets the separator and carries on; the
invariant above holds across a resync, so the delay is still the same
afterwards (the separator's warm-up after a reset is heard as L samples of
silence). ``resync_lag`` is max(H, 0.2 s).

Scheduling
----------
A pure-Python engine shares the GIL and, on small machines, the cores. These
measures keep the audio thread and the worker on time: the interpreter's switch
interval is lowered to 0.5 ms while live (a thread holding the GIL hands it over
within that time, not 5 ms, about one 256-frame block); the objects alive at
start are frozen out of the garbage collector (a full collection took 25-55 ms
with the GIL held); the audio and worker threads get nice -10 where permitted
(:func:`raise_thread_priority`); where the audio server runs its callbacks
realtime (JACK --realtime, PipeWire), the worker runs SCHED_FIFO one step
below the callback (:func:`follow_realtime_callback`), so other processes'
load cannot delay it, and the start-up timing is measured at that priority;
ONNX Runtime runs one thread by default (its default pool spin-waits on every core).

Recording
---------
``--record DIR``: the worker writes ``input.wav`` (what the device delivered)
and ``output.wav`` (what the callback played, late blocks included) as
float32, sample-aligned, to hidden partial files renamed into place at stop.

Device faults
-------------
The main thread is the watchdog (never the callback): every tick it checks
that the stream is still active and that a callback arrived within
``stall_timeout`` (default max(2 s, 8 blocks)). When the input device vanishes
(its JACK server is killed or stopped, a USB device is unplugged) PortAudio
marks the stream inactive and the callbacks stop; a server that hangs only
stops the callbacks. Either way :meth:`LiveEngine.run` stops the worker, keeps
the recording (complete, valid files up to the moment the audio stopped: what
was captured is worth keeping; an empty recording is discarded) and raises
:class:`DeviceLostError`. The PortAudio stream is then *abandoned*, never
stopped or closed: after its JACK server is gone, PortAudio's stop and close
wait up to 10 minutes for a process cycle that never comes and its terminate
aborts the process (pa_jack.c). The process must end without PortAudio's
teardown (:func:`abandon_portaudio`; ``vocalex live`` exits with ``os._exit``).
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DeviceError, OutputError, UsageError, VocalexError
from .live_plan import (
    CALIBRATION_SECONDS,
    DEFAULT_MAX_LOAD,
    Calibration,
    LatencyPlan,
    calibrate,
    at_realtime_priority,
    choose_stride,
    headroom_samples,
    plan_latency,
    stride_load,
    stride_samples,
    time_model_call,
)
from .ringbuffer import SpscRing

JACK_HOSTAPI_NAME = "JACK Audio Connection Kit"
KEEP_CHOICES = ("accompaniment", "vocals", "all")
LATE_FILLS = ("dry", "silence")
LIVE_DEFAULT_THREADS = 1
STATUS_FLAGS = ("input_overflow", "input_underflow", "output_overflow", "output_underflow")


# ---------------------------------------------------------------------------------------------
# gains


def parse_gain_db(text: str) -> float:
    """A gain in dB from the command line: a finite number or ``-inf`` (mute)."""
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"gain {text!r} is not a number of dB (use e.g. 0, -6 or -inf)") from None
    if math.isnan(value) or value == math.inf:
        raise UsageError(f"gain {text!r} is not usable; give a finite number of dB or -inf")
    if value > 40:
        raise UsageError(f"gain {value:g} dB is too loud (at most +40 dB)")
    return value


def db_to_linear(db: float) -> float:
    return 0.0 if db == -math.inf else float(10.0 ** (db / 20.0))


def stem_gains(keep: str = "accompaniment", vocals_db: float | None = None, accompaniment_db: float | None = None) -> tuple[float, float]:
    """Linear (vocals, accompaniment) gains: ``keep`` sets 0 dB / mute, explicit dB values override it."""
    if keep not in KEEP_CHOICES:
        raise UsageError(f"--keep must be one of {', '.join(KEEP_CHOICES)}, got {keep!r}")
    v_db = 0.0 if keep in ("vocals", "all") else -math.inf
    a_db = 0.0 if keep in ("accompaniment", "all") else -math.inf
    if vocals_db is not None:
        v_db = vocals_db
    if accompaniment_db is not None:
        a_db = accompaniment_db
    return db_to_linear(v_db), db_to_linear(a_db)


# ---------------------------------------------------------------------------------------------
# devices


def _sounddevice():
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

    global _portaudio_abandoned
    _portaudio_abandoned = True
    sd = sys.modules.get("sounddevice")
    handler = getattr(sd, "_exit_handler", None)
    if handler is not None:
        atexit.unregister(handler)


_portaudio_abandoned = False  # set by abandon_portaudio(): a stream of this process was given up


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
        with _quiet_stderr():  # libjack prints several lines when no server answers
            client = jack.Client("vocalex-probe", no_start_server=True)
    except jack.JackError:
        return False
    client.close()
    return True


@contextlib.contextmanager
def _quiet_stderr():
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
    sd = _sounddevice()
    if rescan_for_jack and _hostapi_index(sd, JACK_HOSTAPI_NAME) is None and jack_server_running():
        sd._terminate()
        sd._initialize()
    return sd


def _hostapi_index(sd, name: str) -> int | None:
    for index, api in enumerate(sd.query_hostapis()):
        if api["name"] == name:
            return index
    return None


def list_devices_text() -> str:
    """A table of the audio devices PortAudio sees, JACK's marked as preferred."""
    sd = portaudio()
    apis = sd.query_hostapis()
    jack_index = _hostapi_index(sd, JACK_HOSTAPI_NAME)
    devices = sd.query_devices()
    if len(devices) == 0:
        return "no audio devices found (no sound card and no JACK server running)"
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


def _find_device(sd, spec, kind: str, hostapi: int | None) -> dict:
    key = "max_input_channels" if kind == "input" else "max_output_channels"
    devices = [d for d in sd.query_devices() if d[key] > 0]
    if not devices:
        raise DeviceError(f"no audio {kind} device found (no sound card and no JACK server running)")
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
        raise DeviceError(f"no {kind} device with index {index}; see vocalex live --list-devices")
    exact = [d for d in devices if d["name"].lower() == text.lower()]
    matches = exact or [d for d in devices if text.lower() in d["name"].lower()]
    if hostapi is not None and len(matches) > 1:
        # the same device often appears under several host APIs: prefer JACK's
        preferred = [d for d in matches if d["hostapi"] == hostapi]
        matches = preferred or matches
    if not matches:
        raise DeviceError(f"no {kind} device named {text!r}; see vocalex live --list-devices")
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
        hint = "no common rate works either: see vocalex live --list-devices"
    if hostapi == JACK_HOSTAPI_NAME:
        hint += " (a JACK server runs at the one rate it was started with, jackd -r)"
    raise DeviceError(f"{where} refuses {rate} Hz ({reason}); {hint}")


def resolve_devices(input_spec=None, output_spec=None, max_channels: int = 2, samplerate: int | None = None) -> DeviceChoice:
    """Pick the input and output device (index or name, None = default, JACK preferred) and their format.

    ``samplerate`` None runs at the devices' own rate; a rate they refuse is a
    DeviceError naming the rates that work.
    """
    sd = portaudio()
    jack_index = _hostapi_index(sd, JACK_HOSTAPI_NAME)
    din = _find_device(sd, input_spec, "input", jack_index)
    dout = _find_device(sd, output_spec, "output", jack_index)
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
            raise UsageError(f"--samplerate must be a positive number of Hz, got {samplerate}")
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


@dataclass
class LiveSetup:
    """A separator stream made for a device, with the plan that chose its stride and lookahead."""

    separator: object
    stream: object
    plan: LatencyPlan
    call_seconds: float      # measured time of one model call (channels batched)
    stride_period: int       # device samples between model calls
    calibration: Calibration  # per-block processing times the headroom was planned from


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
    if _portaudio_abandoned:
        return True
    sd = sys.modules.get("sounddevice")
    if sd is None or not getattr(sd, "_initialized", 0) or _hostapi_index(sd, JACK_HOSTAPI_NAME) is None:
        return False
    return not jack_server_running()


def probe_device(devices: DeviceChoice, blocksize: int, latency="low") -> tuple[int, int | None]:
    """What the live stream will get: (input + output latency in frames as PortAudio reports it, the realtime
    priority its callback thread runs at, or None where it is not realtime).

    The probe stream runs for a few silent callbacks: how the audio server
    schedules its clients (JACK with or without --realtime, PipeWire, ALSA) is
    only visible from inside a callback, and the worker's scheduling, and so
    the calibration's, follows it (:func:`follow_realtime_callback`).
    """
    sd = _sounddevice()
    seen = []

    def callback(*args):
        if not seen:
            seen.append(threading.get_native_id())
        args[1 if len(args) == 5 else 0].fill(0)  # outdata (duplex) or the output-only stream's buffer

    try:
        with _quiet_stderr():  # PortAudio prints its failed internal expressions on fd 2
            probe = _open_stream(sd, devices, blocksize=blocksize, latency=latency, callback=callback)
    except sd.PortAudioError as exc:
        raise stream_error(devices, f"open {devices.input_name!r} -> {devices.output_name!r} at {devices.samplerate} Hz", exc) from None
    priority = None
    try:
        frames = round(sum(np.atleast_1d(probe.latency)) * devices.samplerate)
        try:
            probe.start()
            deadline = time.perf_counter() + 0.5
            while not seen and time.perf_counter() < deadline:
                time.sleep(0.002)
            if seen:
                priority = _realtime_priority(seen[0])
            probe.stop()
        except sd.PortAudioError:  # the latency is known; a probe that cannot run leaves the worker ordinary
            pass
        return frames, priority
    finally:
        probe.close()


def _realtime_priority(tid: int) -> int | None:
    try:
        if os.sched_getscheduler(tid) in (os.SCHED_FIFO, os.SCHED_RR):
            return os.sched_getparam(tid).sched_priority
    except (OSError, AttributeError):  # the thread ended, or not Linux
        pass
    return None


def _open_stream(sd, devices: DeviceChoice, **kw):
    """A duplex stream; output-only when the input is a file (``devices.input_index`` None, engine/file_source.py)."""
    common = dict(samplerate=devices.samplerate, channels=devices.channels, dtype="float32", **kw)
    if devices.input_index is None:
        return sd.OutputStream(device=devices.output_index, **common)
    return sd.Stream(device=(devices.input_index, devices.output_index), **common)


def build_live_stream(
    devices: DeviceChoice,
    model=None,
    provider: str = "cpu",
    threads: int | None = None,
    stride: int | None = None,
    lookahead: int | None = None,
    latency_ms: float | None = None,
    blocksize: int = 256,
    margin_blocks: int | None = None,
    separator=None,
    max_load: float = DEFAULT_MAX_LOAD,
    calibration_seconds: float = CALIBRATION_SECONDS,
    synthesis: str = "hann",
) -> LiveSetup:
    """Load the model (or use ``separator``), measure it, choose stride/lookahead and headroom, make the stream.

    The stride is the smallest the measured model call allows (:func:`choose_stride`)
    unless ``stride`` is given; with ``latency_ms`` the lookahead is the largest
    that fits the target (:func:`plan_latency`), else ``lookahead`` (default 0).
    The headroom comes from a calibration of the chosen stream on this machine
    (:func:`calibrate`), plus ``margin_blocks`` device blocks (None: 0 where the
    worker runs realtime, else 1).
    """
    from .separator import DEFAULT_LOOKAHEAD, Separator

    if latency_ms is not None and (stride is not None or lookahead is not None):
        raise UsageError("give either --latency-ms or --stride/--lookahead, not both")
    if latency_ms is not None and not (math.isfinite(latency_ms) and latency_ms > 0):
        raise UsageError(f"--latency-ms must be a positive number, got {latency_ms:g}")
    if margin_blocks is not None and margin_blocks < 0:
        raise UsageError(f"--margin-blocks must be 0 or more, got {margin_blocks}")
    # One ONNX Runtime thread unless told otherwise: the default pool spin-waits on every core, which
    # steals the CPU the audio threads need; on this 2-core machine under load a call took 13 ms with
    # one thread and 30 ms with the default pool.
    threads = LIVE_DEFAULT_THREADS if threads is None else threads
    sep = separator if separator is not None else Separator.load(model=model, provider=provider, threads=threads)
    profile = sep.profile
    rate, channels = devices.samplerate, devices.channels
    device, callback_priority = probe_device(devices, blocksize)
    # the worker (and so the timing of it) runs one realtime step below a realtime callback
    worker_priority = None if callback_priority is None else max(1, callback_priority - 1)
    if margin_blocks is None:
        # A realtime worker is not slowed by other processes: measured here under load 3-5 (two other jobs on
        # both cores), 0 late blocks in 60 s without margin. An ordinary one is (at load 3-16 its per-block p99
        # doubled), so it keeps one block for that.
        margin_blocks = 0 if worker_priority is not None else 1
    call_seconds = at_realtime_priority(worker_priority, time_model_call, sep.model, channels)
    hop, model_rate = profile.hop_length, profile.sample_rate

    s = choose_stride(call_seconds, profile, max_load) if stride is None else stride
    la = DEFAULT_LOOKAHEAD if lookahead is None else lookahead
    # The stride fixes which blocks pay for a model call; lookahead does not change the work per block,
    # so one calibration at lookahead 0 serves every lookahead the planner tries.
    freeze_heap()  # as the live run will have it (LiveEngine.start), so that the calibration does not time collections
    calibration = calibrate(sep.stream(rate, channels, stride=s, lookahead=0, synthesis=synthesis), blocksize,
                            calibration_seconds, priority=worker_priority)
    if latency_ms is not None:
        plan = plan_latency(
            profile, call_seconds, latency_ms, rate, blocksize,
            lambda st, lk: sep.stream(rate, channels, stride=st, lookahead=lk, synthesis=synthesis).latency,
            calibration.need, device, max_load, margin_blocks,
        )
    else:
        stream = sep.stream(rate, channels, stride=s, lookahead=la, synthesis=synthesis)  # validates s and la
        plan = LatencyPlan(
            s, la, stream.latency, headroom_samples(calibration.need, rate, blocksize, margin_blocks),
            device, rate, stride_load(call_seconds, s, hop, model_rate),
        )
    stream = sep.stream(rate, channels, stride=plan.stride, lookahead=plan.lookahead, synthesis=synthesis)
    period = stride_samples(plan.stride, hop, model_rate, rate)
    return LiveSetup(sep, stream, plan, call_seconds, period, calibration)


# ---------------------------------------------------------------------------------------------
# recording


class LiveRecorder:
    """input.wav and output.wav (float32) written by the worker, renamed into place at close.

    ``write(kind, position, block)`` places a block (frames, channels) at its
    absolute frame position; a gap (frames the worker skipped) is written as
    silence, so both files stay sample-aligned with what the device saw.
    """

    KINDS = ("input", "output")

    def __init__(self, folder: str | os.PathLike, samplerate: int, channels: int, force: bool = False):
        from .wavfile import FloatWavWriter

        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise OutputError(f"--record {self.folder} exists and is not a folder")
        finals = {k: self.folder / f"{k}.wav" for k in self.KINDS}
        if not force:
            existing = [str(p) for p in finals.values() if p.exists()]
            if existing:
                raise OutputError(f"{existing[0]} exists; pass --force to overwrite")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create --record folder {self.folder}: {exc.strerror}") from None
        self._finals = finals
        self._partials = {k: self.folder / f".{k}.wav.partial" for k in self.KINDS}
        self._files = {}
        try:
            for k in self.KINDS:
                self._files[k] = FloatWavWriter(self._partials[k], samplerate, channels)
        except (OSError, RuntimeError) as exc:  # a read-only folder, quota, no space (libsndfile: RuntimeError)
            for f in self._files.values():
                f.close()
            for k in self._files:
                self._partials[k].unlink(missing_ok=True)
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise OutputError(f"cannot create the recording in {self.folder}: {reason}") from None
        self._positions = dict.fromkeys(self.KINDS, 0)
        self._zeros = np.zeros((4096, channels), dtype=np.float32)
        self.failed: str | None = None  # why writing failed; such a recording is removed at close

    def write(self, kind: str, position: int, block: np.ndarray) -> None:
        """Place ``block`` (frames, channels) float32 at absolute frame ``position`` of ``kind``'s file."""
        if self.failed:
            return
        try:
            self._write(kind, position, block)
        except (OSError, RuntimeError) as exc:  # disk full, file size limit, I/O error (libsndfile: RuntimeError)
            self.failed = self._failure(exc)
            raise OutputError(self.failed) from None

    def _failure(self, exc: Exception) -> str:
        """One line for a failed write; libsndfile says only "System error.", so the free space is named too."""
        import shutil

        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).rstrip(".")
        try:
            free = shutil.disk_usage(self.folder).free
            where = f" ({free / 1e6:.0f} MB free there{'; disk full?' if free < 64e6 else ''})"
        except OSError:
            where = ""
        return f"cannot write the recording in {self.folder}{where}: {reason}; nothing was kept"

    def _write(self, kind: str, position: int, block: np.ndarray) -> None:
        f = self._files[kind]
        written = self._positions[kind]
        end = position + block.shape[0]
        if end <= written:
            return
        if position < written:  # overlaps what is already written: keep the first version
            block = block[written - position:]
            position = written
        gap = position - written
        while gap > 0:
            n = min(gap, len(self._zeros))
            f.write(self._zeros[:n])
            gap -= n
        f.write(block)
        self._positions[kind] = end

    @property
    def frames(self) -> int:
        """Frames recorded so far (the longer of the two files)."""
        return max(self._positions.values())

    def close(self, keep: bool = True) -> dict[str, Path]:
        """Finish both files; pad the shorter with silence so both have the same length, then rename.

        A recording that could not be written completely is removed (never
        renamed into place) and reported as an OutputError.
        """
        end = max(self._positions.values())
        for kind in self.KINDS:
            try:
                if keep and not self.failed and self._positions[kind] < end:
                    self.write(kind, end - 1, self._zeros[:1])  # silence up to `end`
            except OutputError:
                pass  # self.failed says why
            try:
                self._files[kind].close()  # writes the WAV header: may fail on a full disk too
            except (OSError, RuntimeError) as exc:
                self.failed = self.failed or self._failure(exc)
        if not keep or self.failed:
            for p in self._partials.values():
                p.unlink(missing_ok=True)
            if keep:
                raise OutputError(self.failed)
            return {}
        for kind in self.KINDS:
            os.replace(self._partials[kind], self._finals[kind])
        return dict(self._finals)


# ---------------------------------------------------------------------------------------------
# the engine

LIVE_NICE = -10


def raise_thread_priority(native_id: int, nice: int = LIVE_NICE) -> bool:
    """Best effort: give one thread (Linux thread id) a higher CPU share; False where not permitted.

    The audio and worker threads must run every few milliseconds even when
    other processes keep all cores busy. Without a realtime audio server (the
    JACK dummy server here runs with --no-realtime) a lower nice value is the
    portable lever: the scheduler then gives these threads a larger share and
    wakes them sooner. On Linux the nice value is per thread.
    """
    try:
        os.setpriority(os.PRIO_PROCESS, native_id, nice)
        return True
    except (OSError, AttributeError):  # no permission (not root, no CAP_SYS_NICE) or not Linux
        return False


def _enter_lowest_realtime():
    """Run the calling thread SCHED_FIFO at priority 1; returns (thread id, old policy, old priority) or None."""
    tid = threading.get_native_id()
    try:
        old = (tid, os.sched_getscheduler(0), os.sched_getparam(0).sched_priority)
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
        return old
    except (OSError, AttributeError):
        return None


def _leave_realtime(tid: int, policy: int, priority: int) -> None:
    try:
        os.sched_setscheduler(tid, policy, os.sched_param(priority))
    except (OSError, AttributeError):  # the thread is gone
        pass


def freeze_heap() -> None:
    """Collect once, then move every object alive now out of the collector's sight (``gc.freeze``)."""
    gc.collect()
    gc.freeze()


def follow_realtime_callback(worker_tid: int, callback_tid: int) -> int | None:
    """Best effort: where the audio callback runs realtime, run the worker realtime too, one step below it.

    A realtime audio server (JACK with --realtime, PipeWire) runs its clients'
    callbacks SCHED_FIFO, so they preempt every ordinary process; the worker,
    which must turn each stride into output within the compute headroom, is
    then the one thread of the live path that other processes' load can still
    delay (measured here: per-block p99 twice the calibration's under load).
    One priority step below the callback keeps the callback first; Linux's
    realtime throttling bounds what a runaway worker could take. Returns the
    worker's priority, or None where the callback is not realtime or it is not permitted.
    """
    try:
        callback_priority = _realtime_priority(callback_tid)
        if callback_priority is None:
            return None
        priority = max(1, callback_priority - 1)
        os.sched_setscheduler(worker_tid, os.SCHED_FIFO, os.sched_param(priority))
        return priority
    except (OSError, AttributeError):  # not permitted, thread gone, or not Linux
        return None


@dataclass
class LiveStats:
    """Counters the callback and the worker update; read (never written) by the meter."""

    callbacks: int = 0
    late_blocks: int = 0
    xruns: int = 0                       # callbacks with any of STATUS_FLAGS set
    flags: dict = field(default_factory=lambda: dict.fromkeys(STATUS_FLAGS + ("priming_output",), 0))
    resyncs: int = 0
    process_calls: int = 0
    processed_frames: int = 0
    compute_seconds: float = 0.0         # total time inside process() + gains
    input_peak: float = 0.0              # decaying peak, linear
    output_peak: float = 0.0
    worker_error: str | None = None


class LiveEngine:
    """Runs a StreamSeparator on a duplex sounddevice stream in real time.

    stream: an object with ``process(block) -> {"vocals", "accompaniment"}``
    ((frames, channels) float32 in and out, same length), ``reset()`` and
    ``latency`` (samples at the device rate), made for ``samplerate`` and
    ``channels``. gains: linear (vocals, accompaniment). The output is
    ``gains . stems`` delayed by exactly ``headroom + stream.latency`` frames
    (module docstring). source: a file_source.FileSource to play as the input
    on an output-only stream (``devices.input_index`` None); the run then
    ends by itself once the file has been played out.
    """

    def __init__(
        self,
        stream,
        devices: DeviceChoice,
        blocksize: int = 256,
        gains: tuple[float, float] = (0.0, 1.0),
        headroom: int | None = None,
        late_fill: str = "dry",
        recorder: LiveRecorder | None = None,
        stride_period: int | None = None,
        stream_latency: str | float = "low",
        stall_timeout: float | None = None,
        source=None,
    ):
        if blocksize < 16:
            raise UsageError(f"--blocksize must be at least 16 frames, got {blocksize}")
        if late_fill not in LATE_FILLS:
            raise UsageError(f"late fill must be one of {', '.join(LATE_FILLS)}, got {late_fill!r}")
        self.stream = stream
        self.devices = devices
        self.samplerate = devices.samplerate
        self.channels = devices.channels
        self.blocksize = int(blocksize)
        self.gains = (float(gains[0]), float(gains[1]))
        self.algorithmic = int(stream.latency)
        self.headroom = int(headroom) if headroom is not None else 2 * self.blocksize
        if self.headroom < self.blocksize:
            raise UsageError(f"compute headroom ({self.headroom}) must be at least one block ({self.blocksize})")
        self.late_fill = late_fill
        self._late_dry = late_fill == "dry"  # a plain attribute: the callback reads it every block
        self.recorder = recorder
        self.stride_period = stride_period or self.blocksize  # device samples per model call (for the load)
        self._stream_latency = stream_latency
        # No callback for this long means the device stopped delivering audio (a hung or stopped
        # server); at least 2 s so that a loaded machine's scheduling hiccups never count as one.
        self.stall_timeout = max(2.0, 8 * self.blocksize / self.samplerate) if stall_timeout is None else float(stall_timeout)
        self.device_lost: str | None = None  # why the device stopped delivering audio (then the stream is abandoned)
        self.stats = LiveStats()
        # A file played as the input (file_source.FileSource) instead of the device's: its callback
        # fills this block from the source's ring, then runs the ordinary callback.
        self.source = source
        self._source_block = np.zeros((max(self.blocksize, 8192), self.channels), dtype=np.float32)

        # Positions: input n is played at output n + headroom + algorithmic (the dry fallback reads there).
        self._dry_offset = self.headroom + self.algorithmic
        self.resync_lag = max(self.headroom, self.samplerate // 5)
        # Capacities: the dry fallback reads headroom + algorithmic + a block behind the input writer,
        # and the worker may fall resync_lag behind before it skips; 2 s more absorbs one stalled call.
        span = self._dry_offset + self.resync_lag + 4 * self.blocksize + 2 * self.samplerate
        self._in_ring = SpscRing(span, self.channels)
        self._out_ring = SpscRing(self.headroom + self.resync_lag + 2 * self.samplerate, self.channels)
        self._played_ring = SpscRing(4 * self.samplerate, self.channels)
        self._max_chunk = self.resync_lag + 8 * self.blocksize
        self._in_scratch = np.zeros((self._max_chunk, self.channels), dtype=np.float32)
        self._mix_scratch = np.zeros((self._max_chunk, self.channels), dtype=np.float32)
        self._played_scratch = np.zeros((self._played_ring.capacity, self.channels), dtype=np.float32)
        self._zeros = np.zeros((self._max_chunk, self.channels), dtype=np.float32)
        self._write_silence(self.headroom)  # the first H output frames are silence
        self._callback_times = np.zeros(8192, dtype=np.float64)
        self.late_at = np.zeros(256, dtype=np.int64)  # callback index of the first 256 late blocks
        self._compute_times = np.zeros(4096, dtype=np.float64)   # seconds per process() call
        self._compute_frames = np.zeros(4096, dtype=np.int64)    # frames of that call
        self._peak_decay_per_frame = 10 ** (-20 / 20 / self.samplerate)  # peaks fall 20 dB per second

        self._sd_stream = None
        self._worker_exception = None
        self._callback_tid = None
        self._worker_tid = None
        self.worker_realtime_priority = None  # set at start where the callback runs realtime
        self.scheduling_at_start = "not started"
        self._caller_scheduling = None  # (thread id, policy, priority) to restore at stop
        self._worker = None
        self._stop = False
        self._device_latency = (0, 0)
        self._switch_interval = None
        self._started_at = None

    # -- the audio callback (PortAudio's thread) -------------------------------------------------

    def _callback(self, indata, outdata, frames, time_info, status):
        stats = self.stats
        self._callback_times[stats.callbacks % 8192] = time.perf_counter()
        if self._callback_tid is None:
            self._callback_tid = threading.get_native_id()
        if status:
            flags = stats.flags
            xrun = False
            for name in STATUS_FLAGS:
                if getattr(status, name):
                    flags[name] += 1
                    xrun = True
            if status.priming_output:
                flags["priming_output"] += 1
            if xrun:
                stats.xruns += 1
        self._in_ring.write(indata)
        out_ring = self._out_ring
        position = out_ring.read_count
        ready = out_ring.write_count - position
        if ready >= frames:
            out_ring.copy_from(position, outdata)
        else:
            ready = max(ready, 0)
            if ready:
                out_ring.copy_from(position, outdata[:ready])
            if self._late_dry:
                self._in_ring.copy_from(position + ready - self._dry_offset, outdata[ready:])
            else:
                outdata[ready:] = 0.0
            if stats.late_blocks < len(self.late_at):
                self.late_at[stats.late_blocks] = stats.callbacks
            stats.late_blocks += 1
        out_ring.read_count = position + frames
        self._played_ring.write(outdata)
        stats.callbacks += 1

    def _file_callback(self, outdata, frames, time_info, status):
        """Output-only stream: the input block comes from the file source (a copy, never a wait)."""
        block = self._source_block[:frames]
        self.source.read_into(block)
        self._callback(block, outdata, frames, time_info, status)

    # -- the worker thread ----------------------------------------------------------------------

    def _write_silence(self, n: int) -> None:
        while n > 0:
            m = min(n, len(self._zeros))
            self._out_ring.write(self._zeros[:m])
            n -= m

    def _resync(self) -> None:
        """Skip all pending input (sustained overload): silence for its output, separator reset."""
        in_ring = self._in_ring
        target = in_ring.write_count
        skipped = target - in_ring.read_count
        if self.recorder is not None:
            self._record_input_until(target)
        in_ring.skip_to(target)
        self._write_silence(skipped)
        self.stream.reset()
        self.stats.resyncs += 1

    def _record_input_until(self, end: int) -> None:
        """Record input frames [read_count, end) without processing them (they stay unconsumed).

        Frames the producer has already overwritten are lost; the recorder
        writes silence for that gap.
        """
        ring = self._in_ring
        position = max(ring.read_count, ring.write_count - ring.capacity + self.blocksize)
        while position < end:
            n = min(end - position, self._max_chunk)
            block = self._in_scratch[:n]
            ring.copy_from(position, block)
            if not ring.lapped(position):
                self.recorder.write("input", position, block)
            position += n

    def _process_pending(self) -> bool:
        """Process all input that has arrived; False when there was none."""
        in_ring, out_ring, stats = self._in_ring, self._out_ring, self.stats
        available = in_ring.available()
        if available <= 0:
            return False
        if in_ring.lapped(in_ring.read_count) or out_ring.read_count - out_ring.write_count > self.resync_lag:
            self._resync()
            return True
        n = min(available, self._max_chunk)
        block = self._in_scratch[:n]
        position = in_ring.read(block)
        if in_ring.lapped(position):  # overwritten while we copied
            self._resync()
            return True
        t0 = time.perf_counter()
        stems = self.stream.process(block)
        mix = self._mix_scratch[:n]
        gv, ga = self.gains
        np.multiply(stems["accompaniment"], ga, out=mix)
        if gv != 0.0:
            mix += gv * stems["vocals"]
        dt = time.perf_counter() - t0
        out_ring.write(mix)
        i = stats.process_calls % len(self._compute_times)
        self._compute_times[i] = dt
        self._compute_frames[i] = n
        stats.process_calls += 1
        stats.processed_frames += n
        stats.compute_seconds += dt
        decay = self._peak_decay_per_frame ** n
        stats.input_peak = max(float(np.max(np.abs(block))), stats.input_peak * decay)
        if self.recorder is not None:
            self.recorder.write("input", position, block)
        return True

    def _drain_played(self) -> None:
        """Move what the callback played into the output level and the recording."""
        ring = self._played_ring
        available = ring.available()
        if available <= 0:
            return
        if ring.lapped(ring.read_count):  # worker stalled for seconds: those frames are lost for the recording
            ring.skip_to(ring.write_count - ring.capacity // 2)
            available = ring.available()
        block = self._played_scratch[:available]
        position = ring.read(block)
        decay = self._peak_decay_per_frame ** available
        self.stats.output_peak = max(float(np.max(np.abs(block))), self.stats.output_peak * decay)
        if self.recorder is not None:
            self.recorder.write("output", position, block)

    def _work(self) -> None:
        poll = min(0.001, self.blocksize / self.samplerate / 4)
        self._worker_tid = threading.get_native_id()
        raise_thread_priority(self._worker_tid)
        try:
            while not self._stop:
                busy = self._process_pending()
                self._drain_played()
                if not busy:
                    time.sleep(poll)
        except Exception as exc:  # keep the stream alive (it plays dry), report at stop
            self._worker_exception = exc
            self.stats.worker_error = f"{type(exc).__name__}: {exc}"

    # -- lifecycle (main thread) ----------------------------------------------------------------

    def _warm_up(self) -> None:
        """Run the separator over silence once, then reset it.

        The first process() calls compile numba kernels and let ONNX Runtime
        allocate its arenas, which takes far longer than a block; done here,
        before the stream opens, it cannot make the first blocks late.
        """
        frames = self.algorithmic + 2 * self.stride_period + self.blocksize
        block = self._zeros[: self.blocksize]
        for _ in range(-(-frames // self.blocksize)):
            self.stream.process(block)
        self.stream.reset()

    def start(self) -> None:
        sd = _sounddevice()
        self._warm_up()
        what = (
            f"open {self.devices.input_name!r} -> {self.devices.output_name!r} at {self.samplerate} Hz, "
            f"{self.channels} channels, block {self.blocksize}"
        )
        # PortAudio's JACK host API aborts the process (an assertion in pa_jack's CleanUpStream) when the
        # server goes away while a stream is being opened; a server already stopping is caught here instead,
        # which leaves only the milliseconds between this check and the open.
        if self.devices.hostapi == JACK_HOSTAPI_NAME and not jack_server_running():
            raise DeviceError(f"cannot {what}: the JACK server stopped (start it again and retry)")
        try:
            with _quiet_stderr():  # PortAudio prints its failed internal expressions on fd 2
                self._sd_stream = _open_stream(
                    sd, self.devices, blocksize=self.blocksize, latency=self._stream_latency,
                    callback=self._callback if self.source is None else self._file_callback,
                )
        except sd.PortAudioError as exc:
            raise stream_error(self.devices, what, exc) from None
        if self.source is None:
            lin, lout = self._sd_stream.latency
        else:
            lin, lout = 0.0, self._sd_stream.latency
            self.source.start()  # the feeder decodes ahead before the first callback
        self._device_latency = (round(lin * self.samplerate), round(lout * self.samplerate))
        # The callback thread needs the GIL every block; a Python thread holding it (meter rendering,
        # worker bookkeeping) hands it over only every switch interval (5 ms by default, about one
        # 256-frame block), so shorten it while live.
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, 0.0005))
        # A full collection of the ~125,000 objects the engine, numba and ONNX Runtime leave behind takes
        # 25-55 ms here, holding the GIL: the callback and the worker would both stall behind it (it showed
        # as p99.9 block times of 25-31 ms beside a p99 of 5.5 ms). Frozen, they are never scanned again;
        # what the live loop allocates stays young and cheap to collect.
        freeze_heap()
        self._stop = False
        self._worker = threading.Thread(target=self._work, name="vocalex-live-worker", daemon=True)
        self._worker.start()
        self._started_at = time.perf_counter()
        try:
            self._sd_stream.start()
        except sd.PortAudioError as exc:
            raise stream_error(self.devices, what.replace("open", "start", 1), exc) from None
        # The audio thread is PortAudio's; its id is known once it has called back.
        deadline = time.perf_counter() + 1.0
        while self._callback_tid is None and time.perf_counter() < deadline:
            time.sleep(0.001)
        if self._callback_tid is not None:
            raise_thread_priority(self._callback_tid)
            if self._worker_tid is not None:
                self.worker_realtime_priority = follow_realtime_callback(self._worker_tid, self._callback_tid)
        if self.worker_realtime_priority is not None:
            # The GIL makes every Python thread part of the realtime path: an ordinary thread preempted by another
            # process while it holds the GIL stalls the realtime callback and worker behind it (measured: callback
            # intervals of 47 ms and 271 late blocks in 5 minutes with two other jobs on the cores). So the thread
            # that started the engine (the meter's, the harness's) runs realtime too, at the lowest priority.
            self._caller_scheduling = _enter_lowest_realtime()
        self.scheduling_at_start = self.scheduling()

    def scheduling(self) -> str:
        """How the audio callback and the worker thread are scheduled, e.g. ``callback FIFO 9, worker FIFO 8``."""
        def of(tid):
            if tid is None:
                return "not started"
            try:
                policy = os.sched_getscheduler(tid)
                if policy in (os.SCHED_FIFO, os.SCHED_RR):
                    return f"{'FIFO' if policy == os.SCHED_FIFO else 'RR'} {os.sched_getparam(tid).sched_priority}"
                return f"nice {os.getpriority(os.PRIO_PROCESS, tid)}"
            except (OSError, AttributeError):
                return "unknown"
        return f"callback {of(self._callback_tid)}, worker {of(self._worker_tid)}"

    def stop(self) -> dict | None:
        """Stop the stream, join the worker, finish the recording; returns the recorded paths.

        After a device loss the PortAudio stream is left as it is (module
        docstring: stopping it would wait for minutes); the worker and the
        recording are finished all the same.
        """
        stop_failure = None
        if self._sd_stream is not None:
            if self.device_lost is None:  # also a loss in the last moments of a --duration run
                self.device_lost = self._device_failure()
            if self.device_lost is None:
                stop_failure = self._stop_stream_bounded()
            if self.device_lost is not None:
                abandon_portaudio()
        self._finish_worker()
        paths = None
        if self.recorder is not None:
            # Input the worker had not processed yet is still recorded, so input.wav and output.wav
            # both cover every frame the device delivered.
            recorder = self.recorder
            try:
                self._record_input_until(self._in_ring.write_count)
                self._drain_played()
            except OutputError:
                pass  # recorder.failed says why; close() removes the files and raises it
            self.recorder = None
            # A device that vanished before delivering anything leaves nothing worth keeping.
            paths = recorder.close(keep=self.device_lost is None or recorder.frames > 0)
        if stop_failure is not None:
            raise stop_failure
        return paths

    def _stop_stream_bounded(self) -> DeviceError | None:
        """Stop and close the PortAudio stream, waiting at most ``stall_timeout``; the error to report, if any.

        A server that froze in the last moments (no stall seen yet) would keep
        PortAudio's stop waiting for minutes, so the stop runs in a helper
        thread; if it does not return in time the device counts as lost and
        the stream is abandoned with that thread still waiting in it.
        """
        sd = _sounddevice()
        failure = []
        done = threading.Event()

        def stop_and_close():
            try:
                try:
                    self._sd_stream.stop()
                finally:
                    self._sd_stream.close()
            except sd.PortAudioError as exc:
                failure.append(exc)
            finally:
                done.set()

        threading.Thread(target=stop_and_close, name="vocalex-live-stream-stop", daemon=True).start()
        if not done.wait(self.stall_timeout):
            self.device_lost = (
                f"audio device did not stop within {self.stall_timeout:.1f} s "
                f"(input {self.devices.input_name!r} stalled or disappeared?)"
            )
            return None
        if failure:  # the worker is still joined and the recording finished before this is raised
            return DeviceError(f"the audio stream did not stop cleanly: {failure[0]}")
        return None

    def _finish_worker(self) -> None:
        """Tell the worker (and a file source's feeder) to stop, join them, restore the thread switch interval."""
        if self.source is not None:
            self.source.stop()
        self._stop = True
        if self._worker is not None:
            self._worker.join()
            self._worker = None
        if self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)
            self._switch_interval = None
            gc.unfreeze()
        if self._caller_scheduling is not None:
            _leave_realtime(*self._caller_scheduling)
            self._caller_scheduling = None

    def _abandon(self) -> None:
        """Undo a failed start: no stream, no worker, no half-written recording."""
        if self._sd_stream is not None and not portaudio_lost_its_jack_server():  # opened, then failed to start
            try:
                self._sd_stream.close()
            except Exception:  # the stream is given up either way; the start failure is what gets reported
                pass
        self._finish_worker()
        if self.recorder is not None:
            self.recorder.close(keep=False)
            self.recorder = None

    def run(self, duration: float | None = None, on_tick=None, tick: float = 0.25) -> dict | None:
        """Start, run for ``duration`` seconds (None: until Ctrl-C), stop; on_tick(snapshot) every tick."""
        try:
            self.start()
        except BaseException:
            self._abandon()
            raise
        interrupted = False
        try:
            end = None if duration is None else time.perf_counter() + duration
            while end is None or time.perf_counter() < end:
                time.sleep(tick if end is None else max(0.0, min(tick, end - time.perf_counter())))
                if on_tick is not None:
                    on_tick(self.snapshot())
                if self.stats.worker_error:
                    break
                if self.source is not None and (self.source.error is not None
                                                or self.source.played_out(self._out_ring.read_count, self._dry_offset)):
                    break  # a file input ends the run once its last frame has been played (or it failed)
                self.device_lost = self._device_failure()
                if self.device_lost:
                    break
        except KeyboardInterrupt:
            interrupted = True
        finally:
            paths = self.stop()
        if self.device_lost:
            raise DeviceLostError(self.device_lost, self, paths)
        if self.source is not None and self.source.error is not None:
            raise self.source.error
        if isinstance(self._worker_exception, VocalexError):  # e.g. the recording could not be written (disk full)
            raise self._worker_exception
        if self.stats.worker_error:
            raise DeviceError(f"the live worker failed: {self.stats.worker_error}")
        if interrupted:
            raise KeyboardInterrupt
        return paths

    def _device_failure(self) -> str | None:
        """The watchdog (main thread): why the device stopped delivering audio, or None while it delivers."""
        sd = _sounddevice()
        now = time.perf_counter()
        n = self.stats.callbacks
        last = self._callback_times[(n - 1) % len(self._callback_times)] if n else self._started_at
        ran = f"after {now - self._started_at:.1f} s"
        where = f"input {self.devices.input_name!r}"
        try:
            active = self._sd_stream.active
        except sd.PortAudioError:
            active = False
        if not active:  # PortAudio's JACK host marks the stream inactive when the server shuts down
            return f"audio device stopped delivering audio {ran} ({where} disappeared? JACK server stopped or device unplugged)"
        if now - last > self.stall_timeout:
            return f"audio device stopped delivering audio {ran}: no block for {now - last:.1f} s ({where} stalled or disappeared?)"
        return None

    # -- reporting ------------------------------------------------------------------------------

    @property
    def device_latency(self) -> tuple[int, int]:
        """(input, output) latency PortAudio reports for the open stream, in frames."""
        return self._device_latency

    def latency_report(self) -> dict:
        """The delay from input to output, by part, in frames and ms."""
        device = sum(self._device_latency)
        total = self.algorithmic + self.headroom + device
        sr = self.samplerate
        return {
            "samplerate": sr,
            "blocksize": self.blocksize,
            "algorithmic_samples": self.algorithmic,
            "headroom_samples": self.headroom,
            "device_samples": device,
            "device_input_samples": self._device_latency[0],
            "device_output_samples": self._device_latency[1],
            "total_samples": total,
            "algorithmic_ms": 1000 * self.algorithmic / sr,
            "headroom_ms": 1000 * self.headroom / sr,
            "device_ms": 1000 * device / sr,
            "total_ms": 1000 * total / sr,
        }

    def callback_intervals(self) -> np.ndarray:
        """Seconds between consecutive callbacks, float64 (n - 1,), over the last 8192 callbacks."""
        n = self.stats.callbacks
        times = self._callback_times
        if n <= len(times):
            t = times[:n]
        else:
            start = n % len(times)
            t = np.concatenate([times[start:], times[:start]])
        return np.diff(t)

    def compute_times(self) -> tuple[np.ndarray, np.ndarray]:
        """(seconds, frames) of the recent process() calls, float64 and int64 (n,)."""
        n = min(self.stats.process_calls, len(self._compute_times))
        return self._compute_times[:n].copy(), self._compute_frames[:n].copy()

    def snapshot(self) -> dict:
        """What the meter shows, read without locks (values may be one block apart)."""
        s = self.stats
        sr = self.samplerate
        seconds, frames = self.compute_times()
        recent = slice(-64, None)
        audio = frames[recent].sum() / sr
        load = float(seconds[recent].sum() / audio) if audio > 0 else 0.0
        period = self.stride_period / sr
        return {
            "elapsed": 0.0 if self._started_at is None else time.perf_counter() - self._started_at,
            "input_dbfs": _dbfs(s.input_peak),
            "output_dbfs": _dbfs(s.output_peak),
            "latency_ms": self.latency_report()["total_ms"],
            "load": load,
            "compute_ms_per_stride": 1000 * load * period,
            "budget_ms_per_stride": 1000 * period,
            "late_blocks": s.late_blocks,
            "xruns": s.xruns,
            "resyncs": s.resyncs,
            "callbacks": s.callbacks,
        }


def _dbfs(peak: float) -> float:
    return 20 * math.log10(peak) if peak > 1e-10 else -math.inf
