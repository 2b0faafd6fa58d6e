"""``vocalex live --record DIR``: input.wav and output.wav written by the worker, renamed into place at stop."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from vocalex.base.errors import OutputError


class LiveRecorder:
    """input.wav and output.wav (float32) written by the worker, renamed into place at close.

    ``write(kind, position, block)`` places a block (frames, channels) at its
    absolute frame position; a gap (frames the worker skipped) is written as
    silence, so both files stay sample-aligned with what the device saw.
    """

    KINDS = ("input", "output")

    def __init__(self, folder: str | os.PathLike, samplerate: int, channels: int, force: bool = False):
        from vocalex.files.wavfile import FloatWavWriter

        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise OutputError(f"`record` {self.folder} exists and is not a folder")
        finals = {k: self.folder / f"{k}.wav" for k in self.KINDS}
        if not force:
            existing = [str(p) for p in finals.values() if p.exists()]
            if existing:
                raise OutputError(f"{existing[0]} exists; pass `force` to overwrite")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create `record` folder {self.folder}: {exc.strerror}") from None
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
