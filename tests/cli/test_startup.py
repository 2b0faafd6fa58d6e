"""What each command loads: start-up is most of a one-file run's wall time (issue 14). No timing here, only imports."""

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

pytestmark = pytest.mark.subprocess

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


def blas_setting_after(*argv, env=None):
    """Run `vocalex ARGV` through main() in a fresh interpreter; (OPENBLAS_NUM_THREADS then, threads once numpy is in)."""
    import os

    code = ("import os, sys, json\n"
            "from vocalex.cli.main import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "import numpy\n"
            "print(json.dumps([os.environ.get('OPENBLAS_NUM_THREADS'), len(os.listdir('/proc/self/task'))]))\n")
    clean = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    proc = subprocess.run([sys.executable, "-c", code, *map(str, argv)], capture_output=True, text=True, timeout=300,
                          env={**clean, **(env or {})})
    return tuple(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_one_file_commands_keep_numpys_blas_to_one_thread_unless_the_user_says():
    # OpenBLAS's pool threads spin after numpy's import and took CPU from a one-file run's session build
    setting, threads = blas_setting_after("separate", "--help")
    assert setting == "1"
    other_setting, other_threads = blas_setting_after("eval", "--help")  # a command that may use BLAS: untouched
    assert other_setting is None
    assert threads <= other_threads  # no OpenBLAS pool (on a 1-core machine there is none either way)
    assert blas_setting_after("separate", "--help", env={"OPENBLAS_NUM_THREADS": "3"})[0] == "3"
