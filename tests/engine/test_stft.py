"""STFT analysis -> overlap-add synthesis with a unit mask reconstructs its input."""

import numpy as np
import pytest

from vocalex.base.errors import UsageError
from vocalex.engine.stft import OlaSynthesizer, StftAnalyzer, hann_periodic, overlap_weight


def _round_trip(x, n_fft, hop, block, max_frames=5):
    """x: float32 (n, channels) -> the synthesised stream, float32 (frames * hop, channels)."""
    channels = x.shape[1]
    analyzer = StftAnalyzer(n_fft, hop, channels, max_frames)
    synth = OlaSynthesizer(n_fft, hop, channels)
    spec = np.zeros((max_frames, channels, n_fft // 2 + 1), dtype=np.complex64)
    out = np.zeros((max_frames * hop, channels), dtype=np.float32)
    pieces = []
    for start in range(0, len(x), block):
        chunk = x[start:start + block]
        while len(chunk):
            used, frames = analyzer.push(chunk, spec)
            chunk = chunk[used:]
            if frames:
                synth.push(spec[:frames], out[: frames * hop])
                pieces.append(out[: frames * hop].copy())
    return np.concatenate(pieces)


def test_hann_overlap_weight_is_constant_1_5():
    weight = overlap_weight(hann_periodic(1024), 256)
    np.testing.assert_allclose(weight, 1.5, atol=1e-12)


@pytest.mark.parametrize("n_fft,hop,channels,block", [(1024, 256, 2, 1000), (1024, 256, 1, 1), (512, 192, 3, 77)])
def test_unit_mask_round_trip_reconstructs_input(n_fft, hop, channels, block):
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, size=(6000, channels)).astype(np.float32)
    y = _round_trip(x, n_fft, hop, block)
    delay = n_fft - hop
    assert len(y) == (len(x) // hop) * hop
    np.testing.assert_array_less(np.abs(y[:delay]), 1e-6)  # start-up: the zeros before the stream
    err = np.max(np.abs(y[delay:] - x[: len(y) - delay]))
    assert err < 1e-5, err


def test_round_trip_independent_of_block_size():
    x = np.random.default_rng(2).standard_normal((3000, 2)).astype(np.float32)
    ref = _round_trip(x, 1024, 256, 3000)
    for block in (1, 129, 256):
        np.testing.assert_array_equal(_round_trip(x, 1024, 256, block), ref)


def test_reset_forgets_previous_audio():
    x = np.random.default_rng(3).standard_normal((2048, 1)).astype(np.float32)
    analyzer = StftAnalyzer(1024, 256, 1, 8)
    spec_a = np.zeros((8, 1, 513), dtype=np.complex64)
    analyzer.push(x, spec_a)
    analyzer.reset()
    spec_b = np.zeros_like(spec_a)
    analyzer.push(x, spec_b)
    np.testing.assert_array_equal(spec_a, spec_b)


def test_bad_stft_arguments():
    with pytest.raises(UsageError, match="hop"):
        StftAnalyzer(1024, 1000, 1, 4)
    with pytest.raises(UsageError, match="n_fft"):
        OlaSynthesizer(1023, 256, 1)
    with pytest.raises(UsageError, match="channels"):
        OlaSynthesizer(1024, 256, 0)


def test_low_delay_pair_overlap_adds_to_one_within_two_hops():
    from vocalex.engine.stft import low_delay_windows

    analysis, synthesis, support = low_delay_windows(1024, 256)
    assert support == 512 and not synthesis[: 1024 - 512].any()
    np.testing.assert_allclose(overlap_weight(analysis, 256, synthesis), 1.0, atol=1e-12)
    assert analysis.max() <= 1.0 and synthesis.max() <= 1.0 + 1e-12  # no gain blown up where the analysis is small
