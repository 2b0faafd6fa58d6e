"""Shorter model windows in stream mode (StreamConfig.window): a dynamic-frames graph runs them, a fixed one is
refused with one line, and the bundled model's graph is its trained graph with only the frames axis named."""

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import soundfile as sf

import vocalex.engine

from vocalex.engine import Separator
from vocalex.engine.config import StreamConfig
from vocalex.base.errors import UsageError
from vocalex.engine.model import OnnxModel

pytest.importorskip("onnx")
from vocalex.export.onnx_export import with_dynamic_frames  # noqa: E402  (needs the onnx package)


def test_window_must_be_a_positive_frame_count_and_hold_the_stride():
    for bad in (0, -64, 64.0, True):
        with pytest.raises(UsageError, match="window"):
            StreamConfig(4, 0, window=bad)
    with pytest.raises(UsageError, match="lookahead must be in 0..4"):
        StreamConfig(4, 8, window=8).check(Separator.load().profile)


def test_a_fixed_frames_model_refuses_other_windows_before_any_audio(tiny_model):
    sep = Separator.load(tiny_model, threads=1)
    with pytest.raises(UsageError, match="cannot run 64-frame windows"):
        sep.stream(44100, 1, config=StreamConfig(4, 0, window=64))
    sep.stream(44100, 1, config=StreamConfig(4, 0, window=128))  # its own length is fine


def test_dynamic_copy_computes_what_the_original_computes_and_takes_shorter_windows(tiny_model, tmp_path):
    data = tiny_model.read_bytes()
    copy = tmp_path / "tiny-dynamic.onnx"
    copy.write_bytes(with_dynamic_frames(data, "untrained-tiny-dynamic"))
    model = OnnxModel.load(copy, threads=1)  # checksum re-stamped: it loads
    assert model.profile.model_version == "untrained-tiny-dynamic"
    x = np.random.default_rng(0).exponential(0.05, (1, 1, 512, 128)).astype(np.float32) ** 2
    options = ort.SessionOptions()
    original = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    np.testing.assert_array_equal(model.run(x[0]), original.run(None, {"magnitude": x})[0][0])
    assert model.run(x[0, :, :, :64]).shape == (1, 512, 64)
    sep = Separator(model)
    with pytest.raises(UsageError, match="cannot run 96-frame windows"):  # 6 stride-2 layers: multiples of 64
        sep.stream(44100, 1, config=StreamConfig(4, 0, window=96))


def test_bundled_model_streams_64_frame_windows_with_the_same_latency():
    sep = Separator.load(threads=1)
    demo = Path(vocalex.engine.__file__).parent / "assets" / "demo_lets_go_fishin_30s.ogg"
    x, rate = sf.read(demo, dtype="float32", frames=8 * 44100)  # music: a mask means something
    assert rate == 44100
    full = StreamConfig(4, 0, "low-delay")
    short = StreamConfig(4, 0, "low-delay", window=64)
    assert sep.latency(44100, short) == sep.latency(44100, full)
    a = sep.separate(x, 44100, config=full)
    b = sep.separate(x, 44100, config=short)
    np.testing.assert_allclose(b["vocals"] + b["accompaniment"], x, atol=1e-5)
    assert not np.allclose(a["vocals"], b["vocals"], atol=1e-4)  # less context: a different mask...
    assert np.corrcoef(a["vocals"].ravel(), b["vocals"].ravel())[0, 1] > 0.95  # ...of the same music
    with pytest.raises(UsageError, match="cannot run 96-frame windows"):
        sep.stream(44100, 2, config=StreamConfig(4, 0, window=96))
