"""What a training run learns from: the training tracks and extra stems decoded once (training/cache.py) into a
:class:`~vocalex.training.augment.StemPool`, and the distillation teacher's crops (training/teacher.py) mixed in."""

from __future__ import annotations

import time
from pathlib import Path

from vocalex.base.errors import UsageError
from vocalex.base.suffixes import list_audio_files
from vocalex.data.datasets import open_dataset
from vocalex.data.splits import VALID_NAMES

from .augment import MixSampler, StemPool
from .cache import cached_file, cached_track
from .config import TrainConfig
from .profiles import PROFILES
from .teacher import BlendSampler, TeacherSampler, load_teacher_cache


def _extra_files(paths: list[str], kind: str) -> list[Path]:
    """Audio files for extra material: a file, or a folder (a stems folder gives its ``kind`` stems)."""
    files = []
    for p in map(Path, paths):
        if p.is_file():
            files.append(p)
        elif p.is_dir():
            try:
                ds = open_dataset(p)
                files += [t.sources[kind][0] for t in ds.tracks if kind in t.sources]
            except Exception:
                files += list_audio_files(p)[0]
        else:
            raise UsageError(f"extra {kind} material not found: {p}")
    if paths and not files:
        raise UsageError(f"no audio files in the extra {kind} material {paths}")
    return files


def build_pool(cfg: TrainConfig, log=print, preparing=None, layouts: list | None = None) -> StemPool:
    """Decode (once, through the cache) every training track and extra file into a StemPool.

    ``preparing(done, total, path)`` hears of each track decoded; ``layouts`` collects each folder's layout."""
    rate = PROFILES[cfg.profile].sample_rate
    pool = StemPool()
    t0 = time.time()
    for path in cfg.data:
        ds = open_dataset(path, split="train")
        for i, track in enumerate(ds.tracks):
            if preparing is not None:
                preparing(i, len(ds.tracks), path)
            stems = cached_track(track, rate, cfg.cache)
            pool.add_track(track.name, stems["vocals"], stems["accompaniment"])
        if preparing is not None:
            preparing(len(ds.tracks), len(ds.tracks), path)
        if layouts is not None:
            layouts.append(ds.layout)
        log(f"data: {ds.layout} {path}: {len(ds.tracks)} training tracks")
    for kind, paths in (("vocals", cfg.extra_vocals), ("accompaniment", cfg.extra_accompaniment)):
        for f in _extra_files(paths, kind):
            pool.add_extra(kind, f.name, cached_file(f, rate, cfg.cache))
    log(f"data: {len(pool)} tracks, {len(pool.extra_vocals)} extra vocals, "
        f"{len(pool.extra_accompaniment)} extra accompaniment files ready in {time.time() - t0:.1f} s")
    return pool


def teacher_sampler(cfg: TrainConfig, sampler: MixSampler, log=print):
    """``sampler`` joined by crops of the teacher cache (distillation), in the share ``cfg.teacher_prob``."""
    if PROFILES[cfg.profile].sample_rate != 44100:
        raise UsageError(f"`teacher_cache` holds 44.1 kHz audio; profile {cfg.profile} runs at another rate")
    # Entries built from a validation track are never trained on, whoever built the cache.
    entries = load_teacher_cache(cfg.teacher_cache, exclude=set(VALID_NAMES))
    hours = sum(e.mixture.shape[0] for e in entries) / 44100 / 3600
    log(f"teacher cache {cfg.teacher_cache}: {len(entries)} mixtures, {hours:.2f} h, "
        f"{sum(e.vocals is not None for e in entries)} with true vocals; share {cfg.teacher_prob}, weight {cfg.teacher_weight}")
    teacher = TeacherSampler(entries, sampler.length, teacher_weight=cfg.teacher_weight,
                             instrumental_prob=cfg.instrumental_prob)
    return BlendSampler(sampler, teacher, cfg.teacher_prob)
