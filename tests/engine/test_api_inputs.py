"""The Python API takes what libraries hand a new user (issue 24): sample_rate=44100.0 (an integral float) and
int16 / int32 PCM arrays, scaled as soundfile reads them."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from vocalex.base.errors import UsageError
from vocalex.engine import Separator

RATE = 44100


@pytest.fixture(scope="module")
def separator(tiny_stereo_model):
    return Separator.load(str(tiny_stereo_model))


def test_api_accepts_a_whole_float_rate_and_refuses_a_fractional_one(separator):
    audio = np.random.default_rng(0).normal(0, 0.1, (RATE // 2, 2)).astype(np.float32)
    want = separator.separate(audio, RATE)
    got = separator.separate(audio, float(RATE))
    np.testing.assert_array_equal(got["vocals"], want["vocals"])
    assert separator.latency(44100.0) == separator.latency(RATE)
    assert separator.stream(np.float64(RATE)).sample_rate == RATE
    with pytest.raises(UsageError, match="whole number"):
        separator.separate(audio, 44100.5)


@pytest.mark.parametrize("dtype", ["int16", "int32"])
def test_api_scales_integer_pcm_as_soundfile_reads_it(separator, tmp_path, dtype):
    audio = np.random.default_rng(1).normal(0, 0.1, (RATE // 2, 2)).astype(np.float32)
    sf.write(tmp_path / "x.wav", audio, RATE, subtype="PCM_16" if dtype == "int16" else "PCM_32")
    as_int, _ = sf.read(tmp_path / "x.wav", dtype=dtype)
    as_float, _ = sf.read(tmp_path / "x.wav", dtype="float32")
    got = separator.separate(as_int, RATE)
    want = separator.separate(as_float, RATE)
    np.testing.assert_allclose(got["vocals"], want["vocals"], atol=1e-6)
    np.testing.assert_allclose(got["vocals"] + got["accompaniment"], as_float, atol=1e-5)
    with pytest.raises(UsageError, match="int16 or int32"):
        separator.separate(as_int.astype(np.uint8), RATE)
