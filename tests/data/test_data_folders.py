"""README's promise about data (issue 24): any folder of track/{mixture,vocals,accompaniment} works for `vocalex eval`
and `vocalex train`; `vocalex train` says how far the clip preparation is, logs one plain line per message, and its
exported model carries the licence that follows from its data (MUSDB18-HQ layout -> non-commercial)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from vocalex.data.licences import licence_from_data

pytestmark = pytest.mark.subprocess
RATE = 44100


def _songs(root, stems=("vocals", "accompaniment"), n=3, seconds=1.0, mixture=True):
    """``n`` generated tracks, one folder each: a harmonic 'voice' and noise stems, plus mixture.wav (their sum)."""
    rng = np.random.default_rng(1)
    t = np.arange(int(seconds * RATE)) / RATE
    for i in range(n):
        folder = root / f"Song {i}"
        folder.mkdir(parents=True)
        voice = 0.1 * sum(np.sin(2 * np.pi * 220 * (1 + i / 5) * k * t) / k for k in range(1, 5))
        parts = {"vocals": np.stack([voice, 0.7 * voice], 1)}
        for name in stems[1:]:
            parts[name] = rng.normal(0, 0.03, (len(t), 2))
        for name, audio in parts.items():
            sf.write(folder / f"{name}.wav", audio.astype(np.float32), RATE)
        if mixture:
            sf.write(folder / "mixture.wav", sum(parts.values()).astype(np.float32), RATE)
    return root


def _vocalex(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "vocalex", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def test_eval_reads_any_folder_of_mixture_vocals_accompaniment(tmp_path, tiny_model):
    data = _songs(tmp_path / "my-songs")
    out = tmp_path / "scores.json"
    r = _vocalex("eval", data, "--model", tiny_model, "--mode", "offline", "--json", out)
    assert r.returncode == 0, r.stderr
    report = json.loads(out.read_text())
    text = json.dumps(report)
    assert "Song 0" in text and "Song 2" in text  # every track of the folder was scored


def test_licence_follows_the_data_layout():
    assert "non-commercial" in licence_from_data(["musdb18"]) and "MUSDB18" in licence_from_data(["musdb18"])
    assert "MUSDB18-HQ" in licence_from_data(["stems", "musdb18hq"])
    assert licence_from_data(["stems"]) is None


@pytest.mark.torch
@pytest.mark.slow
def test_train_shows_progress_plain_log_lines_and_the_data_licence(tmp_path):
    pytest.importorskip("torch")
    data = _songs(tmp_path / "hq-like", stems=("vocals", "drums", "bass", "other"), n=4)  # the MUSDB18-HQ layout
    run = tmp_path / "run"
    r = _vocalex("train", "--data", data, "--out", run, "--steps", 2, "--widths", "2,4,8,16,32,64", "--batch-size", 2,
                 "--valid-modes", "none", "--cache", tmp_path / "cache", "--threads", 1)
    assert r.returncode == 0, r.stderr
    err = r.stderr
    assert re.search(r"data: preparing clips of .*hq-like: 0/4", err), err
    assert re.search(r"data: preparing clips of .*hq-like: 4/4", err), err
    assert not re.search(r"\w+\.py:\d+", err), err  # no source locations in the log
    model_line = next(line for line in err.splitlines() if "model: U-Net" in line)
    assert "parameters" in model_line and "world 1" in model_line  # one message, one line: not wrapped
    model = tmp_path / "m.onnx"
    r = _vocalex("export", run / "last.pt", "-o", model)
    assert r.returncode == 0, r.stderr
    from vocalex.engine.contract import read_profile

    licence = read_profile(model).licence
    assert "non-commercial" in licence and "MUSDB18-HQ" in licence, licence
