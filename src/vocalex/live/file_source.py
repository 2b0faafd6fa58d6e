"""A file played as the live input: ``vocalex live --input-file song.flac``.

The file goes through the same live path as a microphone (LiveEngine: same
rings, worker, latency plan, late-block handling), on an output-only device
stream, so live separation and karaoke can be tried without any input device.

Threads: a **feeder thread** decodes the file block by block
(audio_io.AudioReader, any format vocalex reads), resamples it to the device
rate when the rates differ (soxr, streaming), maps its channels to the
device's and writes into a lock-free ring (ringbuffer.SpscRing), waiting
(sleeping) while the ring is full. The **audio callback** only copies the
ring's next frames into its input block (:meth:`FileSource.read_into`); frames
the feeder has not delivered yet play as silence and are counted, never waited
for. After the file's end the input is silence, and :meth:`played_out` tells
the engine when the last file frame has come out of the output (input end +
headroom + algorithmic latency), which ends the run.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from vocalex.base.errors import VocalexError
from vocalex.live.ringbuffer import SpscRing

RING_SECONDS = 4.0      # decoded audio held ahead of the callback
PREFILL_SECONDS = 1.0   # decoded before the stream starts
FEED_BLOCK = 8192       # file frames per read


# ITU-R BS.775 5.1 -> stereo, channels in WAV / SMPTE order (L, R, C, LFE, Ls, Rs): Lo = L + 0.707 C + 0.707 Ls,
# Ro = R + 0.707 C + 0.707 Rs, the LFE dropped; scaled by 1 / (1 + 2 * 0.707) so a full-scale input cannot clip.
_C = 0.5 ** 0.5
_DOWNMIX_51 = np.array([[1, 0], [0, 1], [_C, _C], [0, 0], [_C, 0], [0, _C]], np.float32) / (1 + 2 * _C)


def channel_map(file_channels: int, device_channels: int) -> tuple[np.ndarray, str | None]:
    """The (file_channels, device_channels) matrix that maps a file's channels to the device's, and a line saying
    what it does where that is more than the usual (None for equal counts, mono to all, stereo to mono)."""
    fc, dc = int(file_channels), int(device_channels)
    if fc == dc:
        return np.eye(fc, dtype=np.float32), None
    if fc == 1:
        return np.ones((1, dc), np.float32), None
    if dc == 1:
        note = None if fc == 2 else f"{fc} channels downmixed to the device's one (their mean)"
        return np.full((fc, 1), 1.0 / fc, np.float32), note
    if fc == 6 and dc == 2:
        return _DOWNMIX_51, "6 channels (5.1, L R C LFE Ls Rs) downmixed to stereo (ITU-R BS.775, LFE dropped)"
    return (np.full((fc, dc), 1.0 / fc, np.float32),
            f"{fc} channels downmixed to their mean on each of the device's {dc} channels")


class FileSource:
    """``path`` decoded to float32 (frames, ``channels``) at ``samplerate`` into a ring the callback reads.

    A mono file feeds every device channel; a stereo file on a mono device is
    averaged; a 5.1 file is downmixed to stereo, any other count to its mean
    (:func:`channel_map`; ``self.note`` says which, and is printed). Opening
    checks the file (AudioInputError and its kin, as ``vocalex separate`` does).
    """

    def __init__(self, path: str | Path, samplerate: int, channels: int):
        from vocalex.files.audio_io import AudioReader

        self.path = Path(path)
        self.samplerate = int(samplerate)
        self.channels = int(channels)
        self._reader = AudioReader(self.path)
        self._map, self.note = channel_map(self._reader.channels, self.channels)
        if self.note is not None:
            import sys

            print(f"vocalex: {self.path.name}: {self.note}", file=sys.stderr)
        self._ring = SpscRing(int(RING_SECONDS * self.samplerate), self.channels)
        self.total: int | None = None     # device-rate frames of the whole file, once the feeder has reached its end
        self.underruns = 0                # callbacks that found the feeder behind (silence played for the gap)
        self.gap_frames = 0               # silence those callbacks inserted: the file's end comes that much later
        self.error: VocalexError | None = None  # a read failure in the feeder (reported by the engine's run)
        self._stop = False
        self._thread: threading.Thread | None = None

    # -- feeder thread ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the feeder and wait until PREFILL_SECONDS (or the whole, shorter file) are decoded."""
        self._thread = threading.Thread(target=self._feed, name="vocalex-file-feeder", daemon=True)
        self._thread.start()
        want = min(int(PREFILL_SECONDS * self.samplerate), self._ring.capacity)
        while self._ring.write_count < want and self.total is None and self.error is None:
            time.sleep(0.005)
        if self.error is not None:
            raise self.error

    def _feed(self) -> None:
        try:
            resampler = None
            if self._reader.sample_rate != self.samplerate:
                import soxr

                resampler = soxr.ResampleStream(self._reader.sample_rate, self.samplerate, self._reader.channels,
                                                dtype="float32", quality="HQ")
            blocks = self._reader.blocks(FEED_BLOCK)
            while not self._stop:
                block = next(blocks, None)
                if resampler is not None:
                    last = block is None
                    block = resampler.resample_chunk(np.zeros((0, self._reader.channels), np.float32) if last else block,
                                                     last=last)
                    self._put(block)
                    if last:
                        break
                elif block is None:
                    break
                else:
                    self._put(block)
            self.total = self._ring.write_count
        except VocalexError as exc:  # a read error midway: the engine reports it and stops
            self.error = exc
            self.total = self._ring.write_count
        finally:
            self._reader.close()

    def _put(self, block: np.ndarray) -> None:
        """Map channels, then write into the ring, sleeping while it is full (only this thread waits)."""
        if block.shape[1] != self.channels:
            block = block @ self._map
        block = np.ascontiguousarray(block, dtype=np.float32)
        ring = self._ring
        while len(block) and not self._stop:
            room = ring.capacity - (ring.write_count - ring.read_count)
            if room <= 0:
                time.sleep(0.01)
                continue
            ring.write(block[:room])
            block = block[room:]

    def stop(self) -> None:
        """Stop and join the feeder (which closes the file); closes the file if the feeder never started."""
        self._stop = True
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        else:
            self._reader.close()

    # -- audio callback ---------------------------------------------------------------------------

    def read_into(self, out: np.ndarray) -> None:
        """Fill out (frames, channels) with the next frames; silence where none are decoded. Never waits."""
        n = self._ring.read_or_silence(out)
        if n < out.shape[0]:
            if self.total is None:  # the feeder is behind: the file resumes later (after its end, silence is due)
                self.underruns += 1
                self.gap_frames += out.shape[0] - n

    # -- main thread ------------------------------------------------------------------------------

    def played_out(self, output_position: int, delay: int) -> bool:
        """Whether the output (at ``output_position``, ``delay`` frames behind the input) has played the whole file."""
        return self.total is not None and output_position >= self.total + self.gap_frames + delay


