"""``vocalex separate INPUT... -o OUTDIR``: write OUTDIR/<input name>/{vocals,accompaniment}.<ext>.

A folder input keeps its layout: OUTDIR/<folder name>/<sub-folders>/<file name>/...; inputs
whose names differ only in the suffix keep it (OUTDIR/song.mp3/, OUTDIR/song.flac/); see
batch.expand_inputs.

Each file is read, separated and written block by block (bounded memory).
Outputs keep the input's sample rate, channel count and exact length, aligned
with it. One bad input does not stop the others; a summary names the
failures. Exit status: 0 when every input was separated, otherwise the exit
code of the first failure (see base/errors.py: 3 unreadable input, 4
unsupported audio, 5 NaN/Inf samples, 7 output problem); argument and model
problems stop everything before any file is touched (2, 6).
"""

from __future__ import annotations

import sys

from .options import add_latency_target, add_model_options, add_stream, error_line, resolve_model


def register(sub) -> None:
    # Defaults mirror vocalex.engine.separator (a test checks they have not drifted apart).
    p = sub.add_parser("separate", help="separate audio files into vocals and accompaniment")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files or folders (wav, flac, ogg, opus, mp3, m4a/AAC/ALAC, mp4, webm, ... anything libsndfile "
                        "or FFmpeg reads)")
    p.add_argument("-o", "--out", default="separated", help="output folder (default: ./separated)")
    p.add_argument("--mode", choices=("offline", "stream"), default="offline",
                   help="offline: best quality, centred context (default); stream: the live path's processing with the "
                        "stream settings given (--latency-ms: what vocalex live --latency-ms plays; exactly so with "
                        "--edges zero)")
    # None = not given: offline mode refuses them instead of ignoring them without a word.
    add_stream(p, when="stream mode only: ")
    p.add_argument("--low-delay", action="store_true",
                   help="stream mode: asymmetric STFT windows, one hop of STFT delay instead of n_fft - hop (as vocalex live --low-delay)")
    p.add_argument("--window", type=int, default=None, metavar="FRAMES",
                   help="stream mode: frames the model sees per call (as vocalex live --window; default the model's own)")
    add_latency_target(p, "stream mode, exactly what `vocalex live --latency-ms` plays (the same model and configuration, "
                          "chosen for a 44.1 kHz JACK server with 256-sample blocks): ")
    p.add_argument("--wiener", action="store_true",
                   help="offline mode: refine the vocals by multichannel Wiener filtering (norbert); slower, see README")
    from vocalex.engine.config import DEFAULT_EDGES, EDGES

    p.add_argument("--edges", choices=EDGES, default=DEFAULT_EDGES,
                   help="what the model sees around the file: mirror (a model window of the file reflected at each "
                        f"end: its first and last frames get real context), zero (silence, as live) (default {DEFAULT_EDGES})")
    add_model_options(p, threads_default="all cores")
    p.add_argument("--format", choices=("wav", "flac"), default="wav", dest="fmt",
                   help="wav (32-bit float, default) or flac (24-bit)")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.add_argument("--skip-existing", action="store_true",
                   help="skip inputs whose two outputs both exist already (resume a batch that was stopped)")
    p.add_argument("-j", "--jobs", type=int, default=1, help="files separated in parallel worker processes (default 1)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output, only errors")
    p.set_defaults(handler=run)


def _choose_like_live(args):
    """The table candidate `vocalex live --latency-ms` would play on a 44.1 kHz JACK server at -p 256, planned here."""
    # here, not at the top: only --latency-ms needs the live table (a one-file run loads no live module)
    from vocalex.base.errors import UsageError
    from vocalex.engine.registry import is_name
    from vocalex.live.choice import TablePlanner, choose_stream, table_for
    from vocalex.live.defaults import DEFAULT_MARGIN_MS
    from vocalex.live.setup import LIVE_DEFAULT_THREADS

    if args.mode != "stream":
        raise UsageError("--latency-ms chooses what the live path plays: add --mode stream")
    if args.stride is not None or args.lookahead is not None or args.window is not None or args.low_delay:
        raise UsageError("give either --latency-ms or --stride/--lookahead/--window/--low-delay, not both")
    if args.model is not None and not is_name(args.model):
        raise UsageError("--latency-ms chooses among the named models of the measured table; a model file takes "
                         "--stride/--lookahead instead")
    table = table_for(args.model)
    if not table:
        raise UsageError(f"the measured table has no configuration of model {args.model!r}")
    # live's device: 2 channels at 44.1 kHz in 256-sample blocks, one block of device buffering, live's thread count
    planner = TablePlanner(44100, 2, 256, 256, DEFAULT_MARGIN_MS, args.provider, LIVE_DEFAULT_THREADS)
    lowest = args.latency_ms == "lowest"
    chosen = choose_stream(planner, table, None if lowest else args.latency_ms, lowest)
    if not args.quiet:
        for line in chosen.describe():
            print(f"vocalex: {line.strip()}", file=sys.stderr)
    return chosen.candidate


