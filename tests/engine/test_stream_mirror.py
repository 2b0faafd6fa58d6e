"""Mirrored window ends in stream mode (StreamConfig.mirror): what the model sees, and what does not change."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import vocalex.engine
from vocalex.engine import Separator
from vocalex.engine.config import StreamConfig
from vocalex.base.errors import UsageError

DEMO = Path(vocalex.engine.__file__).parent / "assets" / "demo_lets_go_fishin_30s.ogg"


class SpyModel:
    """The loaded model, recording every batch it is run on."""

    def __init__(self, model):
        self._model = model
        self.batches = []

    def __getattr__(self, name):
        return getattr(self._model, name)

    def run(self, x):
        self.batches.append(np.array(x))
        return self._model.run(x)


def _music(seconds=2.0):
    x, rate = sf.read(DEMO, dtype="float32", start=5 * 44100, frames=int(seconds * 44100))
    return x, rate


def test_the_model_sees_the_newest_frames_mirrored_past_the_window_end():
    spy = SpyModel(Separator.load("hq-vocals", threads=1).model)
    mirror, window = 4, 64
    x, rate = _music()
    Separator(spy).separate(x, rate, config=StreamConfig(1, 1, "low-delay", window=window, mirror=mirror, edges="zero"))
    assert spy.batches and all(b.shape[-1] == window for b in spy.batches)
    real = window - mirror
    for b in spy.batches[20:]:
        # columns real, real+1, ... hold frames real-2, real-3, ...: the newest frame (real-1) is the mirror's axis
        np.testing.assert_array_equal(b[..., real:], b[..., real - 2:real - 2 - mirror:-1])
    # ... and the real columns are the same frames a window of `real` frames would hold
    plain = SpyModel(spy._model)
    Separator(plain).separate(x, rate, config=StreamConfig(1, 1, "low-delay", window=window, edges="zero"))
    np.testing.assert_array_equal(spy.batches[40][..., :real], plain.batches[40][..., mirror:])


def test_mirror_changes_the_output_not_the_latency_and_is_block_size_invariant():
    sep = Separator.load("hq-vocals", threads=1)
    x, rate = _music(1.5)
    # edges "zero": a file's stream-mode separation equals the live stream only without mirrored file ends
    plain = StreamConfig(1, 1, "low-delay", window=64, edges="zero")
    mirrored = StreamConfig(1, 1, "low-delay", window=64, mirror=4, edges="zero")
    assert sep.latency(rate, mirrored) == sep.latency(rate, plain)
    a = sep.separate(x, rate, config=mirrored)["vocals"]
    assert not np.allclose(a, sep.separate(x, rate, config=plain)["vocals"])
    for block in (1000, 4097):
        stream = sep.stream(rate, 2, config=mirrored)
        out = [stream.process(x[i:i + block])["vocals"] for i in range(0, len(x), block)] + [stream.flush()["vocals"]]
        np.testing.assert_allclose(np.concatenate(out)[stream.latency:], a, atol=1e-6)


def test_mirror_must_leave_real_frames_for_the_stride_and_lookahead():
    profile = Separator.load("hq-vocals", threads=1).profile
    StreamConfig(1, 1, window=64, mirror=31).check(profile)
    with pytest.raises(UsageError, match=r"mirror must be in 0\.\.31 frames"):
        StreamConfig(1, 1, window=64, mirror=32).check(profile)
    with pytest.raises(UsageError, match=r"mirror must be in 0\.\.2 frames"):
        StreamConfig(60, 2, window=64, mirror=3).check(profile)
    with pytest.raises(UsageError, match="mirror must be an integer"):
        StreamConfig(1, 1, window=64, mirror=1.5)
