"""Distillation: a strong offline teacher's vocals as training targets for the live student.

The teacher (the ``hq`` model: Spleeter's pretrained 2-stem U-Nets run by the engine with its
512-frame offline windows) is run ONCE per mixture and its vocals are stored beside the mixture
in a teacher cache folder, so a training step only slices arrays, as with the decode-once cache.
The teacher then labels what has no vocal stem at all (real mixtures of instrumental-plus-voice
material) and gives, where a stem exists, a target that a mask model can reach.

A cache folder holds one ``<name>.npz`` per mixture: ``mixture`` and ``teacher`` (the teacher's
vocals), float16 (frames, 2) at 44.1 kHz, and ``vocals`` (the true vocal stem) where the mixture
was built from stems; plus ``manifest.json`` (teacher model, source and licence of every entry).
It is data, never committed.

:class:`TeacherSampler` draws training crops from it with the augmentations that keep the
teacher's output a valid target of the augmented mixture (whole-mixture gain, channel swap, mono).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .augment import AugmentConfig, Source, active_share, padded_crop

TEACHER_RATE = 44100
MANIFEST = "manifest.json"


# -------------------------------------------------------------------------------------- building
class TeacherCache:
    """Writes entries into a teacher cache folder; an entry already there is kept (a stopped build resumes)."""

    def __init__(self, directory: str | os.PathLike, model: str = "hq", threads: int | None = None):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.model, self.threads = model, threads
        self._sep = None
        path = self.dir / MANIFEST
        self.manifest = json.loads(path.read_text()) if path.exists() else {"entries": {}}

    def _separator(self):
        if self._sep is None:
            from vocalex.engine import Separator

            self._sep = Separator.load(self.model, threads=self.threads, spinning=False)
            if self._sep.profile.sample_rate != TEACHER_RATE:
                raise ValueError(f"the teacher runs at {self._sep.profile.sample_rate} Hz, the cache is at {TEACHER_RATE}")
            self.manifest["teacher"] = self._sep.profile.model_version
        return self._sep

    def has(self, name: str) -> bool:
        return (self.dir / f"{name}.npz").exists()

    def add(self, name: str, mixture: np.ndarray, vocals: np.ndarray | None = None, **meta) -> None:
        """mixture (and the true vocals, if known): float (frames, 2) at 44.1 kHz; meta: source, licence, ..."""
        if self.has(name):
            return
        mixture = np.ascontiguousarray(mixture, dtype=np.float32)
        if mixture.ndim != 2 or mixture.shape[1] != 2:
            raise ValueError(f"mixture must be (frames, 2), got {mixture.shape}")
        teacher = self._separator().separate(mixture, TEACHER_RATE, mode="offline")["vocals"]
        arrays = {"mixture": mixture.astype(np.float16), "teacher": teacher.astype(np.float16)}
        if vocals is not None:
            arrays["vocals"] = np.asarray(vocals, dtype=np.float16)
        tmp = self.dir / f"{name}.npz.tmp{os.getpid()}"
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, self.dir / f"{name}.npz")
        self.manifest["entries"][name] = {"frames": int(mixture.shape[0]), "has_vocals": vocals is not None, **meta}
        self.save_manifest()

    def save_manifest(self) -> None:
        tmp = self.dir / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(self.manifest, indent=1))
        os.replace(tmp, self.dir / MANIFEST)


# -------------------------------------------------------------------------------------- training
@dataclass
class TeacherEntry:
    name: str
    mixture: np.ndarray           # float16 (frames, 2)
    teacher: np.ndarray           # float16 (frames, 2)
    vocals: np.ndarray | None     # float16 (frames, 2), the true stem where known
    active: np.ndarray            # activity blocks of the teacher's vocals (augment.activity)


def load_teacher_cache(directory: str | os.PathLike, exclude: set[str] = frozenset()) -> list[TeacherEntry]:
    """Every entry of a cache folder, less those whose manifest ``track`` names are in ``exclude``."""
    from vocalex.base.errors import UsageError

    d = Path(directory)
    if not (d / MANIFEST).is_file():
        raise UsageError(f"{d} is not a teacher cache (no {MANIFEST}); build one with scripts/teacher_cache.py")
    manifest = json.loads((d / MANIFEST).read_text())["entries"]
    entries = []
    for name, meta in sorted(manifest.items()):
        if exclude & set(meta.get("tracks", [])):
            continue
        with np.load(d / f"{name}.npz") as z:
            voc = z["vocals"] if "vocals" in z.files else None
            src = Source(z["teacher"], name)
            entries.append(TeacherEntry(name, z["mixture"], z["teacher"], voc, src.active))
    if not entries:
        raise UsageError(f"the teacher cache {d} holds no usable entries")
    return entries


class TeacherSampler:
    """Crops (mixture, target vocals) from teacher-cache entries.

    target = teacher_weight * teacher + (1 - teacher_weight) * true vocals where the entry has
    them, else the teacher's vocals. The augmentations act on the whole mixture and its target
    alike (a gain, a channel swap, mono), so the target stays the teacher's answer to that mixture;
    remixing is done when the cache is built (the teacher must hear the mixture it labels).
    Crops keep the activity rule of :class:`~vocalex.training.augment.MixSampler`, on the teacher's vocals.
    """

    def __init__(self, entries: list[TeacherEntry], length: int, teacher_weight: float = 1.0, seed: int = 0,
                 gain_db: tuple[float, float] = AugmentConfig.gain_db, swap_prob: float = AugmentConfig.swap_prob,
                 mono_prob: float = AugmentConfig.mono_prob, instrumental_prob: float = AugmentConfig.instrumental_prob,
                 min_active: float = AugmentConfig.min_active, tries: int = AugmentConfig.tries):
        if not entries:
            raise ValueError("no teacher entries")
        if not 0.0 <= teacher_weight <= 1.0:
            raise ValueError(f"teacher_weight must be in [0, 1], got {teacher_weight}")
        self.entries, self.length, self.teacher_weight = entries, length, teacher_weight
        self.gain_db, self.swap_prob, self.mono_prob = gain_db, swap_prob, mono_prob
        self.instrumental_prob, self.min_active, self.tries = instrumental_prob, min_active, tries
        w = np.array([max(1, e.mixture.shape[0] - length + 1) for e in entries], dtype=np.float64)
        self.p = w / w.sum()
        self.rng = np.random.default_rng(seed)

    def _pick(self) -> tuple[TeacherEntry, int]:
        want_silent = self.rng.random() < self.instrumental_prob
        for _ in range(self.tries):
            e = self.entries[self.rng.choice(len(self.entries), p=self.p)]
            start = int(self.rng.integers(0, max(1, e.mixture.shape[0] - self.length + 1)))
            if (active_share(e.active, start, self.length) < self.min_active) == want_silent:
                break
        return e, start

    def _crop(self, x: np.ndarray, start: int) -> np.ndarray:
        return padded_crop(x, start, self.length)

    def sample(self) -> dict[str, np.ndarray]:
        """{"mixture", "vocals"}: float32 (length, 2); "vocals" is the training target."""
        e, start = self._pick()
        mix, target = self._crop(e.mixture, start), self._crop(e.teacher, start)
        if e.vocals is not None and self.teacher_weight < 1.0:
            w = np.float32(self.teacher_weight)
            target = w * target + (1 - w) * self._crop(e.vocals, start)
        g = np.float32(10 ** (self.rng.uniform(*self.gain_db) / 20))
        mix, target = mix * g, target * g
        if self.rng.random() < self.swap_prob:
            mix, target = mix[:, ::-1], target[:, ::-1]
        if self.rng.random() < self.mono_prob:
            mix = np.repeat(mix.mean(axis=1, keepdims=True), 2, axis=1)
            target = np.repeat(target.mean(axis=1, keepdims=True), 2, axis=1)
        peak = float(np.max(np.abs(mix)))
        if peak > 1.0:
            mix, target = mix / np.float32(peak), target / np.float32(peak)
        return {"mixture": np.ascontiguousarray(mix, dtype=np.float32),
                "vocals": np.ascontiguousarray(target, dtype=np.float32)}


class BlendSampler:
    """Each example from the teacher cache with probability ``teacher_prob``, else from a
    :class:`~vocalex.training.augment.MixSampler` (ground-truth stems). One random generator drives
    both, so a checkpoint's ``rng`` state resumes the whole stream of examples."""

    def __init__(self, stems, teacher: TeacherSampler, teacher_prob: float):
        if not 0.0 <= teacher_prob <= 1.0:
            raise ValueError(f"teacher_prob must be in [0, 1], got {teacher_prob}")
        self.stems, self.teacher, self.teacher_prob = stems, teacher, teacher_prob
        self.length = stems.length
        self.rng = stems.rng

    @property
    def rng(self) -> np.random.Generator:
        return self._rng

    @rng.setter
    def rng(self, rng: np.random.Generator) -> None:
        self._rng = self.stems.rng = self.teacher.rng = rng

    def sample(self) -> dict[str, np.ndarray]:
        """{"mixture", "vocals"}: float32 (length, 2), "vocals" the target."""
        if self.rng.random() < self.teacher_prob:
            return self.teacher.sample()
        e = self.stems.sample()
        return {"mixture": e["mixture"], "vocals": e["vocals"]}

    def batch(self, n: int) -> dict[str, np.ndarray]:
        """n examples stacked: float32 (n, 2, length) per key."""
        examples = [self.sample() for _ in range(n)]
        return {k: np.stack([e[k].T for e in examples]) for k in ("mixture", "vocals")}
