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
