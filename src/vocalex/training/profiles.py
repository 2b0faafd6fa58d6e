"""STFT profiles a model can be trained for. One code path serves them all.

A profile fixes the model's input: sample rate, STFT, bins and frames. The
paper's setting (Jansson et al. 2017) is 8192 Hz, n_fft 1024, hop 768: 125 ms
of window alone, so it is not a live setting. The live profiles run at
44.1 kHz with a short window; the model's fixed 128 frames then cover less time.

There is one profile type, the engine's :class:`~vocalex.engine.contract.ModelProfile`: a training profile
is one whose model facts (version, data, licence) are still placeholders, filled in at export
(:func:`vocalex.export.onnx_export.profile_for`).
"""

from __future__ import annotations

from dataclasses import fields

from vocalex.engine.contract import ModelProfile


def stft_profile(sample_rate: int, n_fft: int, hop_length: int, n_bins: int, n_frames: int = 128,
                 window: str = "hann") -> ModelProfile:
    """A training STFT setting as the engine's profile (a mask model of the vocals, not exported yet)."""
    return ModelProfile(sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length, window=window, n_bins=n_bins,
                        n_frames=n_frames, output="mask", target="vocals", model_version="untrained",
                        training_data="none", licence="unspecified")


PROFILES = {
    "paper": stft_profile(8192, 1024, 768, 512),
    "live1024": stft_profile(44100, 1024, 256, 512),
    # The same STFT with the model's input cut at 11 kHz (256 bins), as Spleeter cuts at 11 kHz: half
    # the network's work; above 11 kHz the engine extends the mask (engine/core.py, high_band_gain).
    "live1024-11k": stft_profile(44100, 1024, 256, 256),
    "live2048": stft_profile(44100, 2048, 512, 1024),
    # Spleeter's STFT (the hq model, `vocalex train --init hq`): 4096 / 1024, the lowest 1024 bins (0-11 kHz).
    "spleeter4096": stft_profile(44100, 4096, 1024, 1024),
}


def get_profile(name: str) -> ModelProfile:
    try:
        return PROFILES[name]
    except KeyError:
        from vocalex.base.errors import UsageError

        raise UsageError(f"unknown profile {name!r}; choose one of: {', '.join(PROFILES)}") from None


def profile_from_checkpoint(saved: dict) -> ModelProfile:
    """The profile a checkpoint saved: the ModelProfile fields it has (a checkpoint written before the
    profile types were merged saved name/sample_rate/n_fft/hop_length/n_bins/n_frames/window)."""
    stft = stft_profile(saved["sample_rate"], saved["n_fft"], saved["hop_length"], saved["n_bins"],
                        saved.get("n_frames", 128), saved.get("window", "hann"))
    known = {f.name for f in fields(ModelProfile)}
    return ModelProfile(**{**{f.name: getattr(stft, f.name) for f in fields(ModelProfile)},
                           **{k: v for k, v in saved.items() if k in known}})
