"""Spectrogram front end and the training loss.

The STFT here frames audio exactly as the engine does (engine/stft.py): no
centering, periodic Hann, frame k covers samples [k*hop, k*hop + n_fft) of a
crop, so a crop of (n_frames - 1) * hop + n_fft samples gives n_frames frames.

Loss: the paper's L1 between mask * mixture magnitude and the target magnitude,
normalised per example by the mean mixture magnitude (so quiet and loud
crops weigh alike). The streaming-aware option mixes in the same L1 over the
frames that the live engine actually outputs: with stride s and lookahead L,
the engine keeps the masks of the window's frames T-L-s .. T-L-1
(vocalex.engine.config.stream_output_frames, the one statement of that rule). Those frames see
little or no future context, so without extra weight the model is trained
mostly where streaming never uses it.
"""

from __future__ import annotations

import torch

from vocalex.engine.config import stream_output_frames
from vocalex.engine.contract import ModelProfile


def crop_samples(profile: ModelProfile) -> int:
    """Samples of audio that give exactly n_frames STFT frames."""
    return (profile.n_frames - 1) * profile.hop_length + profile.n_fft


def magnitude(audio: torch.Tensor, profile: ModelProfile) -> torch.Tensor:
    """audio (batch, samples) float32 -> magnitude (batch, n_bins, frames) of the lowest n_bins bins."""
    window = torch.hann_window(profile.n_fft, periodic=True, device=audio.device, dtype=audio.dtype)
    spec = torch.stft(audio, profile.n_fft, profile.hop_length, window=window, center=False, return_complex=True)
    return spec.abs()[:, : profile.n_bins]


def masked_l1(mask: torch.Tensor, mix: torch.Tensor, target: torch.Tensor, *, stream_weight: float = 0.0,
              stride: int = 4, lookahead: int = 0) -> torch.Tensor:
    """mask, mix, target (batch, n_bins, n_frames) -> scalar loss.

    (1 - stream_weight) * L1 over all frames + stream_weight * L1 over the
    streaming output frames, each per example divided by the mean mixture magnitude.
    """
    if not 0.0 <= stream_weight <= 1.0:
        raise ValueError(f"stream_weight must be in [0, 1], got {stream_weight}")
    scale = mix.mean(dim=(1, 2), keepdim=True) + 1e-4
    err = (mask * mix - target).abs() / scale
    loss = err.mean()
    if stream_weight > 0:
        edge = err[:, :, stream_output_frames(err.shape[-1], stride, lookahead)].mean()
        loss = (1.0 - stream_weight) * loss + stream_weight * edge
    return loss
