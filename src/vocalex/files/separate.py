"""One input file -> its two stem files, written whole or not at all.

Used by ``vocalex separate``, in one process or in the worker processes of files/batch.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from vocalex.base.errors import OutputError
from vocalex.engine.config import OfflineConfig
from vocalex.engine.separator import separate_blocks

from .audio_io import AtomicAudioWriter, AudioReader, check_can_write

STEMS = ("vocals", "accompaniment")


@dataclass
class FileResult:
    input: Path
    outputs: dict            # stem -> Path
    seconds: float           # audio duration
    elapsed: float           # wall time
    warnings: tuple = ()     # one line each, e.g. a truncated input (separated up to where its audio ends)


def output_paths(input_path: Path, out_root: Path, fmt: str, name=None) -> dict:
    """stem -> OUT/<name>/<stem>.<fmt>; name defaults to the input's name without its suffix."""
    folder = Path(out_root) / (Path(input_path).stem if name is None else name)
    return {stem: folder / f"{stem}.{fmt}" for stem in STEMS}


def separate_file(separator, input_path, out_root, *, name=None, config=None, fmt="wav", force=False,
                  on_progress=None) -> FileResult:
    """Separate one file into OUT/<name>/{vocals,accompaniment}.<fmt>; raises VocalexError on failure.

    config: a StreamConfig or OfflineConfig (engine/config.py), offline mode by default.

    name: the output folder under out_root (batch.expand_inputs chooses it), by default the input's stem.
    Existing outputs are refused (without force) before any work; outputs
    appear only complete (atomic rename). on_progress(done_frames, total_frames)
    is called after every block.
    """
    config = OfflineConfig() if config is None else config

    input_path = Path(input_path)
    outputs = output_paths(input_path, out_root, fmt, name)
    check_can_write(outputs.values(), force)
    start = time.perf_counter()
    with AudioReader(input_path) as reader:
        folder = outputs["vocals"].parent
        created = [d for d in (folder, *folder.parents) if not d.exists()]  # deepest first
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
                blocks = separate_blocks(separator.model, reader.blocks(), rate, channels, config)
                for vocals, accompaniment in blocks:
                    vw.write(vocals)
                    aw.write(accompaniment)
                    done += len(vocals)
                    if on_progress:
                        on_progress(done, reader.frames)
                # A model loaded in the background that was never called (a silent file) must still be sound
                # before its outputs exist: this waits for its checksum and session (a no-op once it ran).
                separator.model.ready()
                vw.commit()
                aw.commit()
        except BaseException:
            for d in created:  # leave no empty folder behind for a file that failed
                if d.is_dir() and not any(d.iterdir()):
                    d.rmdir()
            raise
        note = reader.truncation()
    return FileResult(input_path, outputs, done / rate, time.perf_counter() - start, (note,) if note else ())
