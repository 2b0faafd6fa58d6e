"""Shared fixtures: untrained U-Nets exported through the real export gate.

``tiny_model`` (widths 4..128) and ``tiny_stereo_model`` are files in tests/models/,
made by tests/make_test_models.py, so the engine's tests run without torch
(tests/export/test_test_models.py checks, where torch is installed, that the files still are
what the export makes). ``paper_model`` has the paper's widths (9.8 M parameters,
39 MB: not shipped) and is exported here, so the contract tests that use it need torch.
"""

from __future__ import annotations

from pathlib import Path

import pytest

MODELS = Path(__file__).resolve().parent / "models"


@pytest.fixture(scope="session")
def tiny_model():
    """An untrained U-Net (widths 4..128) for the live1024 profile, exported and verified."""
    return MODELS / "tiny.onnx"


@pytest.fixture(scope="session")
def tiny_stereo_model():
    """An untrained stereo U-Net (2 input planes, 2 masks; widths 4..128), live1024, exported and verified."""
    return MODELS / "tiny-stereo.onnx"


@pytest.fixture(scope="session")
def paper_model(tmp_path_factory):
    """An untrained U-Net with the paper's widths (16..512) for the live1024 profile (needs torch)."""
    pytest.importorskip("torch")
    from make_test_models import export

    return export("paper", tmp_path_factory.mktemp("models") / "paper.onnx", widths=(16, 32, 64, 128, 256, 512), channels=1)


@pytest.fixture(scope="session", autouse=True)
def session_cache_folder(tmp_path_factory):
    """ONNX Runtime's optimised graphs (engine/session_cache.py) go to a folder of the test run, not the user's cache:
    the tests load many short-lived model copies. Set in the environment, so the CLI subprocesses use it too."""
    import os

    from vocalex.engine.session_cache import CACHE_ENV

    old = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(tmp_path_factory.mktemp("session-cache"))
    yield Path(os.environ[CACHE_ENV])
    if old is None:
        os.environ.pop(CACHE_ENV, None)
    else:
        os.environ[CACHE_ENV] = old
