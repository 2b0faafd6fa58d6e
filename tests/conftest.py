"""Shared fixtures: untrained U-Nets exported through the real export gate.

Until a trained default model is bundled, the engine's tests run on these.
``tiny_model`` has narrow widths so streaming tests stay fast; ``paper_model``
has the paper's widths (9.8 M parameters) for the contract tests.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


def _export(tmp_path_factory, name, widths, profile_name="live1024", channels=1):
    from vocalex.export.onnx_export import export_onnx, profile_for
    from vocalex.training.profiles import PROFILES
    from vocalex.training.unet import UNet, UNetConfig

    torch.manual_seed(0)
    net = UNet(UNetConfig(widths=widths, channels=channels))
    profile = profile_for(
        PROFILES[profile_name], model_version=f"untrained-{name}", training_data="none (untrained test model)", licence="MIT"
    )
    path = tmp_path_factory.mktemp("models") / f"{name}.onnx"
    export_onnx(net, profile, path)
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """An untrained U-Net (widths 4..128) for the live1024 profile, exported and verified."""
    return _export(tmp_path_factory, "tiny", (4, 8, 16, 32, 64, 128))


@pytest.fixture(scope="session")
def paper_model(tmp_path_factory):
    """An untrained U-Net with the paper's widths (16..512) for the live1024 profile."""
    return _export(tmp_path_factory, "paper", (16, 32, 64, 128, 256, 512))


@pytest.fixture(scope="session")
def tiny_stereo_model(tmp_path_factory):
    """An untrained stereo U-Net (2 input planes, 2 masks; widths 4..128), live1024, exported and verified."""
    return _export(tmp_path_factory, "tiny-stereo", (4, 8, 16, 32, 64, 128), channels=2)
