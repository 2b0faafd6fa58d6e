"""The U-Net of Jansson et al. (ISMIR 2017), with its widths as configuration.

Input: linear STFT magnitude (batch, channels, n_bins, n_frames). Output: a soft
mask of the same shape in [0, 1] (sigmoid). n_bins and n_frames must be divisible
by 2 ** depth (six stride-2 layers: 64).

``channels`` 1 is the paper's network: each audio channel is separated on its own.
``channels`` 2 is a stereo network (as Spleeter's): left and right enter as two
input planes and leave as two masks, so the network sees where a source sits in
the stereo image, and one call covers both channels at about half the cost of two
mono calls (only the first and last layers grow).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class UNetConfig:
    widths: tuple[int, ...] = (16, 32, 64, 128, 256, 512)
    kernel_size: int = 5
    leak: float = 0.2
    dropout: float = 0.5
    dropout_layers: int = 3   # dropout on the first three decoder layers, as in the paper
    channels: int = 1         # audio channels per example: 1 (mono network) or 2 (stereo network)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "UNetConfig":
        d = dict(d)
        d["widths"] = tuple(d["widths"])
        return cls(**d)


class UNet(nn.Module):
    def __init__(self, config: UNetConfig = UNetConfig()):
        super().__init__()
        self.config = config
        k, pad = config.kernel_size, config.kernel_size // 2
        # The network sees log-compressed magnitude: music spans ~100 dB, and a
        # log input makes the mask independent of overall level up to the
        # input batch norm's affine. The mask still multiplies the linear magnitude.
        if config.channels not in (1, 2):
            raise ValueError(f"channels must be 1 or 2, got {config.channels}")
        self.input_norm = nn.BatchNorm2d(config.channels)
        self.encoder = nn.ModuleList()
        channels = config.channels
        for width in config.widths:
            self.encoder.append(
                nn.Sequential(
                    nn.Conv2d(channels, width, k, stride=2, padding=pad),
                    nn.BatchNorm2d(width),
                    nn.LeakyReLU(config.leak),
                )
            )
            channels = width
        self.decoder = nn.ModuleList()
        reversed_widths = list(reversed(config.widths))
        outs = reversed_widths[1:] + [config.channels]
        for i, out in enumerate(outs):
            in_ch = reversed_widths[i] if i == 0 else reversed_widths[i] * 2
            last = i == len(outs) - 1
            layers = [nn.ConvTranspose2d(in_ch, out, k, stride=2, padding=pad, output_padding=1)]
            if not last:
                layers += [nn.BatchNorm2d(out), nn.ReLU()]
                if i < config.dropout_layers:
                    layers.append(nn.Dropout(config.dropout))
            self.decoder.append(nn.Sequential(*layers))

    @property
    def depth(self) -> int:
        return len(self.config.widths)

    def masks(self, magnitude: torch.Tensor) -> torch.Tensor:
        """magnitude (rows, n_bins, n_frames) -> masks (rows, n_bins, n_frames).

        Rows are audio channels; for a stereo network consecutive rows (0, 1),
        (2, 3), ... are the left and right of one example, so rows must be even.
        """
        rows, bins, frames = magnitude.shape
        c = self.config.channels
        if rows % c:
            raise ValueError(f"a {c}-channel network needs rows divisible by {c}, got {rows}")
        return self(magnitude.reshape(rows // c, c, bins, frames)).reshape(rows, bins, frames)

    def forward(self, magnitude: torch.Tensor) -> torch.Tensor:
        """magnitude (batch, channels, n_bins, n_frames) -> mask of the same shape."""
        x = self.input_norm(torch.log1p(magnitude))
        skips = []
        for layer in self.encoder:
            x = layer(x)
            skips.append(x)
        skips.pop()  # the bottleneck feeds the first decoder layer directly
        for i, layer in enumerate(self.decoder):
            if i > 0:
                x = torch.cat([x, skips.pop()], dim=1)
            x = layer(x)
        return torch.sigmoid(x)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
