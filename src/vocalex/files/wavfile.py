"""WAV files: a 32-bit float writer whose header every reader takes cleanly, and a reader of plain WAVs.

libsndfile writes WAVE_FORMAT_IEEE_FLOAT with a 16-byte fmt chunk, which the
WAVE spec reserves for PCM (every other format tag carries cbSize, 18 bytes at
least); sox warns "wave header missing extended part of fmt chunk" on each such
file. vocalex's float WAVs are therefore written here: RIFF, an 18-byte fmt
chunk (format 3, cbSize 0), the fact chunk non-PCM formats need, then the
interleaved little-endian float32 samples; the sizes are filled in at close().
Blocks stream straight to the file, so memory does not grow with its length.
"""

from __future__ import annotations

import os
import struct

import numpy as np

WAVE_FORMAT_IEEE_FLOAT = 3
RIFF_LIMIT = 0xFFFFFFFF - 64  # the RIFF size field is 32 bits: beyond it only RF64 works


class FloatWavWriter:
    """Write float (frames, channels) blocks as a 32-bit float WAV at ``path`` (created or truncated)."""

    def __init__(self, path, samplerate: int, channels: int):
        self.samplerate = int(samplerate)
        self.channels = int(channels)
        self.frames = 0
        self.closed = False
        self._file = open(path, "wb")
        try:
            self._file.write(self._header())
        except BaseException:
            self._file.close()
            raise

    def _header(self) -> bytes:
        c, rate = self.channels, self.samplerate
        data_bytes = self.frames * c * 4
        fmt = struct.pack("<HHIIHHH", WAVE_FORMAT_IEEE_FLOAT, c, rate, rate * c * 4, c * 4, 32, 0)
        chunks = (b"fmt " + struct.pack("<I", len(fmt)) + fmt
                  + b"fact" + struct.pack("<II", 4, self.frames)
                  + b"data" + struct.pack("<I", data_bytes))
        return b"RIFF" + struct.pack("<I", 4 + len(chunks) + data_bytes) + b"WAVE" + chunks

    def write(self, block: np.ndarray) -> None:
        """block: float (frames, channels)."""
        block = np.asarray(block)
        if block.ndim != 2 or block.shape[1] != self.channels:
            raise ValueError(f"block must have shape (frames, {self.channels}), got {block.shape}")
        if (self.frames + len(block)) * self.channels * 4 > RIFF_LIMIT:
            raise OSError(27, "a WAV file cannot hold more than 4 GB (write flac, or RF64 via a known length)")
        self._file.write(np.ascontiguousarray(block, dtype="<f4").tobytes())
        self.frames += len(block)

    def close(self) -> None:
        """Fill in the sizes and close; the file is a complete WAV afterwards."""
        if self.closed:
            return
        self.closed = True
        try:
            self._file.seek(0)
            self._file.write(self._header())
            self._file.flush()
        finally:
            self._file.close()


# --- reading ---------------------------------------------------------------------------------------------------------
# The plain WAVs most files on disk are (PCM 16/24/32-bit, float 32/64-bit, little-endian RIFF, also as
# WAVE_FORMAT_EXTENSIBLE) are read here with numpy: importing soundfile (cffi, libsndfile) costs a one-file
# `vocalex separate` ~20 ms of its ~300. Everything else (RF64, RIFX, 8-bit, u-law, ADPCM, a streamed header
# without sizes, ...) is left to libsndfile. The samples are libsndfile's to the bit: integers scaled by
# 2**-(bits - 1), 24-bit ones widened to 32 bits first, as libsndfile does (tests/files/test_wav_reader.py).

WAVE_FORMAT_PCM = 1
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"  # KSDATAFORMAT_SUBTYPE_* after the format tag
_SAMPLES = {(WAVE_FORMAT_PCM, 16): "<i2", (WAVE_FORMAT_PCM, 24): "i3", (WAVE_FORMAT_PCM, 32): "<i4",
            (WAVE_FORMAT_IEEE_FLOAT, 32): "<f4", (WAVE_FORMAT_IEEE_FLOAT, 64): "<f8"}


def riff_chunks(f, endian: str = "little"):
    """Yield (id, size) of the RIFF / IFF chunks after a 12-byte file header, f positioned at each chunk's body."""
    pos = f.tell()
    for _ in range(10000):  # a bound against garbage sizes
        f.seek(pos)
        header = f.read(8)
        if len(header) < 8:
            return
        size = int.from_bytes(header[4:8], endian)
        yield header[:4], size
        pos += 8 + size + (size & 1)  # chunks are padded to an even length


class WavReader:
    """A plain WAV file open for reading, under the names audio_io uses of a soundfile.SoundFile.

    ``WavReader.open(path)`` returns None for a file it leaves to libsndfile. A
    data chunk that runs past the end of the file (a copy cut short) is read up
    to where the file ends, as libsndfile does.
    """

    format = "WAV"

    def __init__(self, file, samplerate: int, channels: int, dtype: str, data_offset: int, frames: int):
        self._file = file
        self.samplerate, self.channels, self.frames = samplerate, channels, frames
        self._dtype = dtype
        self._width = channels * (3 if dtype == "i3" else np.dtype(dtype).itemsize)  # bytes per frame
        self._left = frames
        self.closed = False
        file.seek(data_offset)

    @classmethod
    def open(cls, path) -> "WavReader | None":
        f = open(path, "rb")
        try:
            reader = cls._parse(f)
        except BaseException:
            f.close()
            raise
        if reader is None:
            f.close()
        return reader

    @classmethod
    def _parse(cls, f) -> "WavReader | None":
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        fmt = None
        for cid, size in riff_chunks(f):
            if cid == b"fmt ":
                fmt = f.read(min(size, 40))
            elif cid == b"data":
                if fmt is None or len(fmt) < 16 or size in (0, 0xFFFFFFFF):
                    return None  # fmt after data, or a streamed header without a size: libsndfile's job
                tag, channels, rate, _, align, bits = struct.unpack("<HHIIHH", fmt[:16])
                if tag == WAVE_FORMAT_EXTENSIBLE:
                    if len(fmt) < 40 or fmt[26:40] != _GUID_TAIL:
                        return None
                    tag = int.from_bytes(fmt[24:26], "little")
                dtype = _SAMPLES.get((tag, bits))
                if dtype is None or channels < 1 or align != channels * bits // 8:
                    return None
                offset = f.tell()
                available = os.fstat(f.fileno()).st_size - offset
                return cls(f, rate, channels, dtype, offset, min(size, max(available, 0)) // align)
        return None

    def read(self, frames: int, dtype: str = "float32", always_2d: bool = True) -> np.ndarray:
        """Up to ``frames`` frames as float32 (n, channels); (0, channels) at the end."""
        n = min(int(frames), self._left)
        raw = self._file.read(n * self._width)
        n = len(raw) // self._width
        self._left -= n
        raw = raw[: n * self._width]
        if self._dtype == "i3":  # 24-bit: widened to the top of 32 bits, as libsndfile does, then scaled alike
            wide = np.zeros((n * self.channels, 4), dtype=np.uint8)
            wide[:, 1:] = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
            x = wide.view("<i4").astype(np.float32) * np.float32(2.0 ** -31)
        elif self._dtype[1] == "i":
            bits = 8 * np.dtype(self._dtype).itemsize
            x = np.frombuffer(raw, dtype=self._dtype).astype(np.float32) * np.float32(2.0 ** (1 - bits))
        else:
            x = np.frombuffer(raw, dtype=self._dtype).astype(np.float32)
        return x.reshape(n, self.channels)

    def close(self) -> None:
        self.closed = True
        self._file.close()
