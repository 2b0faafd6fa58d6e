"""Separation metrics.

``sdr`` is the plain signal-to-distortion ratio used by MDX and Demucs ("new SDR"):
10 log10(|s|^2 / |s - s_hat|^2) over the whole track, all channels together.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-10  # keeps silent references / perfect estimates finite, as the MDX challenge does


def sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """SDR in dB of ``estimate`` against ``reference``, both (frames,) or (frames, channels).

    The two must have the same shape; no scaling or time shift is allowed
    (unlike BSSEval), so a misaligned or rescaled estimate is penalised.
    """
    reference = np.asarray(reference, dtype=np.float64)
    estimate = np.asarray(estimate, dtype=np.float64)
    if reference.shape != estimate.shape:
        raise ValueError(f"reference {reference.shape} and estimate {estimate.shape} differ in shape")
    num = np.sum(reference**2) + EPS
    den = np.sum((reference - estimate) ** 2) + EPS
    return float(10.0 * np.log10(num / den))


def aggregate(values) -> dict:
    """Median and mean of per-track scores, ignoring NaN (a track with a silent stem).

    values: iterable of floats -> {"median": float|None, "mean": float|None, "n": int}.
    The median is what the field reports (SiSEC, MDX); the mean is given too
    because it moves with every track.
    """
    arr = np.asarray([v for v in values if v is not None], dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return {"median": None, "mean": None, "n": 0}
    return {"median": float(np.median(arr)), "mean": float(np.mean(arr)), "n": int(arr.size)}


def museval_available() -> bool:
    """True when museval (BSSEval v4) can be imported."""
    try:
        import museval  # noqa: F401
    except ImportError:
        return False
    return True


def bsseval_v4(references: dict, estimates: dict, sample_rate: int, window_s: float = 1.0) -> dict:
    """BSSEval v4 (museval) scores per stem, median over 1 s windows, as SiSEC 2018 reports them.

    references, estimates: {stem: (frames, channels) or (frames,)} with the same
    stems and shapes. Returns {stem: {"SDR", "SIR", "ISR", "SAR"}} in dB; a
    metric is None when every window of that stem is silent (museval gives
    NaN for windows where the reference is silent, and those are skipped).
    Raises ImportError when museval is not installed.
    """
    import museval

    stems = sorted(references)
    if sorted(estimates) != stems:
        raise ValueError(f"estimates {sorted(estimates)} and references {stems} name different stems")
    ref = np.stack([_as_2d(references[s]) for s in stems]).astype(np.float64)
    est = np.stack([_as_2d(estimates[s]) for s in stems]).astype(np.float64)
    if ref.shape != est.shape:
        raise ValueError(f"references {ref.shape} and estimates {est.shape} differ in shape")
    audible = [i for i in range(len(stems)) if not _museval_silent(ref[i])]
    if len(audible) < len(stems):
        # museval refuses a silent reference (every window of it would be skipped anyway):
        # score the audible stems alone and give the silent one no value.
        out = {stems[i]: {name: None for name in ("SDR", "SIR", "ISR", "SAR")} for i in range(len(stems)) if i not in audible}
        if audible:
            out.update(bsseval_v4({stems[i]: ref[i] for i in audible}, {stems[i]: est[i] for i in audible}, sample_rate, window_s))
        return out
    for i in range(len(est)):
        if _museval_silent(est[i]):
            # museval also refuses a "silent" estimate, and its test is that the channels sum to
            # zero at every sample: an all-zero estimate, but also centre cancellation's (s, -s)
            # accompaniment. A dither far below any signal lets museval score it as it is.
            est[i] = est[i] + 1e-9 * np.random.default_rng(i).standard_normal(est[i].shape)
    win = int(round(window_s * sample_rate))
    sdr_w, isr_w, sir_w, sar_w = museval.evaluate(ref, est, win=win, hop=win)
    out = {}
    for i, stem in enumerate(stems):
        out[stem] = {name: _nanmedian_or_none(w[i]) for name, w in (("SDR", sdr_w), ("SIR", sir_w), ("ISR", isr_w), ("SAR", sar_w))}
    return out


def _museval_silent(x: np.ndarray) -> bool:
    """museval's own silence test: (frames, channels) whose channel sum is zero at every sample."""
    return bool(np.all(np.sum(x, axis=-1) == 0))


def _as_2d(x: np.ndarray) -> np.ndarray:
    """(frames,) or (frames, channels) -> (frames, channels)."""
    x = np.asarray(x)
    return x[:, None] if x.ndim == 1 else x


MUSEVAL_CAP_DB = 300.0  # an exact estimate gives +inf in a window; JSON has no inf, and 300 dB reads as "exact"


def _nanmedian_or_none(values: np.ndarray):
    """Median over windows, skipping NaN (silent windows); +-inf (exact / null estimates) capped."""
    values = np.asarray(values, dtype=np.float64)
    values = np.clip(values[~np.isnan(values)], -MUSEVAL_CAP_DB, MUSEVAL_CAP_DB)
    return float(np.median(values)) if values.size else None
