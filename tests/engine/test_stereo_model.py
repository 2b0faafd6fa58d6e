"""Stereo models: left and right enter the U-Net together, from training through export to the engine."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from vocalex.engine import Separator  # noqa: E402
from vocalex.base.errors import UsageError  # noqa: E402
from vocalex.engine.contract import read_channels  # noqa: E402
from vocalex.engine.model import OnnxModel  # noqa: E402
from vocalex.export.onnx_export import golden_path  # noqa: E402
from vocalex.training.unet import UNet, UNetConfig  # noqa: E402

pytestmark = pytest.mark.torch

TINY = (4, 8, 16, 32, 64, 128)
RATE = 44100


def _music(seconds, channels, seed=0):
    """float32 (frames, channels): a tone per channel plus noise, different in every channel."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    tones = np.stack([0.3 * np.sin(2 * np.pi * (220 + 110 * c) * t) for c in range(channels)], axis=1)
    return (tones + 0.05 * rng.standard_normal(tones.shape)).astype(np.float32)


def test_a_stereo_network_masks_each_channel_from_both():
    torch.manual_seed(0)
    net = UNet(UNetConfig(widths=TINY, channels=2)).eval()
    mono = UNet(UNetConfig(widths=TINY, channels=1)).eval()
    x = torch.rand(2, 512, 128)
    y = x.clone()
    y[1] *= 4.0  # change the right channel only
    with torch.no_grad():
        assert not torch.allclose(net.masks(x)[0], net.masks(y)[0])   # the left mask hears the right channel
        assert torch.allclose(mono.masks(x)[0], mono.masks(y)[0])     # a mono network never does
        with pytest.raises(ValueError, match="divisible by 2"):
            net.masks(torch.rand(3, 512, 128))


def test_the_exported_stereo_model_declares_two_channels_and_matches_its_golden_pair(tiny_stereo_model):
    model = OnnxModel.load(tiny_stereo_model)
    assert model.channels == 2 and model.describe()["channels"] == 2
    assert read_channels(tiny_stereo_model) == 2
    golden = np.load(golden_path(tiny_stereo_model))
    assert golden["input"].shape[1] == 2
    rows = golden["input"].reshape(-1, *golden["input"].shape[2:])  # (pairs, 2, F, T) -> rows, pairs adjacent
    np.testing.assert_allclose(model.run(rows), golden["output"].reshape(rows.shape), atol=1e-5)
    assert model.rows_for(1) == 2 and model.rows_for(3) == 4 and model.rows_for(2) == 2
    with pytest.raises(UsageError, match="even number of rows"):
        model.run(rows[:1])


@pytest.mark.parametrize("channels", [1, 2, 3])
@pytest.mark.parametrize("mode", ["offline", "stream"])
def test_the_engine_runs_a_stereo_model_on_any_channel_count(tiny_stereo_model, channels, mode):
    sep = Separator.load(str(tiny_stereo_model))
    x = _music(1.5, channels, seed=channels)
    stems = sep.separate(x, RATE, mode=mode)
    assert stems["vocals"].shape == x.shape
    np.testing.assert_allclose(stems["vocals"] + stems["accompaniment"], x, atol=1e-5)
    assert np.abs(stems["vocals"]).max() > 1e-3  # the untrained mask is not all zeros: something went through
    if channels == 3:
        # An odd channel is paired with a copy of itself, exactly as a mono file is.
        alone = sep.separate(x[:, 2].copy(), RATE, mode=mode)["vocals"]
        np.testing.assert_allclose(stems["vocals"][:, 2], alone, atol=1e-6)
    if channels == 2:
        # ... while a stereo pair is separated together: the left output depends on the right input.
        other = x.copy()
        other[:, 1] *= 0.25
        changed = sep.separate(other, RATE, mode=mode)["vocals"][:, 0]
        assert np.max(np.abs(changed - stems["vocals"][:, 0])) > 1e-4


def test_stereo_stream_output_does_not_depend_on_the_block_size(tiny_stereo_model):
    sep = Separator.load(str(tiny_stereo_model))
    x = _music(1.0, 2, seed=7)
    outs = []
    for block in (37, 1024):
        stream = sep.stream(RATE, 2)
        pieces = [stream.process(x[i:i + block])["vocals"] for i in range(0, len(x), block)]
        outs.append(np.concatenate(pieces + [stream.flush()["vocals"]]))
    np.testing.assert_array_equal(outs[0], outs[1])
