"""Tests that need an optional package (the train / eval extras) skip where it is not installed.

Except in CI (CI=true, set by the CI runner): .ci/run installs everything, so a missing
package there is a failure, not a skip.
"""

import importlib
import os

import pytest


def need(*modules: str) -> None:
    for name in modules:
        if os.environ.get("CI"):
            importlib.import_module(name)
        else:
            pytest.importorskip(name, reason=f"needs {name} (pip install -e '.[dev]')")
