"""Multichannel Wiener filtering of the model's estimates (offline mode, opt-in), through ``norbert``.

The U-Net gives a soft mask per channel; vocals = mask x mixture treats every
channel and every time-frequency bin on its own. A multichannel Wiener filter
(Nugraha, Liutkus & Vincent 2016; the post-processing of open-unmix and of
Spleeter's "MWF" variant) models each source j at bin (t, f) as a zero-mean
complex Gaussian with covariance v_j(t, f) R_j(f): a power spectral density
times a spatial covariance matrix per frequency that says where the source sits
in the stereo image. The vocals are v_voc R_voc (v_voc R_voc + v_acc R_acc)^-1 x,
which uses the inter-channel correlation the plain mask ignores.

The power spectral densities are v_voc = mask |X|^2 and v_acc = (1 - mask) |X|^2,
so that for a single channel (or identical spatial covariances) the filter gives
back exactly the model's own mask: the model's mask is a ratio mask already
(trained so that mask x |X| matches the target magnitude). This is what Spleeter's
MWF does with its masks (its PSDs m_j^2 |X|^2 give back its ratio mask
m_v^2 / (m_v^2 + m_a^2) in one channel). The other common choice, PSDs
(mask |X|)^2 as open-unmix feeds its magnitude estimates, sharpens the mask on
top of the spatial model: on 20 MUSDB18 *training* clips with the bundled model it
lost 0.25 dB vocals SDR (median), while the PSDs used here changed it by +0.01 dB
(not tuned on the validation clips the README reports).

The filter itself is norbert's (``norbert.wiener``, MIT, the library open-unmix
uses) with one EM iteration (open-unmix's default; two lost 0.5 dB on the same
training clips with the sharpening PSDs). R_j(f) is estimated over the frames
handed in at once: the engine passes the frames of one model call (see
:class:`vocalex.engine.core.MaskingCore`), so memory stays bounded and the
result does not depend on how the input was cut into blocks.
"""

from __future__ import annotations

import numpy as np

WIENER_ITERATIONS = 1   # EM iterations: open-unmix's default (niter=1); not tuned on our clips


def require() -> None:
    """Raise MissingPackageError (exit 10) unless norbert is installed: the filter is an extra, not the runtime."""
    try:
        import norbert  # noqa: F401
    except ImportError:
        from vocalex.base.errors import MissingPackageError

        raise MissingPackageError("`wiener` needs the package 'norbert' (pip install 'vocalex[wiener]')") from None


def wiener_vocals(mixture: np.ndarray, masked: np.ndarray, iterations: int = WIENER_ITERATIONS) -> np.ndarray:
    """The vocals STFT after multichannel Wiener filtering.

    mixture: complex (frames, channels, n_freqs), the mixture STFT of every channel.
    masked: complex (frames, channels, n_freqs), mask x mixture (the plain estimate;
    the mask, |masked| / |mixture|, is read back from it and clipped to [0, 1]).
    Returns complex64 (frames, channels, n_freqs). Frames that are all zero stay zero.
    The accompaniment is the mixture minus this (the engine's guarantee
    vocals + accompaniment = input is kept by the caller, not by the filter,
    whose regularisation makes its two outputs sum to the mixture only approximately).
    """
    require()
    import norbert

    if mixture.shape != masked.shape or mixture.ndim != 3:
        raise ValueError(f"mixture {mixture.shape} and masked {masked.shape} must be equal (frames, channels, n_freqs)")
    if not len(mixture):
        return np.zeros(mixture.shape, dtype=np.complex64)
    # norbert's layout is (frames, bins, channels[, sources]); double precision as its docs advise.
    x = np.ascontiguousarray(mixture.transpose(0, 2, 1), dtype=np.complex128)
    mag_x = np.abs(x)
    mag_v = np.abs(masked.transpose(0, 2, 1)).astype(np.float64)
    mask = np.clip(mag_v / np.maximum(mag_x, 1e-30), 0.0, 1.0)
    # norbert takes "spectrograms" whose squares are the PSDs: sqrt(mask) |X| gives PSD mask |X|^2.
    v = np.stack([np.sqrt(mask) * mag_x, np.sqrt(1.0 - mask) * mag_x], axis=-1)
    y = norbert.wiener(v, x, iterations=iterations, use_softmask=False)  # x is scaled in place: it is our copy
    return np.ascontiguousarray(y[..., 0].transpose(0, 2, 1), dtype=np.complex64)
