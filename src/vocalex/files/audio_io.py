"""Audio files in and out, block by block, checked at the boundary.

Reading: plain WAVs through files/wavfile.py (no libsndfile import: a
one-file run's start-up), anything else libsndfile reads (flac, ogg, mp3, aiff,
...), every integer or float subtype, and what it cannot (m4a/AAC/ALAC, mp4, webm, ...)
through FFmpeg (files/decode.py), delivered as float32 (frames, channels)
blocks, so a one-hour file never has to fit in memory. Problems become one-line errors:
missing / unreadable / empty / not audio -> AudioInputError; channels outside
1..8 or rates outside 8..192 kHz -> UnsupportedAudioError; NaN / Inf samples ->
InvalidSamplesError. A truncated file (a copy or download cut short) is read up
to where its audio ends and ``truncation()`` names it: libsndfile counts a cut
WAV's or AIFF's frames from the file size, so the frame count its header
promised is read from the header itself (``header_frames``).

Writing is atomic: samples go to a hidden temporary file in the destination
folder, which is fsync'ed and renamed onto the final name only when complete;
on any error or Ctrl-C the temporary file is removed. wav is written as 32-bit
float (no clipping, and vocals + accompaniment read back equals the input to
float32 rounding), flac as 24-bit PCM (flac has no float; samples beyond full
scale clip).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np

from vocalex.base.errors import AudioInputError, InvalidSamplesError, OutputError, UnsupportedAudioError
from vocalex.engine.stream import MAX_CHANNELS, MAX_RATE, MIN_RATE
from .wavfile import FloatWavWriter, WavReader, riff_chunks

READ_BLOCK = 65536  # frames per block read from a file
FORMATS = {"wav": ("WAV", "FLOAT"), "flac": ("FLAC", "PCM_24")}
_WAV_LIMIT = 4_000_000_000  # bytes; beyond it a RIFF header overflows: use RF64


class AudioReader:
    """An open input file: ``sample_rate``, ``channels``, ``frames``, ``blocks()``. Use as a context manager."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.exists():
            raise AudioInputError(f"{self.path}: no such file")
        if self.path.is_dir():
            raise AudioInputError(f"{self.path}: is a folder, not an audio file")
        if self.path.stat().st_size == 0:
            raise AudioInputError(f"{self.path}: file is empty")
        if not os.access(self.path, os.R_OK):
            raise AudioInputError(f"{self.path}: permission denied")
        self._file = self._open()
        self.sample_rate = int(self._file.samplerate)
        self.channels = int(self._file.channels)
        self.frames = int(self._file.frames)
        self.format = self._file.format
        # What the file promises: the readers count a cut WAV's or AIFF's frames from the file size, its header more.
        self.promised_frames = 0 if isinstance(self._file, _FfmpegFile) else max(self.frames, header_frames(self.path) or 0)
        self.frames_read = 0
        try:
            if not 1 <= self.channels <= MAX_CHANNELS:
                raise UnsupportedAudioError(f"{self.path}: {self.channels} channels; vocalex handles 1..{MAX_CHANNELS}")
            if not MIN_RATE <= self.sample_rate <= MAX_RATE:
                raise UnsupportedAudioError(
                    f"{self.path}: sample rate {self.sample_rate} Hz; vocalex handles {MIN_RATE}..{MAX_RATE} Hz"
                )
            if self.frames <= 0:
                raise AudioInputError(f"{self.path}: contains no audio frames")
        except AudioInputError:
            self._file.close()
            raise

    def _open(self):
        """A plain WAV through files/wavfile.py (no libsndfile import), else libsndfile, else FFmpeg."""
        try:
            wav = WavReader.open(self.path)
        except OSError as exc:
            raise AudioInputError(f"{self.path}: cannot read ({_first_line(exc)})") from None
        if wav is not None:
            return wav
        import soundfile as sf

        try:
            return sf.SoundFile(str(self.path))
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            return self._ffmpeg_or_raise(exc)

    def _ffmpeg_or_raise(self, sf_error):
        """What libsndfile cannot open (m4a, mp4, webm, ...) goes to FFmpeg (files/decode.py)."""
        from .decode import FfmpegReader

        try:
            return _FfmpegFile(FfmpegReader(self.path))
        except AudioInputError as exc:
            raise AudioInputError(f"{exc} (libsndfile: {_first_line(sf_error)})") from None

    def blocks(self, block_frames: int = READ_BLOCK):
        """Yield float32 (n, channels) blocks, each checked for NaN / Inf."""
        position = 0
        decoded = self._file.reader.blocks(block_frames) if isinstance(self._file, _FfmpegFile) else None
        while True:
            try:
                if decoded is not None:
                    block = next(decoded, np.zeros((0, self.channels), np.float32))
                else:
                    block = self._file.read(block_frames, dtype="float32", always_2d=True)
            except (RuntimeError, OSError) as exc:  # soundfile.LibsndfileError is a RuntimeError
                raise AudioInputError(f"{self.path}: read failed at {position / self.sample_rate:.2f} s ({_first_line(exc)})") from None
            if not len(block):
                return
            if not np.isfinite(block).all():
                bad = position + int(np.argmax(~np.isfinite(block).all(axis=1)))
                raise InvalidSamplesError(f"{self.path}: NaN or Inf sample at {bad / self.sample_rate:.3f} s (frame {bad})")
            position += len(block)
            self.frames_read = position
            yield block

    def truncation(self) -> str | None:
        """After reading every block: one line naming a file that held fewer frames than it promised, else None."""
        if self.frames_read >= self.promised_frames:
            return None
        rate = self.sample_rate
        return (f"{self.path}: truncated: its header promises {self.promised_frames} frames ({self.promised_frames / rate:.2f} s), "
                f"the file holds {self.frames_read} ({self.frames_read / rate:.3f} s); separated what is there")

    def close(self) -> None:
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _FfmpegFile:
    """An FfmpegReader under the names AudioReader uses of a soundfile.SoundFile."""

    def __init__(self, reader):
        self.reader = reader
        self.samplerate, self.channels, self.frames, self.format = reader.sample_rate, reader.channels, reader.frames, reader.format

    def close(self) -> None:
        self.reader.close()


