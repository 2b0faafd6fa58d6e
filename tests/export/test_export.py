"""The export gate can fail: a graph that does not reproduce PyTorch is refused and leaves no file."""

from __future__ import annotations

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from vocalex.engine.contract import read_profile  # noqa: E402
from vocalex.engine.model import OnnxModel  # noqa: E402
from vocalex.export.onnx_export import ExportError, export_onnx, golden_path, profile_for  # noqa: E402
from vocalex.training.profiles import PROFILES  # noqa: E402
from vocalex.training.unet import UNet, UNetConfig  # noqa: E402

pytestmark = pytest.mark.torch

TINY = (4, 8, 16, 32, 64, 128)


def _profile():
    return profile_for(PROFILES["live1024"], model_version="t", training_data="none", licence="MIT")


class DriftingMask(torch.nn.Module):
    """Each call adds more: tracing freezes the first call's offset, so later PyTorch calls disagree."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return torch.sigmoid(x) * 0.5 + 0.01 * self.calls


def test_a_graph_that_differs_from_pytorch_is_refused_and_leaves_no_file(tmp_path):
    path = tmp_path / "bad.onnx"
    with pytest.raises(ExportError, match="disagrees"):
        export_onnx(DriftingMask(), _profile(), path)
    assert not path.exists() and not golden_path(path).exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file left either


def test_tolerance_zero_refuses_float_rounding(tmp_path):
    torch.manual_seed(0)
    with pytest.raises(ExportError):
        export_onnx(UNet(UNetConfig(widths=TINY)), _profile(), tmp_path / "m.onnx", tolerance=0.0)
    assert not (tmp_path / "m.onnx").exists()


def test_export_writes_a_self_describing_model_with_a_golden_pair(tmp_path):
    torch.manual_seed(0)
    net = UNet(UNetConfig(widths=TINY))
    old_umask = os.umask(0o022)
    try:
        report = export_onnx(net, _profile(), tmp_path / "m.onnx")
    finally:
        os.umask(old_umask)
    assert report["max_abs_error"] <= 1e-4
    assert (tmp_path / "m.onnx").stat().st_mode & 0o777 == 0o644  # readable by others, like any package file
    assert read_profile(tmp_path / "m.onnx") == _profile()
    golden = np.load(golden_path(tmp_path / "m.onnx"))
    mask = OnnxModel.load(tmp_path / "m.onnx").run(golden["input"][:, 0])
    np.testing.assert_allclose(mask, golden["output"][:, 0], atol=1e-5)
    assert net.training  # export worked on a copy: the caller puts its own module in eval mode
    with torch.no_grad():
        ref = net.eval()(torch.from_numpy(golden["input"])).numpy()
    np.testing.assert_allclose(golden["output"], ref, atol=1e-4)


def test_fp16_weights_halve_the_file_and_stay_close(tmp_path):
    torch.manual_seed(0)
    full = export_onnx(UNet(UNetConfig(widths=TINY)), _profile(), tmp_path / "f32.onnx")
    torch.manual_seed(0)
    half = export_onnx(UNet(UNetConfig(widths=TINY)), _profile(), tmp_path / "f16.onnx", fp16_weights=True,
                       tolerance=1e-3)
    assert half["bytes"] < 0.6 * full["bytes"]
    x = np.load(golden_path(tmp_path / "f32.onnx"))["input"][:, 0]
    a = OnnxModel.load(tmp_path / "f32.onnx").run(x)
    b = OnnxModel.load(tmp_path / "f16.onnx").run(x)
    assert np.max(np.abs(a - b)) < 0.05  # weight rounding moves the untrained mask a little, not wholesale


def test_export_leaves_the_callers_model_as_it_was(tmp_path):
    # A training loop exports mid-run: its module must stay in training mode with its fp32 weights.
    torch.manual_seed(0)
    net = UNet(UNetConfig(widths=TINY))
    net.train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    report = export_onnx(net, _profile(), tmp_path / "half.onnx", fp16_weights=True, tolerance=1e-3)
    assert net.training
    for key, value in net.state_dict().items():
        assert torch.equal(value, before[key]), key  # not rounded to fp16
    assert report["max_abs_error"] <= 1e-3
    from vocalex.engine.integrity import check_weights

    assert check_weights(tmp_path / "half.onnx") is not None  # stamped at export
