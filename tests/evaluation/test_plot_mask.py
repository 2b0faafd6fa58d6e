"""`vocalex plot`'s mask panel (issue 24): the mask is drawn only where the mixture has energy."""

from __future__ import annotations

import numpy as np
import pytest

from vocalex.evaluation.plots import shown_mask, spectrogram_db

RATE = 44100


def _band_limited(seconds=1.0, top_hz=16000):
    """Noise with nothing above ``top_hz`` (a brick-wall cut in the frequency domain), as MP3-born songs are."""
    x = np.random.default_rng(2).normal(0, 0.1, int(seconds * RATE))
    spec = np.fft.rfft(x)
    spec[np.fft.rfftfreq(len(x), 1 / RATE) > top_hz] = 0
    return np.fft.irfft(spec, len(x))


def test_the_mask_is_blank_where_the_mixture_is_silent():
    mix = _band_limited()
    voc = 0.5 * mix + 1e-9 * np.random.default_rng(3).normal(size=len(mix))  # float dust above the cut
    m, v = spectrogram_db(mix, n_fft=1024, hop=512), spectrogram_db(voc, n_fft=1024, hop=512)
    mask = shown_mask(m, v)
    freqs = np.fft.rfftfreq(1024, 1 / RATE)
    above, below = freqs > 17000, (freqs > 200) & (freqs < 15000)
    assert np.isnan(mask[above]).all()  # before: |V| / |M| of float dust, speckles anywhere in [0, 1]
    assert not np.isnan(mask[below]).any()
    np.testing.assert_allclose(np.nanmedian(mask[below]), 0.5, atol=0.01)


def test_plot_writes_the_figure_with_the_blank_band(tmp_path):
    pytest.importorskip("matplotlib")
    from vocalex.evaluation.plots import plot_spectrograms

    mix = np.stack([_band_limited()] * 2, 1)
    out = plot_spectrograms(mix, 0.5 * mix, 0.5 * mix, RATE, tmp_path / "fig.png")
    assert out.stat().st_size > 10_000