class AtomicAudioWriter:
    """Writes float (n, channels) blocks to ``path`` through a temporary file; ``commit()`` puts it in place.

    Use as a context manager: leaving without commit() (an error, Ctrl-C)
    removes the temporary file and leaves ``path`` untouched.
    """

    def __init__(self, path: str | os.PathLike, sample_rate: int, channels: int, fmt: str = "wav", expected_frames: int = 0):
        if fmt not in FORMATS:
            raise OutputError(f"unknown output format {fmt!r}; choose one of: {', '.join(FORMATS)}")
        container, subtype = FORMATS[fmt]
        if container == "WAV" and expected_frames * channels * 4 > _WAV_LIMIT:
            container = "RF64"
        self.path = Path(path)
        tmp = self.path.parent / f".{self.path.name}.{os.getpid()}.{os.urandom(4).hex()}.part"
        try:
            # O_EXCL: never reuse someone else's file; mode 0o666 lets the umask decide, as for any new file.
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except OSError as exc:
            raise OutputError(f"cannot write in {self.path.parent}: {exc.strerror or exc}") from None
        self._tmp = Path(tmp)
        try:
            if container == "WAV":  # our writer: libsndfile's float WAV header draws warnings (files/wavfile.py)
                self._file = FloatWavWriter(tmp, sample_rate, channels)
            else:
                import soundfile as sf

                self._file = sf.SoundFile(str(tmp), "w", samplerate=sample_rate, channels=channels, subtype=subtype,
                                          format=container)
        except Exception as exc:
            self._tmp.unlink(missing_ok=True)
            raise OutputError(f"cannot create {self.path}: {_first_line(exc)}") from None

    def write(self, block: np.ndarray) -> None:
        """block: float (n, channels)."""
        try:
            self._file.write(block)
        except Exception as exc:
            raise OutputError(f"writing {self.path} failed: {_write_failure(self._tmp, exc, block.nbytes)}") from None

    def commit(self) -> None:
        """Close, fsync and rename onto the final name."""
        try:
            self._file.close()
            fd = os.open(self._tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(self._tmp, self.path)
        except (OSError, RuntimeError) as exc:  # libsndfile's close writes the header: RuntimeError
            self.discard()
            raise OutputError(f"cannot finish {self.path}: {_write_failure(self._tmp, exc, 0)}") from None

    def discard(self) -> None:
        try:
            if not self._file.closed:
                self._file.close()
        except Exception:
            pass  # the file is being thrown away; a close error changes nothing
        self._tmp.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None or self._tmp.exists():
            self.discard()


def check_can_write(paths, force: bool) -> None:
    """Raise OutputError if any output exists (without force) or is not a file; call before any work."""
    for p in paths:
        p = Path(p)
        if p.is_dir():
            raise OutputError(f"{p} exists and is a folder")
        if p.exists() and not force:
            raise OutputError(f"{p} exists; use `force` to overwrite")


def _write_failure(path: Path, exc: BaseException, wanted: int) -> str:
    """Why a write failed, in words: libsndfile reports a full disk only as "System error."."""
    import shutil

    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        free = None
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC or free is not None and free < wanted + 65536:
        return f"disk full ({free / 1e6:.1f} MB free on the file system of {path.parent})" if free is not None \
            else f"disk full ({path.parent})"
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else _first_line(exc)


def header_frames(path) -> int | None:
    """Frames a WAV (RIFF / RIFX / RF64) or AIFF header promises, None for other files or an unknown size.

    WAV: the data chunk's byte count (RF64: the ds64 chunk's) over the fmt
    chunk's block align; AIFF: the COMM chunk's frame count. Writers that stream
    without knowing the length put 0 or 0xFFFFFFFF there: unknown, None.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            kind, form = head[:4], head[8:12]
            if kind == b"FORM" and form in (b"AIFF", b"AIFC"):
                for cid, _ in riff_chunks(f, "big"):
                    if cid == b"COMM":
                        return int.from_bytes(f.read(6)[2:6], "big") or None  # numChannels (2), numSampleFrames (4)
                return None
            if kind not in (b"RIFF", b"RIFX", b"RF64") or form != b"WAVE":
                return None
            endian = "big" if kind == b"RIFX" else "little"
            align = size = long_size = None
            for cid, chunk_size in riff_chunks(f, endian):
                if cid == b"fmt ":
                    align = int.from_bytes(f.read(14)[12:14], endian)
                elif cid == b"ds64":
                    long_size = int.from_bytes(f.read(16)[8:16], "little")  # RF64's 64-bit data size
                elif cid == b"data":
                    size = long_size if chunk_size == 0xFFFFFFFF and long_size else chunk_size
                    break
    except OSError:
        return None
    if not align or size in (None, 0, 0xFFFFFFFF):
        return None
    return size // align


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
