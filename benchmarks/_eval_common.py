"""Shared bits of the evaluation benchmark scripts (eval, speed vs Spleeter, SDR vs latency, plots).

Run every script from the repository root, e.g. ``python3 benchmarks/eval_musdb.py``.
Results land in benchmarks/results/ (JSON and PNG, each PNG < 300 KB).
"""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
MUSDB_7S = REPO.parent / "shared" / "data" / "musdb18-7s"
DEMO_SONG = REPO / "src" / "vocalex" / "engine" / "assets" / "demo_lets_go_fishin_30s.ogg"


def write_json(obj, path) -> Path:
    """Write ``obj`` as indented JSON (via eval_cli's atomic writer) and say where."""
    from vocalex.evaluation.report import write_json as atomic

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic(obj, path)
    print(f"wrote {path}")
    return path


def read_json(path):
    return json.loads(Path(path).read_text())


def run_script(main, name: str) -> int:
    """Run a script's main() as the CLI does: a VocalexError (no data, bad model, ...) is one line and its exit code."""
    import sys

    from vocalex.engine.errors import VocalexError

    try:
        return int(main() or 0)
    except VocalexError as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
