"""Inputs a new user gives (issue 24, point 7): a folder and a file inside it together, a batch resumed with
--skip-existing, and the Python API with sample_rate=44100.0 or integer PCM arrays."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from vocalex.engine import Separator
from vocalex.engine.errors import UsageError

RATE = 44100


def _album(root, n=2, seconds=0.5):
    rng = np.random.default_rng(3)
    root.mkdir(parents=True)
    for i in range(n):
        sf.write(root / f"{i:02d}.wav", rng.normal(0, 0.1, (int(seconds * RATE), 2)).astype(np.float32), RATE)
    return root


def _separate(*args):
    return subprocess.run([sys.executable, "-m", "vocalex", "separate", *map(str, args)], capture_output=True,
                          text=True, timeout=300)


def test_a_folder_and_a_file_inside_it_are_separated_once(tmp_path, tiny_model):
    album = _album(tmp_path / "album")
    out = tmp_path / "out"
    r = _separate(album, album / "01.wav", "-o", out, "--model", tiny_model)
    assert r.returncode == 0, r.stderr
    assert "given more than once" in r.stderr and "separated once" in r.stderr
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("vocals.wav")) == ["album/00/vocals.wav",
                                                                                     "album/01/vocals.wav"]
    assert r.stderr.count("01.wav ->") == 1, r.stderr


def test_skip_existing_resumes_a_batch(tmp_path, tiny_model):
    import shutil

    album = _album(tmp_path / "album", n=3)
    out = tmp_path / "out"
    r = _separate(album, "-o", out, "--model", tiny_model)
    assert r.returncode == 0, r.stderr
    shutil.rmtree(out / "album" / "02")  # a batch stopped during its last file (outputs appear only complete)
    kept = out / "album" / "00" / "vocals.wav"
    stamp = kept.stat().st_mtime_ns
    r = _separate(album, "-o", out, "--model", tiny_model)
    assert r.returncode == 7 and "exists" in r.stderr  # without the flag the finished ones are refused
    shutil.rmtree(out / "album" / "02")  # (and only the missing one was separated): stop it again
    r = _separate(album, "-o", out, "--model", tiny_model, "--skip-existing")
    assert r.returncode == 0, r.stderr
    assert "skipping 2 of 3 inputs whose outputs exist" in r.stderr
    assert (out / "album" / "02" / "vocals.wav").is_file() and kept.stat().st_mtime_ns == stamp
    r = _separate(album, "-o", out, "--model", tiny_model, "--skip-existing")
    assert r.returncode == 0 and "skipping 3 of 3" in r.stderr
    r = _separate(album, "-o", out, "--model", tiny_model, "--skip-existing", "--force")
    assert r.returncode == 2 and "--skip-existing" in r.stderr


@pytest.fixture(scope="module")
def separator(tiny_stereo_model):
    return Separator.load(str(tiny_stereo_model))


def test_api_accepts_a_whole_float_rate_and_refuses_a_fractional_one(separator):
    audio = np.random.default_rng(0).normal(0, 0.1, (RATE // 2, 2)).astype(np.float32)
    want = separator.separate(audio, RATE)
    got = separator.separate(audio, float(RATE))
    np.testing.assert_array_equal(got["vocals"], want["vocals"])
    assert separator.latency(44100.0) == separator.latency(RATE)
    assert separator.stream(np.float64(RATE)).sample_rate == RATE
    with pytest.raises(UsageError, match="whole number"):
        separator.separate(audio, 44100.5)


@pytest.mark.parametrize("dtype", ["int16", "int32"])
def test_api_scales_integer_pcm_as_soundfile_reads_it(separator, tmp_path, dtype):
    audio = np.random.default_rng(1).normal(0, 0.1, (RATE // 2, 2)).astype(np.float32)
    sf.write(tmp_path / "x.wav", audio, RATE, subtype="PCM_16" if dtype == "int16" else "PCM_32")
    as_int, _ = sf.read(tmp_path / "x.wav", dtype=dtype)
    as_float, _ = sf.read(tmp_path / "x.wav", dtype="float32")
    got = separator.separate(as_int, RATE)
    want = separator.separate(as_float, RATE)
    np.testing.assert_allclose(got["vocals"], want["vocals"], atol=1e-6)
    np.testing.assert_allclose(got["vocals"] + got["accompaniment"], as_float, atol=1e-5)
    with pytest.raises(UsageError, match="int16 or int32"):
        separator.separate(as_int.astype(np.uint8), RATE)
