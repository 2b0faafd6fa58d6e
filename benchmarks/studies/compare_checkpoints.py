"""Score training checkpoints clip by clip on the same clips, paired: how distillation runs were compared.

    nice python3 benchmarks/studies/compare_checkpoints.py --data DEV_FOLDER --split all \\
        runs/b0/step-001000.pt runs/d1/step-001000.pt [--modes offline,stream] [--json out.json]

Each checkpoint's weight average is exported to a temporary ONNX file and separated by the engine
(training/validate.py, the same path as validation during training); prints the median vocals /
accompaniment SDR of each and, against the FIRST checkpoint, the median of the per-clip vocals
differences and on how many clips it is better. A 10-clip median moves by tenths of a dB between
snapshots of one run; the paired difference is the steadier comparison.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--data", required=True, help="dataset folder")
    p.add_argument("--split", default="all", choices=("all", "train", "valid"))
    p.add_argument("--modes", default="offline")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)

    from vocalex.export.onnx_export import profile_for
    from vocalex.training.profiles import profile_from_checkpoint
    from vocalex.training.checkpoints import load_checkpoint, model_from_checkpoint
    from vocalex.training.validate import load_clips, validate_module

    clips = load_clips([args.data], 44100, split=None if args.split == "all" else args.split)
    modes = tuple(m.strip() for m in args.modes.split(","))
    results = {}
    for path in args.checkpoints:
        ckpt = load_checkpoint(path)
        profile = profile_for(profile_from_checkpoint(ckpt["profile"]), model_version="compare",
                              training_data="unspecified", licence="unspecified")
        if profile.sample_rate != 44100:
            raise SystemExit(f"{path}: profile at {profile.sample_rate} Hz; this script loads clips at 44.1 kHz")
        results[path] = validate_module(model_from_checkpoint(ckpt), profile, clips, modes, threads=args.threads)
    first = args.checkpoints[0]
    print(f"{len(clips)} clips; per-clip vocals differences against {first}")
    for mode in modes:
        for path, res in results.items():
            r = res[mode]
            diff = [r["per_clip"][n]["vocals"] - results[first][mode]["per_clip"][n]["vocals"] for n in r["per_clip"]]
            print(f"{mode:8s} {path}: vocals {r['vocals']:.2f}, accompaniment {r['accompaniment']:.2f}; "
                  f"paired vocals diff median {np.median(diff):+.2f}, mean {np.mean(diff):+.2f}, "
                  f"better on {sum(d > 0 for d in diff)} of {len(diff)}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
