"""A file's edges: mirrored signal (edges="mirror", the default) or silence ("zero") around it, in offline and
stream mode of file separation; bounded memory, exact length, any block size, stems that sum to the input."""

import numpy as np
import pytest

from vocalex.engine import Separator
from vocalex.engine.config import DEFAULT_EDGES, EDGES, OfflineConfig, StreamConfig
from vocalex.base.errors import UsageError
from vocalex.engine.model import OnnxModel
from vocalex.engine.separator import MirroredEdges, edge_pad, separate_blocks


def padded(x, pad, block):
    m = MirroredEdges((x[i:i + block] for i in range(0, len(x), block)), pad, check=lambda b: b.reshape(len(b), -1))
    parts = list(m)
    return (np.concatenate(parts) if parts else x[:0]), m.front, m.end


@pytest.mark.parametrize("n", [0, 1, 2, 5, 6, 7, 40])
@pytest.mark.parametrize("block", [1, 3, 6, 1000])
def test_mirrored_edges_reflect_what_exists_about_the_end_samples(n, block):
    x = np.arange(1, n + 1, dtype=np.float32)[:, None] * [1.0, -1.0]  # 2 channels, distinct samples
    y, front, end = padded(x, 6, block)
    k = min(6, max(n - 1, 0))  # shorter files: what exists, the edge sample itself not repeated
    expected = np.pad(x, ((k, k), (0, 0)), mode="reflect") if n else x
    np.testing.assert_array_equal(y, expected)
    assert (front, end) == (k, k + n)


def test_mirrored_edges_keep_1d_mono_blocks_1d():
    x = np.arange(10, dtype=np.float32)
    y, front, _ = padded(x, 3, 4)
    assert y.ndim == 1 and front == 3
    np.testing.assert_array_equal(y, np.pad(x, 3, mode="reflect"))


def test_zero_pad_passes_the_blocks_through_untouched():
    blocks = [np.ones((5, 2), np.float32), np.zeros((0, 2), np.float32), np.ones((3, 2), np.float64)]
    m = MirroredEdges(iter(blocks), 0)
    assert [b is c for b, c in zip(m, blocks)] == [True] * 3 and (m.front, m.end) == (0, 8)


def test_pad_is_the_model_window_at_the_file_rate(tiny_model):
    profile = OnnxModel.load(tiny_model, threads=1).profile  # n_fft 1024 at 44.1 kHz
    assert edge_pad(profile, 44100) == 1024
    assert edge_pad(profile, 48000) == 1115  # 1024 * 48000 / 44100 = 1114.6, rounded up
    assert edge_pad(profile, 44100, windows=2) == 2048


@pytest.fixture(scope="module")
def tiny(tiny_model):
    return OnnxModel.load(tiny_model, threads=1)


def run(model, x, rate, config, block):
    parts = list(separate_blocks(model, (x[i:i + block] for i in range(0, len(x), block)), rate, x.shape[1], config))
    if not parts:
        return x[:0].astype(np.float32), x[:0].astype(np.float32)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


CONFIGS = [OfflineConfig(), StreamConfig(), StreamConfig(2, 3, "low-delay")]


@pytest.mark.parametrize("config", CONFIGS, ids=["offline", "stream", "stream-low-delay"])
@pytest.mark.parametrize("n,channels,rate", [(1, 2, 44100), (2, 1, 44100), (700, 3, 44100), (1025, 2, 48000),
                                             (30011, 2, 44100), (20000, 1, 22050)])
def test_mirror_is_block_invariant_exact_length_and_sums_to_input(tiny, config, n, channels, rate):
    x = np.random.default_rng(n).uniform(-0.5, 0.5, (n, channels)).astype(np.float32)
    ref = run(tiny, x, rate, config, n)
    assert ref[0].shape == x.shape and ref[0].dtype == np.float32
    np.testing.assert_allclose(ref[0] + ref[1], x, atol=1e-6)
    if n > 500:
        assert np.abs(ref[0]).max() > 1e-3  # the untrained model passes something through
    for block in (1, 333, 4096, 65536) if n < 2000 else (333, 4096, 65536):
        v, a = run(tiny, x, rate, config, block)
        np.testing.assert_allclose(v, ref[0], atol=1e-6, err_msg=f"block {block}")
        np.testing.assert_allclose(a, ref[1], atol=1e-6, err_msg=f"block {block}")


def test_empty_file_gives_empty_stems(tiny):
    for config in CONFIGS:
        v, a = run(tiny, np.zeros((0, 2), np.float32), 44100, config, 10)
        assert v.shape == a.shape == (0, 2)


@pytest.mark.parametrize("config", CONFIGS[:2], ids=["offline", "stream"])
def test_mirror_changes_the_output_near_the_ends(tiny, config):
    # The model sees something else at the ends: the output there changes (and the live path's is "zero").
    x = np.random.default_rng(7).uniform(-0.5, 0.5, (60000, 2)).astype(np.float32)
    mirror = run(tiny, x, 44100, config, 65536)[0]
    zero = run(tiny, x, 44100, type(config)(**{**config.__dict__, "edges": "zero"}), 65536)[0]
    assert np.abs(mirror[:1024] - zero[:1024]).max() > 1e-3
    assert np.abs(mirror[-1024:] - zero[-1024:]).max() > 1e-3


def test_stream_mirror_equals_the_live_output_beyond_the_models_reach_of_the_start(tiny):
    # pad (1024 = 4 hops) is a whole number of strides (2): the model calls fall on the same frames as live,
    # so once the first window (128 frames) has passed, the output is the live stream's, sample for sample.
    sep = Separator(tiny)
    x = np.random.default_rng(8).uniform(-0.5, 0.5, (70000, 2)).astype(np.float32)
    zero = sep.separate(x, 44100, mode="stream", stride=2, lookahead=3, edges="zero")["vocals"]
    mirror = sep.separate(x, 44100, mode="stream", stride=2, lookahead=3)["vocals"]
    start, end = 130 * 256 + 1024, len(x) - 2 * 1024
    np.testing.assert_allclose(mirror[start:end], zero[start:end], atol=1e-6)


def test_edges_are_checked_and_defaults_agree():
    assert DEFAULT_EDGES in EDGES and OfflineConfig().edges == StreamConfig().edges == DEFAULT_EDGES
    with pytest.raises(UsageError, match="edges must be one of mirror, zero"):
        OfflineConfig(edges="reflect")
    with pytest.raises(UsageError, match="edges must be one of"):
        StreamConfig(edges=None)


def test_bad_blocks_are_refused_with_the_streams_message(tiny):
    blocks = [np.zeros((5000, 2), np.float32), np.zeros((100, 3), np.float32)]
    with pytest.raises(UsageError, match=r"block must have shape \(frames, 2\)"):
        list(separate_blocks(tiny, iter(blocks), 44100, 2, OfflineConfig()))
