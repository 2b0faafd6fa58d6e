"""Inputs a new user gives `vocalex separate` (issue 24): a folder and a file inside it together, and a batch
resumed with --skip-existing."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf


pytestmark = pytest.mark.subprocess
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
