"""What the benchmark scripts (benchmarks/*.py) and the studies (benchmarks/studies/*.py) share: where things
are, the data option, JSON results, naming the machine, timing one model call or one process, memory.

Run every script from the repository root, e.g. ``python3 benchmarks/eval_musdb.py``. Results land in
benchmarks/results/ (what README.md cites) or benchmarks/studies/results/ (a study's own record).

The data: ``--data`` on every script that reads songs; its default is $VOCALEX_BENCH_DATA if set,
else ../shared/data/musdb18-7s beside this repository (the MUSDB18 7-s previews).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
STUDY_RESULTS = REPO / "benchmarks" / "studies" / "results"
DATA_ENV = "VOCALEX_BENCH_DATA"
MUSDB_7S = Path(os.environ.get(DATA_ENV) or REPO.parent / "shared" / "data" / "musdb18-7s")
DEMO_SONG = REPO / "src" / "vocalex" / "engine" / "assets" / "demo_lets_go_fishin_30s.ogg"


def add_data_option(parser, what: str = "MUSDB18 folder"):
    """``--data DIR``, defaulting to MUSDB_7S (settable by $VOCALEX_BENCH_DATA)."""
    parser.add_argument("--data", default=str(MUSDB_7S), help=f"{what} (default {MUSDB_7S}; ${DATA_ENV} sets it)")


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


def machine() -> str:
    """One line naming the machine (CPU model, cores, onnxruntime), as every report does."""
    from vocalex.base.machine import describe, machine_info

    return describe(machine_info())


def process_seconds(cmd, env=None) -> float:
    """Wall seconds of one fresh process, start to exit; it must succeed (else the script stops, showing its stderr)."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(map(str, cmd))}\n{proc.stderr[-2000:]}")
    return elapsed


def rss_mib() -> float:
    """Current resident set size of this process in MiB (Linux /proc)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def model_call_ms(model, channels: int, window: int | None = None, calls: int = 100, warm: int = 5) -> dict:
    """One stream-mode model call (a window per channel, ``window`` frames: the model's n_frames unless given) on
    music-like noise, timed ``calls`` times after ``warm`` untimed calls: {"p50", "p99", "p99.9"} in ms."""
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
    return {"p50": float(np.percentile(times, 50)), "p99": float(np.percentile(times, 99)),
            "p99.9": float(np.percentile(times, 99.9))}


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
