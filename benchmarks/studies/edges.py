"""Study: what a file's edges get (silence vs mirrored signal), scored on MUSDB18 7-s clips.

For each model and mode, separates every clip with ``zero`` edges and with ``mirror`` edges of 1 or 2 model
windows (engine/separator.py EDGE_WINDOWS, set here per run) and scores vocals / accompaniment with the
plain SDR of vocalex.evaluation.metrics (the mixture is the sum of the stems, as ``vocalex eval`` builds
it). Prints and saves per-clip SDRs and, per setting, median / mean and the paired difference to ``zero``.

Choose the setting on the training split; report the chosen one on the validation split:

    nice python3 benchmarks/studies/edges.py --split train --limit 30 --windows 0,1,2 --out benchmarks/studies/results/edges_train.json
    nice python3 benchmarks/studies/edges.py --split valid --windows 0,1 --out benchmarks/studies/results/edges_valid.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

DATA = "/work/shared/data/musdb18-7s"
STEMS = ("vocals", "accompaniment")


def summary(per_clip: dict, base: dict | None) -> dict:
    out = {}
    for stem in STEMS:
        v = np.array([per_clip[c][stem] for c in per_clip])
        row = {"median": float(np.median(v)), "mean": float(np.mean(v))}
        if base is not None:
            d = v - np.array([base[c][stem] for c in per_clip])
            row.update(paired_median_diff=float(np.median(d)), paired_mean_diff=float(np.mean(d)),
                       better=int((d > 0).sum()), n=int(len(d)))
        out[stem] = row
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--split", default="train", choices=("train", "valid"))
    ap.add_argument("--limit", type=int, default=None, help="first N clips of the split")
    ap.add_argument("--models", default="hq,default", help="comma-separated model names")
    ap.add_argument("--modes", default="offline,stream", help="offline and/or stream (default stream settings)")
    ap.add_argument("--windows", default="0,1,2", help="mirrored model windows per edge; 0 = zero edges")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)

    import vocalex.engine.separator as separator_module
    from vocalex.data.datasets import open_dataset
    from vocalex.engine import Separator
    from vocalex.base.machine import machine_info
    from vocalex.evaluation.metrics import sdr

    tracks = open_dataset(args.data, split=args.split).tracks[: args.limit]
    windows = [int(w) for w in args.windows.split(",")]
    models = {m: Separator.load(None if m == "default" else m, threads=args.threads, spinning=False)
              for m in args.models.split(",")}
    modes = args.modes.split(",")
    scores: dict = {}  # "model mode wN" -> clip -> {stem: sdr}
    t_start = time.time()
    for i, track in enumerate(tracks):
        rate = track.rate()
        stems = track.load(sample_rate=rate)
        mixture = stems["mixture"]
        for m, sep in models.items():
            for mode in modes:
                for w in windows:
                    separator_module.EDGE_WINDOWS = max(w, 1)  # read by edge_pad at each separation
                    est = sep.separate(mixture, rate, mode=mode, edges="mirror" if w else "zero")
                    key = f"{m} {mode} w{w}"
                    scores.setdefault(key, {})[track.name] = {s: sdr(stems[s], est[s].reshape(stems[s].shape))
                                                              for s in STEMS}
        print(f"[{i + 1}/{len(tracks)}] {track.name} ({time.time() - t_start:.0f} s)", file=sys.stderr, flush=True)
    separator_module.EDGE_WINDOWS = 1

    results = {}
    for key, per_clip in scores.items():
        base = scores[key.rsplit(" ", 1)[0] + " w0"] if not key.endswith("w0") and windows[0] == 0 else None
        results[key] = {"summary": summary(per_clip, base), "per_clip": per_clip}
        s = results[key]["summary"]
        line = "  ".join(f"{stem} med {s[stem]['median']:.3f} mean {s[stem]['mean']:.3f}"
                         + (f" d_med {s[stem]['paired_median_diff']:+.3f} better {s[stem]['better']}/{s[stem]['n']}"
                            if "better" in s[stem] else "") for stem in STEMS)
        print(f"{key:24s} {line}")
    doc = {"study": "edges", "split": args.split, "n_clips": len(tracks), "data": args.data,
           "command": "python3 " + " ".join(sys.argv), "machine": machine_info("cpu"),
           "models": {m: s.profile.model_version for m, s in models.items()}, "results": results}
    Path(args.out).write_text(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
