"""The numpy twins of the numba kernels (offline mode) compute what the kernels compute; numba loads lazily."""

import os
import subprocess
import sys

import numpy as np
import pytest

from vocalex.engine import core, npkernels, resample, stft, stream
from vocalex.engine.jit import COMPILING_LINE
from vocalex.engine.config import CoreConfig
from vocalex.engine.model import OnnxModel


def test_stft_analyzer_gives_the_same_frames_for_any_push_sizes():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (20000, 2)).astype(np.float32)
    results = []
    for cls in (stft.StftAnalyzer, npkernels.StftAnalyzer):
        a = cls(1024, 256, 2, 7)
        frames, pos, sizes = [], 0, iter([1, 300, 5000, 255, 256, 9000] * 10)
        while pos < len(x):
            out = np.zeros((7, 2, 513), dtype=np.complex64)
            used, k = a.push(x[pos:pos + next(sizes)], out)
            frames.append(out[:k].copy())
            pos += used
        results.append(np.concatenate(frames))
    assert len(results[0]) == len(results[1]) == len(x) // 256
    np.testing.assert_allclose(results[1], results[0], atol=2e-5 * np.abs(results[0]).max())


def test_overlap_add_matches_and_reconstructs():
    rng = np.random.default_rng(1)
    spec = (rng.normal(size=(37, 2, 513)) + 1j * rng.normal(size=(37, 2, 513))).astype(np.complex64)
    outs = []
    for cls in (stft.OlaSynthesizer, npkernels.OlaSynthesizer):
        s = cls(1024, 256, 2)
        out = np.zeros((37 * 256, 2), dtype=np.float32)
        for lo, hi in ((0, 5), (5, 6), (6, 37)):
            s.push(spec[lo:hi], out[lo * 256:hi * 256])
        outs.append(out)
    np.testing.assert_allclose(outs[1], outs[0], atol=1e-6 * np.abs(outs[0]).max())
    # A hop that does not divide n_fft takes the frame-by-frame path: same results there too.
    outs = []
    for cls in (stft.OlaSynthesizer, npkernels.OlaSynthesizer):
        out = np.zeros((37 * 300, 2), dtype=np.float32)
        cls(1024, 300, 2).push(spec, out)
        outs.append(out)
    np.testing.assert_allclose(outs[1], outs[0], atol=1e-6 * np.abs(outs[0]).max())


def test_history_and_mask_kernels_match():
    rng = np.random.default_rng(2)
    new = (rng.normal(size=(6, 2, 513)) + 1j * rng.normal(size=(6, 2, 513))).astype(np.complex64)
    hists = [(np.zeros((2, 256, 20), np.float32), np.zeros((9, 2, 513), np.complex64)) for _ in range(2)]
    for fn, (mag, cplx) in zip((core._append_frames, npkernels.append_frames), hists):
        fn(new, 256, mag, cplx)
        fn(new[:2], 256, mag, cplx)
    np.testing.assert_array_equal(hists[1][0], hists[0][0])
    np.testing.assert_array_equal(hists[1][1], hists[0][1])
    mask = rng.uniform(0, 1, (4, 256, 128)).astype(np.float32)
    phasor = np.exp(-1j * np.linspace(0, 3, 513)).astype(np.complex64)
    outs = [np.zeros((8, 2, 513), np.complex64) for _ in range(2)]
    gain = core.high_band_gain(513, 256)
    for fn, out in zip((core._masked_spectra, npkernels.masked_spectra), outs):
        fn(hists[0][1], 3, 4, mask, 2, 100, phasor, out, 1, np.zeros(128, np.float32), gain)
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-6, atol=1e-7)
    assert np.abs(outs[0][1:5]).min() > 0 and not outs[0][5:].any()
    cplx = hists[0][1]
    cplx[:3] = 0
    for first, count in ((0, 3), (0, 4), (2, 1), (3, 2)):
        assert npkernels.frames_silent(cplx, first, count) == core._frames_silent(cplx, first, count)


@pytest.mark.parametrize("in_rate,out_rate", [(48000, 44100), (44100, 22050), (8000, 44100), (44099, 44100)])
def test_resampler_twin_gives_the_same_samples(in_rate, out_rate):
    x = np.random.default_rng(in_rate).uniform(-1, 1, (9000, 2)).astype(np.float32)
    outs = []
    for cls in (resample.StreamResampler, npkernels.StreamResampler):
        r = cls(in_rate, out_rate, 2)
        outs.append(np.concatenate([r.process(x[i:i + 701]) for i in range(0, len(x), 701)]))
    assert outs[0].shape == outs[1].shape
    np.testing.assert_allclose(outs[1], outs[0], atol=1e-6)


@pytest.mark.parametrize("in_rate,out_rate", [(48000, 44100), (44100, 48000), (22050, 44100), (44100, 8000), (44099, 44100)])
def test_closed_form_holdback_equals_the_probe(in_rate, out_rate):
    assert resample.measure_holdback(in_rate, out_rate, 2) == resample.probe_holdback(in_rate, out_rate, 2)


@pytest.mark.parametrize("rate,channels", [(44100, 2), (48000, 1)])
def test_offline_separator_on_numpy_equals_numba(tiny_model, rate, channels):
    model = OnnxModel.load(tiny_model, threads=1)
    x = np.random.default_rng(rate).uniform(-0.5, 0.5, (rate + 4321, channels)).astype(np.float32)
    x[: rate // 4] = 0.0  # digital silence at the start: skipped FFTs must change nothing
    outs = []
    for kernels in ("numba", "numpy"):
        s = stream.StreamSeparator(model, rate, channels, CoreConfig(112, 8, 128, windows_per_call=4, pipelined=True, kernels=kernels))
        pieces = [s.process(x[i:i + 8192])["vocals"] for i in range(0, len(x), 8192)]
        outs.append(np.concatenate(pieces + [s.flush()["vocals"]])[s.latency:])
    assert np.abs(outs[0]).max() > 1e-3
    np.testing.assert_allclose(outs[1], outs[0], atol=1e-6)


def _kernel_call(cache_dir):
    code = ("import sys, numpy as np\n"
            "import vocalex.engine.core as s\n"
            "assert 'numba' not in sys.modules\n"  # importing the engine's core module loads no numba
            "assert s._frames_silent(np.zeros((2, 1, 3), np.complex64), 0, 2)\n")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.subprocess
def test_compiling_line_appears_only_while_the_cache_is_cold(tmp_path):
    first = _kernel_call(tmp_path)
    assert first.returncode == 0, first.stderr
    assert COMPILING_LINE in first.stderr
    second = _kernel_call(tmp_path)
    assert second.returncode == 0, second.stderr
    assert COMPILING_LINE not in second.stderr and second.stderr.strip() == ""
