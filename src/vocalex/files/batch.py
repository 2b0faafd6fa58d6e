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

from vocalex.base.errors import AudioInputError, UsageError, VocalexError
from vocalex.base.suffixes import AUDIO_SUFFIXES, list_audio_files

def expand_inputs(paths, on_skip=None, on_repeat=None) -> list[tuple[Path, Path]]:
    """Inputs -> [(file, output folder relative to -o)], in order; a folder becomes its audio files, sorted.

    A file given by itself writes to ``<name>``; a file found in a folder
    keeps its place under the folder's name (``album/cd1/01.wav`` ->
    ``album/cd1/01``), so files of the same name in different sub-folders do
    not meet. When two inputs would still share a folder because only their
    suffixes differ (``song.mp3``, ``song.flac``), each keeps its suffix
    (``song.mp3/``, ``song.flac/``); inputs that would write the same folder
    even so are refused (UsageError) before any work. Files a folder holds but
    that are not audio are skipped: ``on_skip(folder, names)`` is told which.
    A folder without any audio file is an error of its own (AudioInputError),
    since silently separating nothing would look like success. A file reached
    twice (``album/`` and ``album/01.wav`` together) is separated once, where it
    was first reached; ``on_repeat(file)`` is told.
    """
    jobs: list[tuple[Path, Path]] = []
    for p in map(Path, paths):
        if p.is_dir():
            found, skipped = list_audio_files(p)
            if not found:
                raise AudioInputError(f"{p}: folder contains no audio files ({', '.join(sorted(AUDIO_SUFFIXES))})")
            if skipped and on_skip is not None:
                on_skip(p, [str(f.relative_to(p)) for f in skipped])
            base = Path(p.resolve().name or "root")
            jobs.extend((f, base / f.relative_to(p).with_suffix("")) for f in found)
        else:
            jobs.append((p, Path(p.stem)))
    return _disambiguate(_once_each(jobs, on_repeat))


def _once_each(jobs, on_repeat):
    seen, kept = set(), []
    for f, rel in jobs:
        key = f.resolve()
        if key in seen:
            if on_repeat is not None:
                on_repeat(f)
            continue
        seen.add(key)
        kept.append((f, rel))
    return kept


def _disambiguate(jobs):
    by_folder: dict[Path, list[int]] = {}
    for i, (_, rel) in enumerate(jobs):
        by_folder.setdefault(rel, []).append(i)
    out = list(jobs)
    for rel, idx in by_folder.items():
        if len(idx) > 1 and len({jobs[i][0].suffix.lower() for i in idx}) == len(idx):
            for i in idx:  # only the suffixes differ: keep them in the folder name
                out[i] = (jobs[i][0], rel.with_name(rel.name + jobs[i][0].suffix.lower()))
    seen: dict[Path, Path] = {}
    for f, rel in out:
        if rel in seen:
            raise UsageError(f"{seen[rel]} and {f} would both write to {rel}/ under the output folder; "
                             "give their folders instead of the files, separate them in two runs, or rename one")
        seen[rel] = f
    return out


def threads_per_job(jobs: int, threads: int | None) -> int | None:
    if threads is not None:
        return threads
    if jobs == 1:
        return None  # ONNX Runtime's default: all cores
    return max(1, (os.cpu_count() or 1) // jobs)


# ------------------------------------------------------------------ worker side
_worker = {}


def _init_worker(model, provider, threads) -> None:
    from vocalex.base.termination import install_termination_handler
    from vocalex.engine.separator import Separator

    install_termination_handler()
    try:
        _worker["separator"] = Separator.load(model, provider=provider, threads=threads, spinning=False)
    except VocalexError as exc:  # reported by the first task instead of a broken pool
        _worker["error"] = (exc.exit_code, str(exc))


def _separate_one(path, out_root, name, options):
    from .separate import separate_file

    if "error" in _worker:
        return ("error", path, *_worker["error"])
    try:
        result = separate_file(_worker["separator"], path, out_root, name=name, **options)
    except VocalexError as exc:
        return ("error", path, exc.exit_code, str(exc))
    return ("ok", path, result)


def run_parallel(files, out_root, options, *, jobs, model, provider, threads, on_result) -> None:
    """Separate ``files``, (path, output folder under out_root) pairs, in ``jobs`` worker processes; ``on_result(kind, path, payload...)`` per file, in completion order.

    On Ctrl-C / SIGTERM the pending files are cancelled and the workers,
    which receive the signal too or are terminated, discard their temporary files.
    """
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait  # here: multiprocessing costs a one-file run ~30 ms

    pool = ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker,
                               initargs=(model, provider, threads_per_job(jobs, threads)))
    try:
        pending = {pool.submit(_separate_one, f, out_root, name, options) for f, name in files}
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
