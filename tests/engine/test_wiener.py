"""Offline multichannel Wiener filtering (engine/wiener.py through norbert): consistent stems, and a real gain."""

import numpy as np
import pytest
import soundfile as sf

from vocalex.engine import Separator
from vocalex.base.errors import UsageError
from vocalex.engine.contract import ModelProfile
from vocalex.engine.registry import default_model_path
from vocalex.engine.config import OfflineConfig
from vocalex.engine.separator import separate_blocks
from vocalex.engine.wiener import wiener_vocals

RATE = 44100


def sdr(ref, est):
    return 10 * np.log10(np.sum(np.abs(ref) ** 2) / np.sum(np.abs(ref - est) ** 2))


def panned_sources(frames, seed=0):
    """Two noise sources with the same (white) spectrum but different stereo positions and
    independent, bursty envelopes: float32 (frames, 2) each. Source 0 sits left, source 1 right."""
    rng = np.random.default_rng(seed)
    out = []
    for pan in ((1.0, 0.35), (0.35, 1.0)):
        hop = 2048  # the envelope changes every 46 ms, like notes, independently per source
        env = np.repeat(rng.gamma(0.5, size=frames // hop + 1), hop)[:frames]
        mono = rng.standard_normal(frames) * env
        out.append((0.1 * mono[:, None] * np.array(pan)[None, :]).astype(np.float32))
    return out


class PanStubModel:
    """An imperfect separator that knows only level differences: per bin, the share of the
    left channel's magnitude in the pair (|L| / (|L| + |R|)) is the mask of both channels.
    A real model's mask, like this one, is a per-bin guess that ignores the channels' phase relation."""

    channels = 2
    offline_frames = 128  # offline mode's window (as OnnxModel.offline_frames)

    def __init__(self):
        self.profile = ModelProfile(RATE, 1024, 256, "hann", 513, 128, "mask", "vocals", "stub", "none", "MIT")

    def run(self, mag):
        left, right = mag[0::2], mag[1::2]
        share = left / np.maximum(left + right, 1e-12)
        out = np.empty_like(mag)
        out[0::2] = share
        out[1::2] = share
        return out


def test_the_filter_moves_a_mask_estimate_towards_the_truth():
    # STFT-domain sources with overlapping spectra and different stereo positions; the mask
    # is the per-channel magnitude ratio a network would aim at. The spatial model of the
    # Wiener filter must use what the mask cannot (the inter-channel correlation): a gain of dB.
    rng = np.random.default_rng(1)
    frames, bins = 300, 257

    def source(pan):
        s = (rng.standard_normal((frames, 1, bins)) + 1j * rng.standard_normal((frames, 1, bins)))
        return s * rng.gamma(0.4, size=(frames, 1, bins)) * np.array(pan)[None, :, None]

    s0, s1 = source((1.0, 0.3)), source((0.3, 1.0))
    x = (s0 + s1).astype(np.complex64)
    mask = np.abs(s0) / (np.abs(s0) + np.abs(s1))
    plain = mask * x
    refined = wiener_vocals(x, plain.astype(np.complex64))
    assert refined.shape == x.shape and refined.dtype == np.complex64
    assert sdr(s0, refined) > sdr(s0, plain) + 3.0, (sdr(s0, plain), sdr(s0, refined))
    # Digital silence stays silence.
    assert np.abs(wiener_vocals(np.zeros_like(x[:5]), np.zeros_like(x[:5]))).max() == 0.0


def test_wiener_through_the_engine_beats_the_plain_mask_and_keeps_the_stems_consistent():
    s0, s1 = panned_sources(3 * RATE)
    x = s0 + s1
    sep = Separator(PanStubModel())
    plain = sep.separate(x, RATE)
    wiener = sep.separate(x, RATE, wiener=True)
    v, a = wiener["vocals"], wiener["accompaniment"]
    assert v.shape == a.shape == x.shape and v.dtype == np.float32
    np.testing.assert_allclose(v + a, x, atol=1e-6)
    inner = slice(RATE // 4, -RATE // 4)  # away from the file's edges
    gain_v = sdr(s0[inner], v[inner]) - sdr(s0[inner], plain["vocals"][inner])
    gain_a = sdr(s1[inner], a[inner]) - sdr(s1[inner], plain["accompaniment"][inner])
    assert gain_v > 1.0 and gain_a > 1.0, (gain_v, gain_a)


def test_wiener_output_does_not_depend_on_the_block_size_or_the_rate_path():
    # The filter works per model call (a fixed set of frames counted from the file's start),
    # never per host block, so any cutting of the input gives the same stems.
    audio, rate = sf.read(default_model_path().parent / "demo_lets_go_fishin_30s.ogg", dtype="float32", frames=3 * RATE)
    sep = Separator.load(threads=1)
    ref = sep.separate(audio, rate, wiener=True)
    for block in (1023, 200000):
        blocks = (audio[i:i + block] for i in range(0, len(audio), block))
        parts = list(separate_blocks(sep.model, blocks, rate, 2, OfflineConfig(wiener=True)))
        v = np.concatenate([p[0] for p in parts])
        np.testing.assert_allclose(v, ref["vocals"], atol=1e-6)
    plain = sep.separate(audio, rate)["vocals"]
    assert np.abs(ref["vocals"] - plain).max() > 1e-3  # it does change the estimate
    # Another host rate (resampled path) and mono: lengths, shapes and the sum are kept.
    for x, r in ((audio[:RATE], 48000), (audio[:RATE, 0], rate)):
        stems = sep.separate(x, r, wiener=True)
        assert stems["vocals"].shape == x.shape
        np.testing.assert_allclose(stems["vocals"] + stems["accompaniment"], x, atol=1e-5)


def test_wiener_is_refused_in_stream_mode():
    sep = Separator(PanStubModel())
    with pytest.raises(UsageError, match="offline"):
        sep.separate(np.zeros((RATE, 2), np.float32), RATE, mode="stream", wiener=True)


def test_wiener_memory_does_not_grow_with_the_file():
    # The filter sees one model call's frames at a time: the peak traced allocation for a
    # 4x longer input stays the same. (A small STFT and 32-frame windows keep this fast:
    # a call covers 4 x 16 frames = 4096 samples, so 1 s already spans ten calls.)
    import tracemalloc

    class SmallStub(PanStubModel):
        def __init__(self):
            self.profile = ModelProfile(RATE, 256, 64, "hann", 129, 32, "mask", "vocals", "stub", "none", "MIT")

    model, block = SmallStub(), 4096
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, (block, 2)).astype(np.float32)

    def peak_for(seconds):
        def blocks():
            for start in range(0, RATE * seconds, block):
                yield noise[: min(block, RATE * seconds - start)]

        tracemalloc.start()
        total = sum(len(v) for v, _ in separate_blocks(model, blocks(), RATE, 2, OfflineConfig(wiener=True)))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert total == RATE * seconds
        return peak

    peak_for(1)  # warm-up
    short, long = peak_for(1), peak_for(4)
    assert long < 1.1 * short + 1e6, (short, long)
