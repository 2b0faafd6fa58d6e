"""Multichannel Wiener filtering of the model's estimates (offline mode, opt-in), through ``norbert``.

The U-Net gives a soft mask per channel; vocals = mask x mixture treats every
channel and every time-frequency bin on its own. A multichannel Wiener filter
(Nugraha, Liutkus & Vincent 2016; the post-processing of open-unmix and of
Spleeter's "MWF" variant) instead models each source j at bin (t, f) as a
zero-mean complex Gaussian with covariance v_j(t, f) R_j(f): a power spectral
density from the model (v_vocals = (mask |X|)^2, v_accompaniment = ((1 - mask) |X|)^2,
averaged over channels) times a spatial covariance matrix R_j(f) per frequency
that says where the source sits in the stereo image. The vocals are then
v_voc R_voc (v_voc R_voc + v_acc R_acc)^-1 x, which uses the inter-channel
correlation the plain mask ignores, and the power (not magnitude) ratio.

The filter itself is norbert's (``norbert.wiener``, MIT, the library open-unmix
uses): one EM iteration from the model's magnitudes with the mixture phase
(``use_softmask=False``), the setting open-unmix ships. R_j(f) is estimated
over the frames handed in at once: the engine passes the frames of one model
call (see :class:`vocalex.engine.stream.MaskingCore`), so memory stays bounded
and the result does not depend on how the input was cut into blocks.
"""

from __future__ import annotations

import numpy as np

WIENER_ITERATIONS = 1   # EM iterations: open-unmix's default (niter=1); not tuned on our clips


def wiener_vocals(mixture: np.ndarray, masked: np.ndarray, iterations: int = WIENER_ITERATIONS) -> np.ndarray:
    """The vocals STFT after multichannel Wiener filtering.

    mixture: complex (frames, channels, n_freqs), the mixture STFT of every channel.
    masked: complex (frames, channels, n_freqs), mask x mixture (the plain estimate;
    its magnitude is the vocals magnitude estimate, |mixture| - |masked| the
    accompaniment's, so the mask must lie in [0, 1]).
    Returns complex64 (frames, channels, n_freqs). Frames that are all zero stay zero.
    The accompaniment is the mixture minus this (the engine's guarantee
    vocals + accompaniment = input is kept by the caller, not by the filter,
    whose regularisation makes its two outputs sum to the mixture only approximately).
    """
    import norbert

    if mixture.shape != masked.shape or mixture.ndim != 3:
        raise ValueError(f"mixture {mixture.shape} and masked {masked.shape} must be equal (frames, channels, n_freqs)")
    if not len(mixture):
        return np.zeros(mixture.shape, dtype=np.complex64)
    # norbert's layout is (frames, bins, channels[, sources]); double precision as its docs advise.
    x = np.ascontiguousarray(mixture.transpose(0, 2, 1), dtype=np.complex128)
    mag_x = np.abs(x)
    mag_v = np.minimum(np.abs(masked.transpose(0, 2, 1)).astype(np.float64), mag_x)
    v = np.stack([mag_v, mag_x - mag_v], axis=-1)
    y = norbert.wiener(v, x, iterations=iterations, use_softmask=False)  # x is scaled in place: it is our copy
    return np.ascontiguousarray(y[..., 0].transpose(0, 2, 1), dtype=np.complex64)
