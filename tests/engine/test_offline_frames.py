"""Longer offline windows: a dynamic-frames model's ``vocalex.offline_frames`` in the contract and in offline mode."""

import numpy as np
import onnx
import pytest

from vocalex.base.errors import ModelError
from vocalex.engine.contract import OFFLINE_FRAMES_KEY, ModelProfile, offline_frames_of
from vocalex.engine.model import OnnxModel
from vocalex.engine.offline import LONG_WINDOW_CONTEXT, OFFLINE_CONTEXT, offline_context, offline_geometry
from vocalex.engine.config import OfflineConfig, StreamConfig
from vocalex.engine.separator import separate_blocks

PROFILE = ModelProfile(44100, 1024, 256, "hann", 512, 128, "mask", "vocals", "stub", "none", "MIT")


class LongWindowStub:
    """A dynamic-frames stub: ones only in the columns a ``frames``-long offline window may emit; records call widths."""

    profile = PROFILE
    channels = 1  # each audio channel is an example of its own (as OnnxModel.channels)

    def __init__(self, frames: int):
        self.offline_frames = frames
        self.widths = set()
        context = offline_context(frames)
        self._mask = np.zeros((512, frames), np.float32)
        self._mask[:, context:frames - context] = 1.0

    def run(self, mag):
        self.widths.add(mag.shape[-1])
        if mag.shape[-1] != self.offline_frames:  # stream mode's windows: any mask will do
            return np.zeros_like(mag)
        return np.broadcast_to(self._mask, mag.shape).copy()


def test_geometry_of_long_windows():
    assert offline_geometry(PROFILE) == (128 - 2 * OFFLINE_CONTEXT, OFFLINE_CONTEXT)
    assert offline_geometry(PROFILE, n_frames=512) == (512 - 2 * LONG_WINDOW_CONTEXT, LONG_WINDOW_CONTEXT)


@pytest.mark.parametrize("n", [1, 300, 3 * 44100 + 77])
def test_offline_mode_runs_the_models_offline_window_and_its_centre_columns(n):
    # A mask of ones only in the centre columns of a 512-frame window: the output equals the input only if
    # every frame took its mask from there, and every call must have been 512 frames wide.
    model = LongWindowStub(512)
    x = np.random.default_rng(n).uniform(-0.5, 0.5, (n, 2)).astype(np.float32)
    parts = list(separate_blocks(model, (x[i:i + 4096] for i in range(0, n, 4096)), 44100, 2, OfflineConfig()))
    v = np.concatenate([p[0] for p in parts])
    assert model.widths == {512}
    np.testing.assert_allclose(v, x, atol=1e-5)


def test_stream_mode_keeps_the_contract_window():
    model = LongWindowStub(512)
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (44100, 2)).astype(np.float32)
    list(separate_blocks(model, [x], 44100, 2, StreamConfig()))
    assert model.widths == {128}


@pytest.mark.parametrize("raw,dynamic,expected", [
    (None, False, 128), (None, True, 128), ("512", True, 512), ("128", False, 128),
    ("512", False, "dynamic frames axis"), ("64", True, "shorter than n_frames"), ("lots", True, "not an integer"),
])
def test_offline_frames_metadata_is_checked(raw, dynamic, expected):
    meta = {} if raw is None else {OFFLINE_FRAMES_KEY: raw}
    if isinstance(expected, int):
        assert offline_frames_of(meta, PROFILE, dynamic) == expected
    else:
        with pytest.raises(ModelError, match=expected):
            offline_frames_of(meta, PROFILE, dynamic)


def test_a_fixed_graph_naming_a_longer_offline_window_is_refused(tiny_model, tmp_path):
    proto = onnx.load(str(tiny_model))
    entry = proto.metadata_props.add()
    entry.key, entry.value = OFFLINE_FRAMES_KEY, "512"
    path = tmp_path / "fixed-512.onnx"
    onnx.save(proto, str(path))
    with pytest.raises(ModelError, match="needs a dynamic frames axis"):
        OnnxModel.load(path)
    assert OnnxModel.load(tiny_model).offline_frames == 128  # no key: the contract window


@pytest.mark.torch
def test_dynamic_frames_export_runs_both_windows(tmp_path):
    torch = pytest.importorskip("torch")
    from vocalex.export.onnx_export import export_onnx, profile_for
    from vocalex.training.profiles import PROFILES
    from vocalex.training.unet import UNet, UNetConfig

    torch.manual_seed(0)
    net = UNet(UNetConfig(widths=(4, 8, 16, 32, 64, 128), channels=2)).eval()
    profile = profile_for(PROFILES["live1024"], model_version="untrained-dynamic", training_data="none", licence="MIT")
    path = tmp_path / "dynamic.onnx"
    export_onnx(net, profile, path, extra_metadata={OFFLINE_FRAMES_KEY: "512"}, dynamic_frames=True, check_frames=(512,))
    model = OnnxModel.load(path, threads=1)
    assert (model.profile.n_frames, model.offline_frames, model.channels) == (128, 512, 2)
    x = np.random.default_rng(0).random((2, profile.n_bins, 512), dtype=np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x[None])).numpy()[0]
    np.testing.assert_allclose(model.run(x), ref, atol=1e-4)
    np.testing.assert_allclose(model.run(x[:, :, :128]).shape, (2, profile.n_bins, 128))
    # The offline mode of a real file runs, is exact-length and its stems sum to the input.
    audio = np.random.default_rng(1).uniform(-0.5, 0.5, (44100 * 2, 2)).astype(np.float32)
    parts = list(separate_blocks(model, [audio], 44100, 2, OfflineConfig()))
    v, a = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    assert v.shape == audio.shape and np.abs(v).max() > 1e-3
    np.testing.assert_allclose(v + a, audio, atol=1e-6)
