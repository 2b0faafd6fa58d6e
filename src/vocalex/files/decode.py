"""Inputs libsndfile cannot read (m4a with AAC or ALAC, mp4, webm, wma, ...), decoded by FFmpeg.

FFmpeg comes through PyAV (the ``av`` package, whose wheels carry their own
FFmpeg libraries), so no system ffmpeg is needed. Decoding is block by block
like audio_io.AudioReader: the first audio stream is demuxed and decoded one
codec frame at a time, converted to interleaved float32 at the stream's own
rate and channel layout, and gathered into blocks of at most ``block_frames``,
so memory stays bounded whatever the file's length. Every failure is an
AudioInputError (exit 3) naming the file, never an FFmpeg traceback.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vocalex.base.errors import AudioInputError

MAX_PADDING = 4096  # frames past the container's declared length still taken as encoder padding
# Containers whose declared length the muxer writes (so a shorter decode means a cut file), and how many
# frames short still count as complete (WMA declares about 2000 frames more than it decodes).
TRUSTED_LENGTH_FORMATS = frozenset({"mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "asf"})
TRUNCATION_SLACK = 8192


def _av():
    try:
        import av
    except ImportError:
        return None
    return av


class FfmpegReader:
    """An open input decoded by FFmpeg: ``sample_rate``, ``channels``, ``frames`` (an estimate), ``blocks()``.

    ``frames`` comes from the container's duration and serves progress and
    the RF64 choice only; the blocks deliver every decoded sample.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        av = _av()
        if av is None:
            raise AudioInputError(f"{self.path}: this format needs FFmpeg through the package 'av' (pip install av)")
        self._av = av
        try:
            self._container = av.open(str(self.path), metadata_errors="ignore")
        except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
            raise AudioInputError(f"{self.path}: not a readable audio file (FFmpeg: {_first_line(exc)})") from None
        try:
            streams = self._container.streams.audio
            if not streams:
                raise AudioInputError(f"{self.path}: no audio stream in this {self._container.format.name} file")
            self._stream = streams[0]
            ctx = self._stream.codec_context
            self.sample_rate = int(ctx.sample_rate or self._stream.rate or 0)
            self.channels = int(ctx.layout.nb_channels if ctx.layout is not None else 0)
            if self.sample_rate <= 0 or self.channels <= 0:
                raise AudioInputError(f"{self.path}: the audio stream has no sample rate or channel count")
            self.frames = self._estimate_frames()
            self.format = f"{self._container.format.name}/{ctx.name}"
        except BaseException:
            self._container.close()
            raise

    def _estimate_frames(self) -> int:
        s = self._stream
        if s.duration is not None and s.time_base is not None:
            return int(round(float(s.duration * s.time_base) * self.sample_rate))
        if self._container.duration is not None:  # microseconds
            return int(round(self._container.duration / 1e6 * self.sample_rate))
        return 0

    def blocks(self, block_frames: int = 65536):
        """Yield float32 (n, channels) blocks of at most ``block_frames`` frames, n > 0."""
        av = self._av
        # Converts every decoded frame to interleaved float32 at the first frame's rate and layout, so a
        # stream whose format changes midway still yields one consistent signal.
        resampler = av.AudioResampler(format="flt", layout=self._stream.codec_context.layout, rate=self.sample_rate)
        pending: list[np.ndarray] = []
        held = 0
        position = 0
        # Encoders pad the last codec frame (AAC: up to 1024 samples) and the container's duration says
        # where the audio ends; FFmpeg trims the start (priming) but not always this tail. Samples past
        # the declared length are held back and dropped at the end if they are no more than padding;
        # a longer run means the declared length was wrong, and then every sample is kept.
        declared = self.frames if self.frames > 0 else None
        extra: list[np.ndarray] = []
        extra_frames = 0
        try:
            for frame in self._decoded(resampler):
                x = frame.to_ndarray().reshape(-1, self.channels)
                if declared is not None:
                    room = max(declared - position - held, 0)
                    if len(x) > room:
                        extra.append(x[room:])
                        extra_frames += len(x) - room
                        x = x[:room]
                        if extra_frames > MAX_PADDING:  # not padding: the declared length was wrong
                            declared = None
                            x = np.concatenate([x, *extra])
                            extra, extra_frames = [], 0
                while len(x):
                    take = min(len(x), block_frames - held)
                    pending.append(x[:take])
                    held += take
                    x = x[take:]
                    if held == block_frames:
                        yield np.concatenate(pending)
                        position += held
                        pending, held = [], 0
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise AudioInputError(
                f"{self.path}: read failed at {(position + held) / self.sample_rate:.2f} s (FFmpeg: {_first_line(exc)})"
            ) from None
        self._check_complete(position + held)
        if held:
            yield np.concatenate(pending)

    def _check_complete(self, decoded: int) -> None:
        """A file that ends well before the length its container declares is cut: an error, not a short output.

        Only where the declared length is written by the muxer (mp4/m4a, Matroska/WebM, ASF/WMA); elsewhere
        (ADTS .aac, ...) it is FFmpeg's estimate from the bitrate and may be off by several per cent.
        """
        if self._container.format.name not in TRUSTED_LENGTH_FORMATS or self.frames <= 0:
            return
        if decoded < self.frames - max(TRUNCATION_SLACK, self.frames // 100):
            raise AudioInputError(
                f"{self.path}: audio ends at {decoded / self.sample_rate:.2f} s of the {self.frames / self.sample_rate:.2f} s "
                "its container declares (truncated or damaged file)"
            )

    def _decoded(self, resampler):
        for packet in self._container.demux(self._stream):
            for frame in packet.decode():
                yield from resampler.resample(frame)
        yield from resampler.resample(None)  # what the resampler still holds

    def close(self) -> None:
        self._container.close()


def _first_line(exc: BaseException) -> str:
    if getattr(exc, "strerror", None):  # FFmpeg's reason without the errno and the repeated file name
        return str(exc.strerror)[:200]
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
