"""`vocalex bench`'s header (issue 24): one fact per line, none cut mid-phrase in a log (stdout not a terminal)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

pytestmark = pytest.mark.subprocess


def test_bench_header_lines_are_whole(tmp_path, tiny_model):
    song = tmp_path / "song.wav"
    sf.write(song, np.random.default_rng(0).normal(0, 0.1, (44100, 2)).astype(np.float32), 44100)
    proc = subprocess.run([sys.executable, "-m", "vocalex", "bench", str(song), "--model", str(tiny_model)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("vocalex bench: tiny.onnx (") and lines[0].endswith(") on cpu"), lines[:3]
    assert lines[1].startswith("machine: ") and " cores" in lines[1] and "onnxruntime " in lines[1], lines[:3]
    assert lines[2].startswith("song: ") and lines[2].endswith("(1.0 s)"), lines[:3]
