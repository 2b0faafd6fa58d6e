"""Many inputs: folders expanded to the audio files inside, and files separated in
parallel worker processes (``vocalex separate --jobs N``).

Each worker process loads the model once and separates whole files; a file's
failure is reported back as (exit code, message), never as a traceback, so one
bad file does not stop the others. Workers get ``threads`` ONNX Runtime
threads each (by default the cores divided among the workers) so N jobs do not
oversubscribe the machine.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from .errors import AudioInputError, UsageError, VocalexError

# Suffixes of the formats libsndfile decodes (soundfile.available_formats()) as
# people name them; a folder is searched for these, recursively.
AUDIO_SUFFIXES = frozenset(
    ".wav .wave .flac .ogg .oga .opus .mp3 .aif .aiff .aifc .au .snd .caf .w64 .rf64 .wv .sd2 .voc .htk .mat".split()
)


def expand_inputs(paths) -> list[Path]:
    """Files stay as given (checked later, one by one); a folder becomes its audio files, sorted.

    A folder without any audio file is an error of its own (AudioInputError),
    since silently separating nothing would look like success.
    """
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES
                           and not f.name.startswith("."))
            if not found:
                raise AudioInputError(f"{p}: folder contains no audio files ({', '.join(sorted(AUDIO_SUFFIXES))})")
            files.extend(found)
        else:
            files.append(p)
    return files


def check_unique_names(files, out_root) -> None:
    """Two inputs with the same name would write the same OUT/<name>/ folder: refuse before any work."""
    seen: dict[str, Path] = {}
    for p in files:
        if p.stem in seen:
            raise UsageError(f"{seen[p.stem]} and {p} would both write to {Path(out_root) / p.stem}; "
                             "separate them in two runs or rename one")
        seen[p.stem] = p


def threads_per_job(jobs: int, threads: int | None) -> int | None:
    if threads is not None:
        return threads
    if jobs == 1:
        return None  # ONNX Runtime's default: all cores
    return max(1, (os.cpu_count() or 1) // jobs)


# ------------------------------------------------------------------ worker side
_worker = {}


def _init_worker(model, provider, threads) -> None:
    from .cli import install_termination_handler
    from .separator import Separator

    install_termination_handler()
    try:
        _worker["separator"] = Separator.load(model, provider=provider, threads=threads, spinning=False)
    except VocalexError as exc:  # reported by the first task instead of a broken pool
        _worker["error"] = (exc.exit_code, str(exc))


def _separate_one(path, out_root, options):
    from .separate_cli import separate_file

    if "error" in _worker:
        return ("error", path, *_worker["error"])
    try:
        result = separate_file(_worker["separator"], path, out_root, **options)
    except VocalexError as exc:
        return ("error", path, exc.exit_code, str(exc))
    return ("ok", path, result)


def run_parallel(files, out_root, options, *, jobs, model, provider, threads, on_result) -> None:
    """Separate ``files`` in ``jobs`` worker processes; ``on_result(kind, path, payload...)`` per file, in completion order.

    On Ctrl-C / SIGTERM the pending files are cancelled and the workers,
    which receive the signal too or are terminated, discard their temporary files.
    """
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait  # here: multiprocessing costs a one-file run ~30 ms

    pool = ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker,
                               initargs=(model, provider, threads_per_job(jobs, threads)))
    try:
        pending = {pool.submit(_separate_one, f, out_root, options) for f in files}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                on_result(*fut.result())
    except BaseException:
        for proc in list(getattr(pool, "_processes", {}).values()):
            if proc.is_alive():
                proc.send_signal(signal.SIGTERM) if hasattr(proc, "send_signal") else proc.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