def run(args) -> int:
    from vocalex.engine.separator import Separator
    from vocalex.files.batch import expand_inputs

    _check_options(args)
    jobs = expand_inputs(args.inputs, on_skip=_say_skipped, on_repeat=_say_repeated)
    if args.skip_existing:
        jobs = _without_finished(jobs, args.out, args.fmt, quiet=args.quiet)
        if not jobs:
            return 0
    model, chosen = args.model, None
    if args.latency_ms is not None:
        chosen = _choose_like_live(args)
        model = chosen.model
    # The session is built in a thread while the first file is opened, decoded and transformed (one-file calls
    # are mostly start-up); a model that turns out corrupted stops everything at its first use, below.
    separator = Separator.load(resolve_model(model), provider=args.provider, threads=args.threads, spinning=False,
                               background=True)
    config = _config(args, separator, chosen)
    if args.jobs > 1 and len(jobs) > 1:
        return _separate_in_workers(args, jobs, separator, config)
    return _separate_here(args, jobs, separator, config)


def _check_options(args) -> None:
    """The option combinations refused before any file is looked at."""
    from vocalex.base.errors import UsageError

    if args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {args.jobs}")
    if args.skip_existing and args.force:
        raise UsageError("--skip-existing keeps existing outputs and --force replaces them: give one of the two")
    if args.mode == "offline" and (args.stride is not None or args.lookahead is not None):
        raise UsageError("--stride and --lookahead choose the stream mode's latency; offline mode (the default) has "
                         "its own centred windows: add --mode stream or drop them")
    if args.mode == "offline" and (args.low_delay or args.window is not None):
        raise UsageError(f"{'--low-delay' if args.low_delay else '--window'} is a stream-mode option (add --mode stream)")
    if args.mode == "stream" and args.wiener:
        raise UsageError("--wiener is an offline-mode option; drop it or use --mode offline")


def _config(args, separator, chosen):
    """The StreamConfig (stream mode: given, or the table's choice) or OfflineConfig every file is separated with."""
    from vocalex.engine.config import OfflineConfig, resolve_stream

    if chosen is not None:
        from dataclasses import replace

        # no device block: it only shortens a live stream's latency, not its output
        return replace(chosen.config(), edges=args.edges)
    if args.mode == "stream":
        return resolve_stream(separator.profile, args.stride, args.lookahead, "low-delay" if args.low_delay else "hann",
                              args.window, edges=args.edges)
    if args.wiener:
        from vocalex.engine.wiener import require

        require()  # before any file is opened
    return OfflineConfig(wiener=args.wiener, edges=args.edges)


def _separate_in_workers(args, jobs, separator, config) -> int:
    """--jobs N: the files spread over N worker processes, each with its own copy of the model."""
    from vocalex.files.batch import run_parallel

    separator.model.ready()  # a corrupted model stops here, before any file
    failures = []
    progress = _Progress(quiet=args.quiet)

    def on_result(kind, path, *payload):
        if kind == "ok":
            progress.done(payload[0])
        else:
            code, message = payload
            progress.fail(path, message)
            failures.append((path, code))

    run_parallel(jobs, args.out, dict(config=config, fmt=args.fmt, force=args.force), jobs=min(args.jobs, len(jobs)),
                 model=args.model, provider=args.provider, threads=args.threads, on_result=on_result)
    return _summary(failures, [path for path, _ in jobs])


