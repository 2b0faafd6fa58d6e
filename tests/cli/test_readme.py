"""Every ```sh and ```python block of README.md runs as written (issue 24), each in a fresh folder where `src/`
is the repository's, so the demo song's path works and nothing is written into the checkout.

A block is marked by the HTML comment on the line before it:
  <!-- readme-test: skip: REASON -->   never run here (installs packages, needs a sound card or a data set);
                                       the list is kept short (SKIPS_AT_MOST) and each says why
  <!-- readme-test: needs: NAME ... -->  run where each NAME is an importable module (command:NAME: a program on PATH),
                                       skipped (naming it) elsewhere, e.g. the light route without matplotlib
An unmarked block always runs.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SKIPS_AT_MOST = 5
FENCE = re.compile(r"(?:<!-- readme-test: (?P<mark>[^>]*?) -->\n)?```(?P<lang>sh|python)\n(?P<body>.*?)```", re.S)


def readme_blocks():
    text = README.read_text()
    blocks = []
    for m in FENCE.finditer(text):
        line = text.count("\n", 0, m.start("body"))
        blocks.append(pytest.param(m.group("lang"), m.group("body"), (m.group("mark") or "").strip(),
                                   id=f"{m.group('lang')}-line-{line}"))
    return blocks


BLOCKS = readme_blocks()


def test_the_readme_has_blocks_and_few_skips():
    marks = [p.values[2] for p in BLOCKS]
    assert len(BLOCKS) >= 6
    skips = [m for m in marks if m.startswith("skip:")]
    assert len(skips) <= SKIPS_AT_MOST, skips
    assert all(len(m) > len("skip: ") + 10 for m in skips), skips  # each states its reason
    assert all(m == "" or m.startswith(("skip:", "needs:")) for m in marks), marks


def _available(name: str) -> bool:
    """``command:NAME``: a program on PATH; otherwise an importable module (a `ray` program on PATH from another
    interpreter's install must not count as this interpreter's ray)."""
    if name.startswith("command:"):
        return shutil.which(name[len("command:"):]) is not None
    return importlib.util.find_spec(name) is not None


@pytest.mark.parametrize("lang, body, mark", BLOCKS)
@pytest.mark.subprocess
@pytest.mark.slow
def test_readme_block_runs_as_written(lang, body, mark, tmp_path):
    if mark.startswith("skip:"):
        pytest.skip(f"README block marked {mark!r}")
    if mark.startswith("needs:"):
        missing = [n for n in mark[len("needs:"):].split() if not _available(n)]
        if missing:
            pytest.skip(f"README block needs {', '.join(missing)}")
    (tmp_path / "src").symlink_to(ROOT / "src")
    env = dict(os.environ)
    # `vocalex` and `python3` as a user of this interpreter's install would have them; this checkout's package first
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = f"{ROOT / 'src'}{os.pathsep}{env.get('PYTHONPATH', '')}"
    if lang == "sh":
        cmd = ["bash", "-euo", "pipefail", "-c", body]
    else:
        cmd = [sys.executable, "-c", body]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
