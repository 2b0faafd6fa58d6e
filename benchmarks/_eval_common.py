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


def model_call_ms(model, channels: int, window: int | None = None, calls: int = 100, warm: int = 5) -> dict:
    """One stream-mode model call (a window per channel, ``window`` frames: the model's n_frames unless given) on
    music-like noise, timed ``calls`` times after ``warm`` untimed calls: {"p50", "p99"} in ms."""
    import time

    import numpy as np

    p = model.profile
    x = np.abs(np.random.default_rng(0).standard_normal((model.rows_for(channels), p.n_bins, window or p.n_frames)))
    x = (0.1 * x).astype(np.float32)
    for _ in range(warm):
        model.run(x)
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        model.run(x)
        times.append(1000.0 * (time.perf_counter() - t0))
    return {"p50": float(np.percentile(times, 50)), "p99": float(np.percentile(times, 99))}


def read_json(path):
    return json.loads(Path(path).read_text())


def run_script(main, name: str) -> int:
    """Run a script's main() as the CLI does: a VocalexError (no data, bad model, ...) is one line and its exit code."""
    import sys

    from vocalex.base.errors import VocalexError

    try:
        return int(main() or 0)
    except VocalexError as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