def resolve_output_device(path: str | Path, output_spec=None, samplerate: int | None = None, max_channels: int = 2):
    """The output device (index or name, None = default, JACK preferred) for a file input; a live.DeviceChoice.

    Its input is the file: ``input_index`` is None and ``input_name`` names
    the file. ``samplerate`` None runs at the device's own rate (the file is
    resampled to it).
    """
    from vocalex.base.errors import DeviceError
    from .devices import DeviceChoice, JACK_HOSTAPI_NAME, find_device, hostapi_index, portaudio

    sd = portaudio()
    dout = find_device(sd, output_spec, "output", hostapi_index(sd, JACK_HOSTAPI_NAME))
    hostapi = sd.query_hostapis(dout["hostapi"])["name"]
    channels = min(max_channels, dout["max_output_channels"])
    rate = int(dout["default_samplerate"]) if samplerate is None else int(samplerate)
    if samplerate is not None:
        try:
            sd.check_output_settings(device=dout["index"], channels=channels, dtype="float32", samplerate=rate)
        except sd.PortAudioError as exc:
            raise DeviceError(f"{dout['name']!r} refuses {rate} Hz ({exc}); leave `samplerate` out") from None
    return DeviceChoice(input_index=None, output_index=dout["index"], input_name=f"file {Path(path).name}",
                        output_name=dout["name"], hostapi=hostapi, samplerate=rate, channels=channels)
