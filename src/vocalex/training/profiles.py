"""STFT profiles a model can be trained for. One code path serves them all.

A profile fixes the model's input: sample rate, STFT, bins and frames. The
paper's setting (Jansson et al. 2017) is 8192 Hz, n_fft 1024, hop 768: 125 ms
of window alone, so it is not a live setting. The live profiles run at
44.1 kHz with a short window; the model's fixed 128 frames then cover less time.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StftProfile:
    name: str
    sample_rate: int
    n_fft: int
    hop_length: int
    n_bins: int
    n_frames: int = 128
    window: str = "hann"

    @property
    def window_ms(self) -> float:
        return 1000.0 * self.n_fft / self.sample_rate


PROFILES = {
    p.name: p
    for p in (
        StftProfile("paper", 8192, 1024, 768, 512),
        StftProfile("live1024", 44100, 1024, 256, 512),
        # The same STFT with the model's input cut at 11 kHz (256 bins), as Spleeter cuts at 11 kHz: half
        # the network's work; above 11 kHz the engine extends the mask (engine/stream.py, high_band_gain).
        StftProfile("live1024-11k", 44100, 1024, 256, 256),
        StftProfile("live2048", 44100, 2048, 512, 1024),
        # Spleeter's STFT (the hq model, `vocalex train --init hq`): 4096 / 1024, the lowest 1024 bins (0-11 kHz).
        StftProfile("spleeter4096", 44100, 4096, 1024, 1024),
    )
}


def get_profile(name: str) -> StftProfile:
    try:
        return PROFILES[name]
    except KeyError:
        from vocalex.engine.errors import UsageError

        raise UsageError(f"unknown profile {name!r}; choose one of: {', '.join(PROFILES)}") from None
