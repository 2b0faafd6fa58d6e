"""Peak memory of `vocalex separate` against file length: it must stay flat.

Generates stereo 44.1 kHz 16-bit WAV files of the given lengths (block by
block, never in memory whole), separates each with the real CLI in a fresh
process, and prints the process's peak resident set size (ru_maxrss) and the
speed. A one-hour file must need no more memory than a ten-minute one.

Usage: python3 benchmarks/bench_memory.py [--minutes 10 60] [--mode offline|stream] [--model M.onnx]
Temporary files go to --workdir (default: a temp folder, removed afterwards).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from _common import machine

RATE = 44100
PEAK = "PEAK_RSS_KIB"
# Runs the real CLI and reports the peak RSS of that very process.
RUNNER = (
    "import resource, sys\n"
    "from vocalex.cli.main import main\n"
    "rc = main(sys.argv[1:])\n"
    f"print('{PEAK}', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(rc)\n"
)


def write_long_file(path: Path, minutes: int) -> None:
    """A stereo 16-bit WAV of `minutes` minutes of tones and noise, written a minute at a time."""
    rng = np.random.default_rng(0)
    with sf.SoundFile(str(path), "w", samplerate=RATE, channels=2, subtype="PCM_16") as f:
        for m in range(minutes):
            t = (np.arange(60 * RATE) + m * 60 * RATE) / RATE
            tone = 0.2 * np.sin(2 * np.pi * (220 + 20 * (m % 7)) * t)
            f.write((tone[:, None] + 0.05 * rng.standard_normal((len(t), 2))).astype(np.float32))


def measure(path: Path, out: Path, mode: str, model: str | None) -> tuple[float, float]:
    cmd = [sys.executable, "-c", RUNNER, "separate", str(path), "-o", str(out), "--mode", mode, "-q", "--force"]
    if model:
        cmd += ["--model", model]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"separate failed: {proc.stderr.strip()}")
    peak_kib = next(int(l.split()[1]) for l in proc.stderr.splitlines() if l.startswith(PEAK))
    return peak_kib / 1024, elapsed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=int, nargs="+", default=[10, 60])
    ap.add_argument("--mode", choices=("offline", "stream"), default="offline")
    ap.add_argument("--model", default=None)
    ap.add_argument("--workdir", default=None)
    a = ap.parse_args()
    work = Path(a.workdir or tempfile.mkdtemp(prefix="vocalex-mem-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}")
    print(f"mode: {a.mode}  model: {a.model or 'bundled default'}")
    print(f"{'audio':>8} {'input MiB':>10} {'peak RSS MiB':>13} {'wall s':>8} {'x real time':>11}")
    try:
        for minutes in a.minutes:
            src = work / f"long_{minutes}min.wav"
            write_long_file(src, minutes)
            peak, elapsed = measure(src, work / "out", a.mode, a.model)
            print(f"{minutes:>5} min {src.stat().st_size / 2**20:>10.0f} {peak:>13.1f} {elapsed:>8.1f} "
                  f"{minutes * 60 / elapsed:>11.1f}", flush=True)
            src.unlink()
            shutil.rmtree(work / "out", ignore_errors=True)
    finally:
        if a.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