def _separate_here(args, jobs, separator, config) -> int:
    """The files one after another in this process; a broken model ends the run with its own exit code."""
    from vocalex.base.errors import ModelError, VocalexError
    from vocalex.files.separate import separate_file

    failures = []
    with _Progress(quiet=args.quiet) as progress:
        for path, name in jobs:
            task = progress.start(path)
            try:
                result = separate_file(separator, path, args.out, name=name, config=config, fmt=args.fmt, force=args.force,
                                       on_progress=task)
            except ModelError as exc:  # the model itself (found at its first use): no other file can succeed
                progress.fail(path, exc)
                return exc.exit_code
            except VocalexError as exc:
                progress.fail(path, exc)
                failures.append((path, exc.exit_code))
                continue
            progress.done(result)
        if failures:
            # Inputs that failed before their first model call never waited for the model: a broken model
            # is still the problem to name (exit 6), as when it was loaded before any file.
            try:
                separator.model.ready()
            except ModelError as exc:
                progress.fail(None, exc)
                return exc.exit_code
    return _summary(failures, [path for path, _ in jobs])


def _say_skipped(folder, names) -> None:
    """A folder's files that are not audio are named, never skipped without a word."""
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    print(f"vocalex: {folder}: skipping {len(names)} file{'s' if len(names) > 1 else ''} that {'are' if len(names) > 1 else 'is'} "
          f"not audio by name: {shown}", file=sys.stderr)


def _say_repeated(path) -> None:
    print(f"vocalex: {path} is given more than once (itself, or inside a folder also given): separated once",
          file=sys.stderr)


def _without_finished(jobs, out, fmt, quiet: bool):
    """--skip-existing: the jobs whose outputs are not both there yet (outputs appear only complete: engine/files.py)."""
    from pathlib import Path

    from vocalex.files.separate import output_paths

    todo = [(path, name) for path, name in jobs
            if not all(p.is_file() for p in output_paths(path, Path(out), fmt, name).values())]
    if not quiet and len(todo) < len(jobs):
        print(f"vocalex: skipping {len(jobs) - len(todo)} of {len(jobs)} inputs whose outputs exist (--skip-existing)",
              file=sys.stderr)
    return todo


def _summary(failures, inputs) -> int:
    """Name the failed inputs when there were several; the exit code is the first failure's (0 when all succeeded).

    A single input's failure is already its one error line: no summary repeats it.
    """
    if failures and len(inputs) > 1:
        print(f"vocalex: {len(failures)} of {len(inputs)} inputs failed: " + ", ".join(str(p) for p, _ in failures),
              file=sys.stderr)
    return failures[0][1] if failures else 0


class _Progress:
    """A rich progress bar on a terminal; one plain line per file otherwise; nothing but errors with --quiet."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.rich = not quiet and sys.stderr.isatty()
        self._bar = None

    def __enter__(self):
        if self.rich:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
                                 TimeRemainingColumn(), console=Console(stderr=True), transient=False)
            self._bar.__enter__()
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def start(self, path):
        if self._bar is None:
            return None
        task = self._bar.add_task(str(path.name), total=None)

        def update(done, total):
            self._bar.update(task, completed=done, total=max(total, done))

        return update

    def done(self, result) -> None:  # an files.separate.FileResult
        for warning in result.warnings:  # even with --quiet: the outputs are shorter than the input promised
            self._print(f"vocalex: warning: {warning}", always=True)
        if self.quiet:
            return
        speed = result.seconds / result.elapsed if result.elapsed > 0 else float("inf")
        line = (f"{result.input} -> {result.outputs['vocals'].parent}  "
                f"({result.seconds:.1f} s of audio in {result.elapsed:.1f} s, {speed:.1f}x real time)")
        self._print(line)

    def fail(self, path, exc) -> None:
        self._print(error_line(exc), always=True)

    def _print(self, line: str, always: bool = False) -> None:
        if self._bar is not None:
            self._bar.console.print(line, markup=False, highlight=False)
        elif always or not self.quiet:
            print(line, file=sys.stderr)


def main(argv=None) -> int:  # for `python -m vocalex.cli.separate` during development
    from .main import main as cli_main

    return cli_main(["separate", *(argv if argv is not None else sys.argv[1:])])


if __name__ == "__main__":
    sys.exit(main())
