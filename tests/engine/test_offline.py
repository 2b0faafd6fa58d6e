"""Offline mode: centred overlapping windows, batched calls, aligned exact-length output, bounded memory."""

import tracemalloc

import numpy as np
import pytest

from vocalex.engine.contract import ModelProfile
from vocalex.engine.model import OnnxModel
from vocalex.engine.offline import OFFLINE_CONTEXT, offline_geometry
from vocalex.engine.config import CoreConfig, OfflineConfig
from vocalex.engine.separator import separate_blocks
from vocalex.engine.stream import StreamSeparator


class StubModel:
    """Fixed mask float32 (n_bins, n_frames) for every batch row."""

    channels = 1  # each audio channel is an example of its own (as OnnxModel.channels)
    offline_frames = 128  # offline mode's window: the contract's n_frames (as OnnxModel.offline_frames)

    def __init__(self, mask):
        self.profile = ModelProfile(44100, 1024, 256, "hann", 512, 128, "mask", "vocals", "stub", "none", "MIT")
        self._mask = mask.astype(np.float32)

    def run(self, mag):
        return np.broadcast_to(self._mask, mag.shape).copy()


def centre_only_mask():
    """Ones only in the columns offline mode may use: OFFLINE_CONTEXT frames from either edge."""
    m = np.zeros((512, 128))
    m[:, OFFLINE_CONTEXT:128 - OFFLINE_CONTEXT] = 1.0
    return m


def separate(model, x, rate, block=10000):
    blocks = (x[i:i + block] for i in range(0, len(x), block))
    parts = list(separate_blocks(model, blocks, rate, x.shape[1], OfflineConfig()))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def test_geometry_keeps_context_on_both_sides():
    stride, lookahead = offline_geometry(StubModel(centre_only_mask()).profile)
    assert (stride, lookahead) == (128 - 2 * OFFLINE_CONTEXT, OFFLINE_CONTEXT)
    assert offline_geometry(StubModel(centre_only_mask()).profile, context=32) == (64, 32)


@pytest.mark.parametrize("n", [1, 300, 44100 + 77])
def test_offline_uses_centre_columns_and_is_aligned(n):
    # Ones only in the central columns: every frame must get its mask there,
    # and with the latency removed vocals equal the input sample for sample.
    x = np.random.default_rng(n).uniform(-0.5, 0.5, (n, 2)).astype(np.float32)
    v, a = separate(StubModel(centre_only_mask()), x, 44100, block=4096)
    assert v.shape == x.shape
    np.testing.assert_allclose(v, x, atol=1e-5)
    np.testing.assert_allclose(v + a, x, atol=1e-6)


def test_batched_windows_equal_one_window_per_call(tiny_model):
    model = OnnxModel.load(tiny_model, threads=1)
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (44100 * 2, 2)).astype(np.float32)
    outs = []
    for windows in (1, 4):
        s = StreamSeparator(model, 44100, 2, CoreConfig(64, 32, 128, windows_per_call=windows))
        outs.append(np.concatenate([s.process(x)["vocals"], s.flush()["vocals"]])[s.latency:])
    assert np.abs(outs[0]).max() > 1e-3
    np.testing.assert_allclose(outs[1], outs[0], atol=1e-6)


def test_pipelined_calls_give_the_same_output_one_call_later(tiny_model):
    # The worker thread only moves the model call in time: same samples out, latency one call longer.
    model = OnnxModel.load(tiny_model, threads=1)
    x = np.random.default_rng(1).uniform(-0.5, 0.5, (44100 * 2 + 999, 2)).astype(np.float32)
    outs, latencies = [], []
    for pipelined in (False, True):
        s = StreamSeparator(model, 44100, 2, CoreConfig(112, 8, 128, windows_per_call=4, pipelined=pipelined))
        pieces = [s.process(x[i:i + 5000])["vocals"] for i in range(0, len(x), 5000)]
        outs.append(np.concatenate(pieces + [s.flush()["vocals"]])[s.latency:])
        latencies.append(s.latency)
    assert latencies[1] == latencies[0] + 4 * 112 * 256
    assert np.abs(outs[0]).max() > 1e-3
    np.testing.assert_array_equal(outs[1], outs[0])


@pytest.mark.parametrize("rate,channels", [(48000, 1), (22050, 2)])
def test_resampled_offline_is_exact_length_and_sums_to_input(tiny_model, rate, channels):
    model = OnnxModel.load(tiny_model, threads=1)
    x = np.random.default_rng(rate).uniform(-0.5, 0.5, (rate + 123, channels)).astype(np.float32)
    v, a = separate(model, x, rate)
    assert v.shape == x.shape
    np.testing.assert_allclose(v + a, x, atol=1e-6)


def test_memory_is_bounded_by_the_block_not_the_file():
    # Peak traced allocation while streaming 20 s and 180 s of stereo in 64k-frame
    # blocks: it must not grow with the length (180 s alone is 64 MB as float32).
    model = StubModel(centre_only_mask())
    rate, block = 44100, 65536
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, (block, 2)).astype(np.float32)

    def peak_for(seconds):
        def blocks():
            for start in range(0, rate * seconds, block):
                yield noise[: min(block, rate * seconds - start)]

        tracemalloc.start()
        total = sum(len(v) for v, _ in separate_blocks(model, blocks(), rate, 2, OfflineConfig()))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert total == rate * seconds
        return peak

    peak_for(2)  # warm-up: one-time allocations (compiled kernels, caches)
    short, long = peak_for(20), peak_for(180)
    assert long < 1.1 * short + 1e6, (short, long)
    assert long < 0.75 * rate * 180 * 2 * 4, long
