"""Augmentation invariants: mixture == vocals + accompaniment, silence-aware crops, shapes."""

from __future__ import annotations

import numpy as np

from vocalex.training.augment import ACTIVITY_BLOCK, AugmentConfig, MixSampler, StemPool, activity

LENGTH = 4096


def _pool(seed=0, n_tracks=3, frames=20 * ACTIVITY_BLOCK) -> StemPool:
    rng = np.random.default_rng(seed)
    pool = StemPool()
    for i in range(n_tracks):
        vocals = rng.normal(0, 0.1, (frames, 2)).astype(np.float16)
        vocals[: frames // 2] = 0  # the first half of every song has no singing
        pool.add_track(f"t{i}", vocals, rng.normal(0, 0.3, (frames, 2)).astype(np.float16))
    pool.add_extra("vocals", "solo", rng.normal(0, 0.2, (frames, 1)).astype(np.float32))  # mono extra material
    pool.add_extra("accompaniment", "band", rng.normal(0, 0.5, (frames // 3, 2)).astype(np.float32))
    return pool


def test_mixture_is_exactly_the_sum_of_stems_under_every_augmentation():
    cfg = AugmentConfig(remix_prob=0.5, extra_prob=0.5, instrumental_prob=0.2, swap_prob=0.5, mono_prob=0.3,
                        gain_db=(-12.0, 12.0))  # gains that overflow, so the peak rescale runs too
    sampler = MixSampler(_pool(), LENGTH, cfg, seed=1)
    for _ in range(200):
        ex = sampler.sample()
        assert ex["mixture"].shape == (LENGTH, 2) and ex["mixture"].dtype == np.float32
        np.testing.assert_array_equal(ex["mixture"], ex["vocals"] + ex["accompaniment"])
        assert np.max(np.abs(ex["mixture"])) <= 1.0 + 1e-6


def test_batch_is_channels_first_and_keeps_the_invariant():
    batch = MixSampler(_pool(), LENGTH, seed=2).batch(5)
    assert batch["mixture"].shape == (5, 2, LENGTH)
    np.testing.assert_array_equal(batch["mixture"], batch["vocals"] + batch["accompaniment"])


def test_crops_are_silence_aware_but_keep_some_instrumental_examples():
    pool = _pool()
    sampler = MixSampler(pool, LENGTH, AugmentConfig(instrumental_prob=0.0, extra_prob=0.0), seed=3)
    silent = sum(np.max(np.abs(sampler.sample()["vocals"])) == 0 for _ in range(100))
    # Half of each song is silent: random crops would be silent ~half the time; silence-aware ones almost never.
    assert silent <= 5
    sampler = MixSampler(pool, LENGTH, AugmentConfig(instrumental_prob=0.3, extra_prob=0.0), seed=4)
    silent = sum(np.max(np.abs(sampler.sample()["vocals"])) == 0 for _ in range(200))
    assert 30 <= silent <= 90  # about 30 % instrumental-only examples, as configured


def test_mono_and_channel_swap_are_applied():
    sampler = MixSampler(_pool(), LENGTH, AugmentConfig(mono_prob=1.0, extra_prob=0.0), seed=5)
    ex = sampler.sample()
    np.testing.assert_array_equal(ex["mixture"][:, 0], ex["mixture"][:, 1])
    # Same seed and crop choices, swap always vs never: the channels trade places.
    pool = _pool()
    a = MixSampler(pool, LENGTH, AugmentConfig(swap_prob=0.0, mono_prob=0.0, remix_prob=0.0, extra_prob=0.0,
                                                 instrumental_prob=0.0), seed=6).sample()
    b = MixSampler(pool, LENGTH, AugmentConfig(swap_prob=1.0, mono_prob=0.0, remix_prob=0.0, extra_prob=0.0,
                                                 instrumental_prob=0.0), seed=6).sample()
    np.testing.assert_allclose(b["vocals"], a["vocals"][:, ::-1], rtol=1e-6)


def test_activity_marks_only_audible_blocks():
    x = np.zeros((8 * ACTIVITY_BLOCK, 1), np.float32)
    x[4 * ACTIVITY_BLOCK:] = 0.1
    assert activity(x).tolist() == [False] * 4 + [True] * 4
