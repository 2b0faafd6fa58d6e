"""Distillation data: the teacher cache (write, resume, read, exclusion), its sampler's targets and
augmentations, the blend with ground-truth stems, and `train()` with --teacher-cache / --valid-data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vocalex.data.splits import VALID_NAMES
from vocalex.training.augment import MixSampler, StemPool
from vocalex.training.teacher import BlendSampler, TeacherCache, TeacherSampler, load_teacher_cache

RATE = 44100


class _HalfTeacher:
    """Stands in for the hq model: 'separates' by halving the mixture (counts its calls)."""

    calls = 0

    class profile:
        sample_rate = RATE
        model_version = "fake-teacher"

    def separate(self, audio, rate, mode):
        assert rate == RATE and mode == "offline"
        _HalfTeacher.calls += 1
        return {"vocals": audio * 0.5, "accompaniment": audio * 0.5}


def _cache(tmp_path, n=3, seconds=1.0):
    cache = TeacherCache(tmp_path / "teacher")
    cache._sep = _HalfTeacher()
    cache.manifest["teacher"] = "fake-teacher"
    rng = np.random.default_rng(0)
    frames = int(seconds * RATE)
    for i in range(n):
        voc = rng.normal(0, 0.1, (frames, 2)).astype(np.float32)
        acc = rng.normal(0, 0.1, (frames, 2)).astype(np.float32)
        cache.add(f"e{i}", voc + acc, voc if i else None, source="test", tracks=[f"track {i}"])
    return cache


def test_cache_stores_teacher_output_and_resumes(tmp_path):
    _HalfTeacher.calls = 0
    cache = _cache(tmp_path)
    assert _HalfTeacher.calls == 3
    manifest = json.loads((tmp_path / "teacher" / "manifest.json").read_text())
    assert manifest["teacher"] == "fake-teacher" and set(manifest["entries"]) == {"e0", "e1", "e2"}
    assert manifest["entries"]["e0"]["has_vocals"] is False and manifest["entries"]["e1"]["has_vocals"] is True
    with np.load(tmp_path / "teacher" / "e1.npz") as z:
        assert z["mixture"].dtype == np.float16 and z["mixture"].shape == (RATE, 2)
        np.testing.assert_allclose(z["teacher"].astype(np.float32), z["mixture"].astype(np.float32) * 0.5, atol=1e-3)
    cache.add("e1", np.zeros((RATE, 2), np.float32))  # already there: kept, the teacher not run again
    assert _HalfTeacher.calls == 3
    with pytest.raises(ValueError):
        cache.add("mono", np.zeros((RATE, 1), np.float32))


def test_load_excludes_entries_of_named_tracks(tmp_path):
    _cache(tmp_path)
    entries = load_teacher_cache(tmp_path / "teacher", exclude={"track 1"})
    assert [e.name for e in entries] == ["e0", "e2"]
    assert entries[0].vocals is None and entries[1].vocals is not None


def test_sampler_target_is_the_teacher_blended_with_the_truth(tmp_path):
    _cache(tmp_path, n=2)
    entries = load_teacher_cache(tmp_path / "teacher")
    length = 4096
    plain = dict(gain_db=(0.0, 0.0), swap_prob=0.0, mono_prob=0.0, instrumental_prob=0.0)
    only = TeacherSampler(entries[1:], length, teacher_weight=1.0, **plain)
    ex = only.sample()
    np.testing.assert_allclose(ex["vocals"], ex["mixture"] * 0.5, atol=2e-3)
    half = TeacherSampler(entries[1:], length, teacher_weight=0.5, seed=3, **plain)
    e = entries[1]
    ex = half.sample()
    # find the crop: the mixture is unique noise, so locate it by its first sample pair
    start = int(np.flatnonzero((e.mixture[:, 0] == np.float16(ex["mixture"][0, 0]))
                               & (e.mixture[:, 1] == np.float16(ex["mixture"][0, 1])))[0])
    truth = e.vocals[start:start + length].astype(np.float32)
    teacher = e.teacher[start:start + length].astype(np.float32)
    np.testing.assert_allclose(ex["vocals"], 0.5 * teacher + 0.5 * truth, atol=1e-6)
    # an entry without true vocals: the teacher alone, whatever the weight
    none = TeacherSampler(entries[:1], length, teacher_weight=0.0, **plain).sample()
    np.testing.assert_allclose(none["vocals"], none["mixture"] * 0.5, atol=2e-3)


def test_sampler_augments_mixture_and_target_alike(tmp_path):
    _cache(tmp_path, n=2)
    entries = load_teacher_cache(tmp_path / "teacher")
    s = TeacherSampler(entries, 2048, gain_db=(-9.0, 3.0), swap_prob=0.5, mono_prob=0.5, seed=1)
    for _ in range(20):
        ex = s.sample()  # the fake teacher halves: every augmentation must keep target == mixture / 2
        assert ex["mixture"].shape == (2048, 2) and ex["mixture"].dtype == np.float32
        assert np.max(np.abs(ex["mixture"])) <= 1.0 + 1e-6
        np.testing.assert_allclose(ex["vocals"], ex["mixture"] * 0.5, atol=3e-3)


def test_blend_draws_both_sources_from_one_generator(tmp_path):
    _cache(tmp_path, n=2)
    pool = StemPool()
    rng = np.random.default_rng(0)
    pool.add_track("t", rng.normal(0, 0.1, (RATE, 2)).astype(np.float32), rng.normal(0, 0.1, (RATE, 2)).astype(np.float32))
    stems = MixSampler(pool, 2048, seed=0)
    teacher = TeacherSampler(load_teacher_cache(tmp_path / "teacher"), 2048)
    blend = BlendSampler(stems, teacher, 0.5)
    assert blend.rng is stems.rng is teacher.rng
    state = blend.rng.bit_generator.state
    first = blend.batch(6)
    assert set(first) == {"mixture", "vocals"} and first["mixture"].shape == (6, 2, 2048)
    blend.rng = np.random.default_rng(42)  # a resumed run replaces the generator: both samplers follow
    assert stems.rng is teacher.rng is blend.rng
    blend.rng.bit_generator.state = state
    np.testing.assert_array_equal(blend.batch(6)["mixture"], first["mixture"])


@pytest.mark.torch
def test_train_with_a_teacher_cache_and_a_dev_split(tmp_path):
    pytest.importorskip("torch")
    import soundfile as sf

    from vocalex.training.config import TrainConfig
    from vocalex.training.train import train

    rng = np.random.default_rng(0)
    for root, name in ((tmp_path / "data", "Generated - Train"), (tmp_path / "dev", "Generated - Dev")):
        (root / name).mkdir(parents=True)
        for stem in ("vocals", "accompaniment"):
            sf.write(root / name / f"{stem}.wav", rng.normal(0, 0.05, (RATE, 2)).astype(np.float32), RATE)
    cache = _cache(tmp_path, n=2)
    voc = rng.normal(0, 0.1, (RATE, 2)).astype(np.float32)
    cache.add("from-valid", voc, voc, source="test", tracks=[VALID_NAMES[0]])  # must never be trained on
    cfg = TrainConfig(data=[str(tmp_path / "data")], out=str(tmp_path / "run"), profile="live1024-11k",
                      widths=(4, 8, 16, 32, 64, 128), channels=2, batch_size=4, steps=2, valid_every=2,
                      valid_modes=("offline",), cache=str(tmp_path / "cache"), threads=1,
                      teacher_cache=str(tmp_path / "teacher"), teacher_prob=0.5, valid_data=[str(tmp_path / "dev")])
    result = train(cfg, quiet=True)
    assert result["step"] == 2 and result["best"] is not None
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["clips"] for r in records if "valid" in r] == [1]  # the dev clip, not a validation split
    from vocalex.training.material import teacher_sampler

    blend = teacher_sampler(cfg, _stems_sampler(), print)
    assert "from-valid" not in {e.name for e in blend.teacher.entries}


def _stems_sampler():
    pool = StemPool()
    pool.add_track("t", np.zeros((RATE, 2), np.float32), np.zeros((RATE, 2), np.float32))
    return MixSampler(pool, 2048)


def test_train_config_refuses_bad_teacher_settings(tmp_path):
    pytest.importorskip("torch")  # TrainConfig lives in training/train.py, which imports torch
    from vocalex.base.errors import UsageError
    from vocalex.training.config import TrainConfig

    for bad in (dict(teacher_prob=1.5), dict(teacher_weight=-0.1)):
        with pytest.raises(UsageError):
            TrainConfig(data=["x"], out=str(tmp_path), **bad)


@pytest.mark.torch
@pytest.mark.subprocess
def test_vocalex_train_refuses_a_bad_teacher_option(tmp_path):
    pytest.importorskip("torch")  # without torch `vocalex train` stops first at exit 10, naming the [train] extra
    import subprocess
    import sys

    for args, says in ((["--teacher-prob", "1.5"], "--teacher-prob"), (["--teacher-weight", "-1"], "--teacher-weight")):
        proc = subprocess.run([sys.executable, "-m", "vocalex.cli.main", "train", "--data", str(tmp_path), "--out",
                               str(tmp_path / "run"), *args], capture_output=True, text=True)
        assert proc.returncode == 2 and says in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
