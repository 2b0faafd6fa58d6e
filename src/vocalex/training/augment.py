"""Training examples from a small data set: remixing, gains, channels, crops.

A :class:`StemPool` holds decoded stems (float16, at the model rate). The
:class:`MixSampler` draws a vocals crop and an accompaniment crop, either from
the same track (real correlations between voice and band) or from different
tracks (remixing multiplies the variety of a small set), applies random gains,
channel swap and mono, and returns the mixture as the SUM of the augmented
stems, so the invariant ``mixture == vocals + accompaniment`` holds exactly.

Crops are silence-aware: a crop whose vocals are near-silent most of the time
is redrawn, except for a share ``instrumental_prob`` of crops kept on purpose
(vocals silent) so the model learns to output silence where nobody sings.

Extra material: vocals-only files join the vocals pool and accompaniment-only
files the accompaniment pool; they are drawn with probability ``extra_prob``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ACTIVITY_BLOCK = 1024          # samples per activity block (23 ms at 44.1 kHz)
ACTIVE_DB_BELOW_PEAK = 40.0    # a block is "singing" within 40 dB of the source's loudest block ...
ACTIVE_DB_FLOOR = -60.0        # ... and above -60 dBFS


def activity(audio: np.ndarray) -> np.ndarray:
    """audio (frames, channels) -> bool (frames // ACTIVITY_BLOCK,): blocks where the source is audible."""
    n = audio.shape[0] // ACTIVITY_BLOCK
    if n == 0:
        return np.zeros(0, dtype=bool)
    blocks = audio[: n * ACTIVITY_BLOCK].astype(np.float32).reshape(n, ACTIVITY_BLOCK, -1)
    db = 10 * np.log10(np.mean(blocks**2, axis=(1, 2)) + 1e-12)
    return (db > db.max() - ACTIVE_DB_BELOW_PEAK) & (db > ACTIVE_DB_FLOOR)


def padded_crop(audio: np.ndarray, start: int, length: int) -> np.ndarray:
    """audio[start:start + length] of a (frames, channels) recording as float32, zero-padded if it ends sooner."""
    seg = audio[start: start + length].astype(np.float32)
    if seg.shape[0] < length:
        seg = np.concatenate([seg, np.zeros((length - seg.shape[0], seg.shape[1]), np.float32)])
    return seg


def active_share(active: np.ndarray, start: int, length: int) -> float:
    """Share of the activity blocks (see :func:`activity`) of a crop that are audible."""
    a = active[start // ACTIVITY_BLOCK: (start + length) // ACTIVITY_BLOCK]
    return float(a.mean()) if a.size else 0.0


@dataclass
class Source:
    """One stem recording: float16/32 (frames, channels), with its activity blocks."""

    audio: np.ndarray
    name: str

    def __post_init__(self):
        self.active = activity(self.audio)

    @property
    def frames(self) -> int:
        return self.audio.shape[0]


class StemPool:
    """Paired tracks (vocals + accompaniment) and unpaired extra stems."""

    def __init__(self):
        self.tracks: list[tuple[Source, Source]] = []
        self.extra_vocals: list[Source] = []
        self.extra_accompaniment: list[Source] = []

    def add_track(self, name: str, vocals: np.ndarray, accompaniment: np.ndarray) -> None:
        """vocals, accompaniment: (frames, channels) of equal length."""
        n = min(vocals.shape[0], accompaniment.shape[0])
        self.tracks.append((Source(vocals[:n], name), Source(accompaniment[:n], name)))

    def add_extra(self, kind: str, name: str, audio: np.ndarray) -> None:
        """kind "vocals" or "accompaniment"; audio (frames, channels)."""
        target = {"vocals": self.extra_vocals, "accompaniment": self.extra_accompaniment}[kind]
        target.append(Source(audio, name))

    def __len__(self) -> int:
        return len(self.tracks)


def _to_stereo(x: np.ndarray) -> np.ndarray:
    """(frames, channels) -> (frames, 2): mono is duplicated, more than 2 channels keep the first two."""
    if x.shape[1] == 1:
        return np.repeat(x, 2, axis=1)
    return x[:, :2]


@dataclass
class AugmentConfig:
    remix_prob: float = 0.5          # vocals and accompaniment from different tracks
    extra_prob: float = 0.2          # draw a stem from the extra material (if any)
    instrumental_prob: float = 0.1   # keep a crop whose vocals are (near) silent
    min_active: float = 0.5          # otherwise at least this share of vocal blocks must be audible
    gain_db: tuple[float, float] = (-9.0, 3.0)
    swap_prob: float = 0.5
    mono_prob: float = 0.1
    tries: int = 10


class MixSampler:
    """Draws augmented (mixture, vocals, accompaniment) crops of ``length`` samples."""

    def __init__(self, pool: StemPool, length: int, config: AugmentConfig = AugmentConfig(), seed: int = 0):
        if len(pool) == 0:
            raise ValueError("the stem pool holds no tracks")
        self.pool, self.length, self.config = pool, length, config
        self.rng = np.random.default_rng(seed)

    def _weighted(self, sources: list[Source]) -> Source:
        # Longer recordings hold more distinct crops: sample proportionally to length.
        w = np.array([s.frames for s in sources], dtype=np.float64)
        return sources[self.rng.choice(len(sources), p=w / w.sum())]

    def _crop(self, src: Source, start: int | None = None) -> tuple[np.ndarray, int]:
        """A (length, channels) float32 crop (zero-padded if the source is short) and its start."""
        if start is None:
            start = int(self.rng.integers(0, max(1, src.frames - self.length + 1)))
        return padded_crop(src.audio, start, self.length), start

    def _active_share(self, src: Source, start: int) -> float:
        return active_share(src.active, start, self.length)

    def _pick_vocals(self, want_silent: bool) -> tuple[Source, int | None, int]:
        """The vocal source, its crop start and the track index it came from (-1 = extra material)."""
        c = self.config
        for _ in range(c.tries):
            if self.pool.extra_vocals and not want_silent and self.rng.random() < c.extra_prob:
                src, track = self._weighted(self.pool.extra_vocals), -1
            else:
                track = int(self.rng.integers(len(self.pool)))
                src = self.pool.tracks[track][0]
            start = int(self.rng.integers(0, max(1, src.frames - self.length + 1)))
            share = self._active_share(src, start)
            if (want_silent and share < c.min_active) or (not want_silent and share >= c.min_active):
                return src, start, track
        return src, start, track

    def sample(self) -> dict[str, np.ndarray]:
        """One example: {"mixture", "vocals", "accompaniment"} float32 (length, 2), mixture = sum of stems."""
        c, rng = self.config, self.rng
        want_silent = rng.random() < c.instrumental_prob
        vsrc, vstart, track = self._pick_vocals(want_silent)
        vocals, _ = self._crop(vsrc, vstart)
        if track >= 0 and rng.random() >= c.remix_prob:
            accompaniment, _ = self._crop(self.pool.tracks[track][1], vstart)  # the real pairing, aligned
        elif self.pool.extra_accompaniment and rng.random() < c.extra_prob:
            accompaniment, _ = self._crop(self._weighted(self.pool.extra_accompaniment))
        else:
            accompaniment, _ = self._crop(self.pool.tracks[int(rng.integers(len(self.pool)))][1])
        if want_silent:
            vocals[:] = 0.0  # an instrumental-only example: the target is silence
        stems = []
        for stem in (vocals, accompaniment):
            stem = _to_stereo(stem) * np.float32(10 ** (rng.uniform(*c.gain_db) / 20))
            if rng.random() < c.swap_prob:
                stem = stem[:, ::-1]
            stems.append(stem)
        vocals, accompaniment = stems
        if rng.random() < c.mono_prob:  # a mono mixture has mono stems
            vocals = np.repeat(vocals.mean(axis=1, keepdims=True), 2, axis=1)
            accompaniment = np.repeat(accompaniment.mean(axis=1, keepdims=True), 2, axis=1)
        mixture = vocals + accompaniment
        peak = float(np.max(np.abs(mixture)))
        if peak > 1.0:  # keep the mixture in range; scale stems together so the sum still holds
            scale = np.float32(1.0 / peak)
            vocals, accompaniment = vocals * scale, accompaniment * scale
            mixture = vocals + accompaniment
        return {
            "mixture": np.ascontiguousarray(mixture, dtype=np.float32),
            "vocals": np.ascontiguousarray(vocals, dtype=np.float32),
            "accompaniment": np.ascontiguousarray(accompaniment, dtype=np.float32),
        }

    def batch(self, n: int) -> dict[str, np.ndarray]:
        """n examples stacked: each key float32 (n, 2, length) (channels first, for the STFT)."""
        examples = [self.sample() for _ in range(n)]
        return {k: np.stack([e[k].T for e in examples]) for k in examples[0]}
