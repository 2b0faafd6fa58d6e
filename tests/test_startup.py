"""What each command loads: start-up is most of a one-file run's wall time (issue 14). No timing here, only imports."""

import json
import subprocess
import sys

import numpy as np
import soundfile as sf

HEAVY = ("numba", "rocket_fft", "scipy", "onnx", "onnxruntime", "numpy", "torch")


def loaded_after(*argv):
    """Run `vocalex ARGV` in a fresh interpreter; return (exit code, heavy modules it imported)."""
    code = ("import sys, json\n"
            "from vocalex.cli.main import main\n"
            "try:\n    rc = main(sys.argv[1:])\nexcept SystemExit as e:\n    rc = e.code\n"
            f"print(json.dumps([rc, sorted(m for m in {HEAVY!r} if m in sys.modules)]))\n")
    proc = subprocess.run([sys.executable, "-c", code, *map(str, argv)], capture_output=True, text=True, timeout=300)
    rc, modules = json.loads(proc.stdout.strip().splitlines()[-1])
    return rc, set(modules)


def test_help_and_info_load_no_numba_no_onnx_no_session(tiny_model):
    rc, modules = loaded_after("--help")
    assert rc == 0 and modules == set(), modules
    rc, modules = loaded_after("info", tiny_model)
    assert rc == 0 and modules == set(), modules  # the metadata comes from the file's bytes


def test_offline_separation_loads_no_numba_and_no_onnx_package(tiny_model, tmp_path):
    src = tmp_path / "a.wav"
    sf.write(str(src), np.random.default_rng(0).uniform(-0.5, 0.5, (22050, 2)).astype(np.float32), 48000)
    rc, modules = loaded_after("separate", src, "-o", tmp_path / "out", "--model", tiny_model, "-q")
    assert rc == 0 and (tmp_path / "out" / "a" / "vocals.wav").exists()
    assert modules == {"numpy", "onnxruntime"}, modules  # resampled too (48 kHz), still on numpy
