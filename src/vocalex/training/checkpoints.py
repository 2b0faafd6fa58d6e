"""Checkpoints of a training run: what one holds (weights, their moving average, optimizer, samplers' state, the
config), writing one atomically, reading one back, and the network it describes."""

from __future__ import annotations

import copy
import os
from dataclasses import asdict
from pathlib import Path

import torch

from vocalex.base.errors import MissingPackageError, ModelError, UsageError

from .config import TrainConfig
from .profiles import PROFILES
from .unet import UNet, UNetConfig

CHECKPOINT_VERSION = 1


class WeightAverage:
    """Exponential moving average of a model's parameters and buffers.

    Small batches on a small data set make the raw weights jump from step to
    step; the average is what gets validated and exported. The decay ramps up
    as (1 + n) / (10 + n) so an early average is not dominated by the initial weights.
    """

    def __init__(self, model, decay: float, state: dict | None = None, updates: int = 0):
        self.decay, self.updates = decay, updates
        self.state = {k: v.detach().clone() for k, v in (state or model.state_dict()).items()}

    @torch.no_grad()
    def update(self, model) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for k, v in model.state_dict().items():
            if v.dtype.is_floating_point:
                self.state[k].mul_(d).add_(v.detach(), alpha=1 - d)
            else:
                self.state[k].copy_(v)

    def model(self, like):
        """A copy of ``like`` holding the averaged weights."""
        m = copy.deepcopy(like)
        m.load_state_dict(self.state)
        return m


def save_checkpoint(path: Path, model, optimizer, step: int, cfg: TrainConfig, sampler, best: float | None,
                    average: WeightAverage | None = None) -> None:
    state = {
        "version": CHECKPOINT_VERSION,
        "model": model.state_dict(),
        "ema": average.state if average is not None else None,
        "ema_updates": average.updates if average is not None else 0,
        "optimizer": optimizer.state_dict(),
        "step": step,
        "config": asdict(cfg),
        "unet": model.config.to_dict(),
        "arch": getattr(model, "arch", "unet"),
        "profile": asdict(PROFILES[cfg.profile]),
        "sampler_rng": sampler.rng.bit_generator.state,
        "torch_rng": torch.get_rng_state(),
        "best": best,
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # a run stopped mid-write never leaves a broken checkpoint


def load_checkpoint(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(f"{path} is not a vocalex checkpoint ({type(exc).__name__})") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "unet" not in ckpt:
        raise ModelError(f"{path} is not a vocalex checkpoint (no model/unet entries)")
    return ckpt


def build_network(cfg: TrainConfig):
    """A fresh vocalex U-Net per ``cfg``, or for ``--init hq`` Spleeter's pretrained pair (export/spleeter_hq.py)."""
    if cfg.init == "hq":
        try:
            from vocalex.export.spleeter_hq import build_module
        except ModuleNotFoundError as exc:
            raise MissingPackageError(f"`init` hq needs the package {exc.name!r}: pip install 'vocalex[hq]'") from None
        return build_module()
    return UNet(UNetConfig(widths=cfg.widths, channels=cfg.channels))


def model_from_checkpoint(ckpt: dict, average: bool = True):
    """The network of a checkpoint: its weight average if it has one (and ``average``), else the raw weights."""
    if ckpt.get("arch", "unet") == "spleeter2stems":
        from vocalex.export.spleeter_hq import untrained_module

        model = untrained_module()
    else:
        model = UNet(UNetConfig.from_dict(ckpt["unet"]))
    model.load_state_dict(ckpt["ema"] if average and ckpt.get("ema") is not None else ckpt["model"])
    return model.eval()
