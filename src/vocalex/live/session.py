"""A live run as one call: :func:`run_live` takes a :class:`LiveOptions` and owns everything between the
options and the sound: the private JACK server (if asked), the devices or a file as the input, the recording,
the stream planned for this machine (live/setup.py), the real-time engine (live/realtime.py) and the meter, and
the clean-up of each whatever happens. :func:`measure_live_latency` is the loopback measurement of the same
options. ``vocalex live`` parses its options into a LiveOptions and calls one of them.

Errors name the options' fields in backticks (`blocksize`); the command line shows its own flags there.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

from vocalex.base.errors import UsageError
from vocalex.base.termination import allow_interrupt

from .devices import DeviceLostError, resolve_devices
from .file_source import FileSource, resolve_output_device
from .gains import stem_gains
from .jack_dummy import dummy_jack_server
from .loopback import measure_latency
from .meter import LiveMeter
from .defaults import DEFAULT_BLOCKSIZE, DEFAULT_MARGIN_MS
from .plan import check_margin_ms
from .realtime import LATE_FILLS, LiveEngine
from .recorder import LiveRecorder
from .setup import build_live_stream


@dataclass(frozen=True)
class LiveOptions:
    """Everything a live run is asked for; None means "the default" (the device's, the planner's, the model's)."""

    model: str | None = None
    provider: str = "cpu"
    threads: int | None = None
    stride: int | None = None             # frames between model calls; None: the smallest the machine allows
    lookahead: int | str | None = None    # frames, or milliseconds as "20ms"
    latency_ms: float | None = None       # a target: the measured table (live/choice.py) chooses model and settings
    lowest: bool = False                  # instead of a target: the lowest latency the table plans here
    window: int | None = None             # frames per model call; None: the model's own
    synthesis: str = "low-delay"
    blocksize: int = DEFAULT_BLOCKSIZE
    margin_ms: float = DEFAULT_MARGIN_MS
    samplerate: int | None = None
    input: str | None = None              # device index or (part of a) name
    output: str | None = None
    input_file: str | None = None         # a file played as the input, in real time
    keep: str = "accompaniment"
    vocals_gain: float | None = None      # dB, -inf mutes
    accompaniment_gain: float | None = None
    on_late: str = "dry"
    record: str | None = None             # folder for input.wav and output.wav
    force: bool = False
    duration: float | None = None         # seconds; None: until interrupted (or the file's end)
    start_server: bool = False            # a private JACK dummy server for this run

    def check(self) -> None:
        """UsageError for a value or a combination that cannot work, before any device or model is touched."""
        if self.blocksize < 16 or self.blocksize > 8192:
            raise UsageError(f"`blocksize` must be in 16..8192 frames, got {self.blocksize}")
        if self.duration is not None and not self.duration > 0:
            raise UsageError(f"`duration` must be a positive number of seconds, got {self.duration:g}")
        if (self.latency_ms is not None or self.lowest) and (self.stride is not None or self.lookahead is not None
                                                             or self.window is not None):
            raise UsageError("give either `latency_ms` or `stride`/`lookahead`/`window`, not both")
        if self.latency_ms is not None and not (math.isfinite(self.latency_ms) and self.latency_ms > 0):
            raise UsageError(f"`latency_ms` must be a positive number, got {self.latency_ms:g}")
        if self.input_file is not None and self.input is not None:
            raise UsageError("give either `input` (a device) or `input_file`, not both")
        if self.threads is not None and self.threads < 1:
            raise UsageError(f"`threads` must be at least 1, got {self.threads}")
        if self.samplerate is not None and not 1000 <= self.samplerate <= 768000:
            raise UsageError(f"`samplerate` must be in 1000..768000 Hz, got {self.samplerate}")
        if self.on_late not in LATE_FILLS:
            raise UsageError(f"`on_late` must be one of {', '.join(LATE_FILLS)}, got {self.on_late!r}")
        check_margin_ms(self.margin_ms)

    def server(self):
        """The private JACK dummy server for the run, or nothing to do."""
        return dummy_jack_server() if self.start_server else contextlib.nullcontext()


@dataclass
class LiveRun:
    """What a finished run leaves: the stopped engine (its stats) and the recording's paths (None: none)."""

    engine: LiveEngine
    recorded: dict | None


def run_live(options: LiveOptions, say=print, meter: bool = True) -> LiveRun:
    """Run live until ``options.duration``, the input file's end or Ctrl-C / SIGTERM; ``say`` gets the status lines.

    A device that stops delivering audio raises DeviceLostError after its stop was reported and the recording
    kept: the process should then end without PortAudio's teardown (live/realtime.py, "Device faults").
    """
    options.check()
    with options.server():
        engine = _assemble(options, say)
        allow_interrupt()  # a live run is stopped by Ctrl-C even when started with SIGINT ignored
        try:
            with LiveMeter() if meter else contextlib.nullcontext() as m:
                paths = engine.run(options.duration, on_tick=m.update if m is not None else None)
        except DeviceLostError as exc:  # the engine has stopped, joined its worker and kept the recording
            report_stop(exc.engine, exc.recorded, say)
            raise
        report_stop(engine, paths, say)
        return LiveRun(engine, paths)


def _assemble(options: LiveOptions, say) -> LiveEngine:
    """The input (a file or the devices), the recording, the planned stream and the engine; nothing left open on a
    failure."""
    gains = stem_gains(options.keep, options.vocals_gain, options.accompaniment_gain)
    source = None
    if options.input_file is not None:
        devices = resolve_output_device(options.input_file, options.output, samplerate=options.samplerate)
        source = FileSource(options.input_file, devices.samplerate, devices.channels)  # a bad file fails here, first
    elif options.input == "desktop":  # the default output's monitor, captured like a file is read (live/desktop.py)
        from .desktop import DesktopSource, resolve_desktop_devices

        devices = resolve_desktop_devices(options.output, samplerate=options.samplerate)
        source = DesktopSource(devices.samplerate, devices.channels)
    else:
        devices = resolve_devices(options.input, options.output, samplerate=options.samplerate)
    recorder = None
    try:
        if options.record:
            # Checked before the model loads: an existing recording fails fast, nothing half-written.
            recorder = LiveRecorder(options.record, devices.samplerate, devices.channels, force=options.force)
        setup = build_live_stream(
            devices, model=options.model, provider=options.provider, threads=options.threads, stride=options.stride,
            lookahead=options.lookahead, latency_ms=options.latency_ms, blocksize=options.blocksize,
            margin_ms=options.margin_ms, synthesis=options.synthesis, window=options.window, lowest=options.lowest,
        )
        engine = LiveEngine(
            setup.stream, devices, blocksize=options.blocksize, gains=gains, headroom=setup.plan.headroom,
            late_fill=options.on_late, recorder=recorder, stride_period=setup.stride_period, source=source,
        )
    except BaseException:
        if recorder is not None:
            recorder.close(keep=False)
        if source is not None:
            source.stop()
        raise
    say(f"{devices.hostapi}: {devices.input_name!r} -> {devices.output_name!r}, {devices.samplerate} Hz, "
        f"{devices.channels} ch, block {options.blocksize}; model call {1000 * setup.call_seconds:.1f} ms ({options.provider})")
    for line in setup.choice.describe() if setup.choice is not None else ():
        say(line)
    say(setup.calibration.describe())
    say(setup.describe())
    say(f"hearing: vocals {_gain_text(gains[0])}, accompaniment {_gain_text(gains[1])}; late blocks play {options.on_late}")
    return engine


def report_stop(engine: LiveEngine, paths, say=print) -> None:
    """The run's last lines: blocks, late blocks, xruns, resyncs (file underruns), and what was recorded."""
    s = engine.stats
    fed = "" if engine.source is None else f", {engine.source.underruns} {getattr(engine.source, 'kind', 'file')} underruns"
    if getattr(engine.source, "skipped", 0):
        fed += f", {engine.source.skipped} captured frames skipped to stay live"
    say(f"stopped: {s.callbacks} blocks, {s.late_blocks} late, {s.xruns} xruns, {s.resyncs} resyncs{fed}")
    if paths:
        say("recorded " + ", ".join(str(p) for p in paths.values()))


def measure_live_latency(options: LiveOptions) -> dict:
    """The end-to-end latency of these options through the running (or, with ``start_server``, a private) JACK
    server, by loopback (live/loopback.py); a short passthrough at the server's own rate."""
    options.check()
    if options.input_file is not None:
        raise UsageError("`measure_latency` plays its own test signal; drop `input_file`")
    if options.record or options.duration or options.samplerate:
        raise UsageError("`measure_latency` runs its own short passthrough at the server's rate; "
                         "drop `record`/`duration`/`samplerate`")
    with options.server():
        return measure_latency(
            model=options.model, provider=options.provider, threads=options.threads, stride=options.stride,
            lookahead=options.lookahead, latency_ms=options.latency_ms, blocksize=options.blocksize,
            margin_ms=options.margin_ms, synthesis=options.synthesis, window=options.window, lowest=options.lowest,
        )


def _gain_text(linear: float) -> str:
    return "muted" if linear == 0 else f"{20 * math.log10(linear):+.1f} dB"
