"""Training a stereo network: left and right enter the U-Net together, checkpointed and resumed as such
(tests/engine/test_stereo_model.py follows a stereo model through export to the engine)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from test_training_loop import _dataset  # noqa: E402  (this folder's generated songs)

pytestmark = pytest.mark.torch

TINY = (4, 8, 16, 32, 64, 128)


def test_training_a_stereo_11k_network_checkpoints_and_resumes_as_such(tmp_path):
    from vocalex.training.checkpoints import load_checkpoint, model_from_checkpoint
    from vocalex.training.config import TrainConfig
    from vocalex.training.train import train

    data = _dataset(tmp_path / "data")
    cfg = dict(data=[str(data)], out=str(tmp_path / "run"), widths=TINY, batch_size=4, valid_every=2,
               valid_modes=("offline",), cache=str(tmp_path / "cache"), threads=1, checkpoint_every=1)
    # On the bundled model's profile: 256 input bins (0-11 kHz), full-band output from the engine.
    first = train(TrainConfig(steps=2, channels=2, profile="live1024-11k", **cfg), quiet=True)
    assert first["step"] == 2 and np.isfinite(first["best"])   # validated through the engine as a stereo model
    second = train(TrainConfig(steps=3, **cfg), resume="auto", quiet=True)  # channels come from the checkpoint
    assert second["step"] == 3
    ckpt = load_checkpoint(tmp_path / "run" / "last.pt")
    assert ckpt["unet"]["channels"] == 2 and model_from_checkpoint(ckpt).config.channels == 2
    assert ckpt["profile"]["n_bins"] == 256
