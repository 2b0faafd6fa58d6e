"""A 32-bit float WAV writer whose header every reader takes cleanly.

libsndfile writes WAVE_FORMAT_IEEE_FLOAT with a 16-byte fmt chunk, which the
WAVE spec reserves for PCM (every other format tag carries cbSize, 18 bytes at
least); sox warns "wave header missing extended part of fmt chunk" on each such
file. vocalex's float WAVs are therefore written here: RIFF, an 18-byte fmt
chunk (format 3, cbSize 0), the fact chunk non-PCM formats need, then the
interleaved little-endian float32 samples; the sizes are filled in at close().
Blocks stream straight to the file, so memory does not grow with its length.
"""

from __future__ import annotations

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
