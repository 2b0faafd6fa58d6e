"""Export the untrained test models in tests/models/ through the real export gate (needs torch).

    python3 tests/make_test_models.py

The engine's tests run on these files, so they need no torch; tests/export/test_test_models.py
re-exports them and checks the files still are what this script makes.
"""

from __future__ import annotations

import sys
from pathlib import Path

MODELS = Path(__file__).resolve().parent / "models"
# name -> (encoder widths, channels per example); live1024 profile, seed 0
SPECS = {
    "tiny": ((4, 8, 16, 32, 64, 128), 1),
    "tiny-stereo": ((4, 8, 16, 32, 64, 128), 2),
}


def export(name: str, path: Path, widths=None, channels=None, profile_name: str = "live1024") -> Path:
    """Export the untrained U-Net ``name`` (seeded, so the same weights every time) to ``path``."""
    import torch

    from vocalex.export.onnx_export import export_onnx, profile_for
    from vocalex.training.profiles import PROFILES
    from vocalex.training.unet import UNet, UNetConfig

    if widths is None:
        widths, channels = SPECS[name]
    torch.manual_seed(0)
    net = UNet(UNetConfig(widths=widths, channels=channels))
    profile = profile_for(PROFILES[profile_name], model_version=f"untrained-{name}",
                          training_data="none (untrained test model)", licence="MIT")
    export_onnx(net, profile, path)
    return path


def main() -> int:
    MODELS.mkdir(exist_ok=True)
    for name in SPECS:
        path = export(name, MODELS / f"{name}.onnx")
        # the golden pair stays beside the model: the engine's tests check a model against it without torch
        print(f"wrote {path} and {path.with_suffix('.golden.npz').name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
