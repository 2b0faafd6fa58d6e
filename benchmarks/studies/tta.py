"""Study: test-time averaging in offline mode (STFT-grid shifts, left/right swap, both), scored on MUSDB18 7-s clips.

Each clip is separated 8 times with the file defaults of the engine (mirrored edges): the STFT grid shifted
by k/4 of a hop (k = 0..3; the shift is made by reflecting k/4 hop of the clip before its start and dropping
that much of the output), each with the channels as they are and swapped (the stereo U-Net sees the pair
jointly). The vocals estimates are averaged; accompaniment = mixture - vocals, as in the engine. Systems:
plain (k = 0), swap (2 runs), shifts (4 runs), both (8 runs). Plain SDR (vocalex.evaluation.metrics).

    nice python3 benchmarks/studies/tta.py --split train --limit 30 --out benchmarks/studies/results/tta_train.json
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--split", default="train", choices=("train", "valid"))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--model", default="hq")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)

    from vocalex.data.datasets import open_dataset
    from vocalex.engine import Separator
    from vocalex.base.machine import machine_info
    from vocalex.evaluation.metrics import sdr

    sep = Separator.load(None if args.model == "default" else args.model, threads=args.threads, spinning=False)
    profile = sep.profile
    tracks = open_dataset(args.data, split=args.split).tracks[: args.limit]
    systems = {"plain": [(0, False)], "swap": [(0, False), (0, True)],
               "shifts": [(k, False) for k in range(4)], "both": [(k, s) for k in range(4) for s in (False, True)]}
    scores = {name: {} for name in systems}
    t0 = time.time()
    for i, track in enumerate(tracks):
        rate = track.rate()
        stems = track.load(sample_rate=rate)
        x = stems["mixture"]
        vocals = {}
        for k in range(4):
            shift = round(k * profile.hop_length * rate / (4 * profile.sample_rate))
            for swap in (False, True):
                y = np.pad(x, ((shift, 0), (0, 0)), mode="reflect") if shift else x
                y = y[:, ::-1] if swap else y
                v = sep.separate(np.ascontiguousarray(y), rate)["vocals"][shift:]
                vocals[(k, swap)] = v[:, ::-1] if swap else v
        for name, runs in systems.items():
            v = np.mean([vocals[r] for r in runs], axis=0)
            scores[name][track.name] = {"vocals": sdr(stems["vocals"], v), "accompaniment": sdr(stems["accompaniment"], x - v)}
        print(f"[{i + 1}/{len(tracks)}] {track.name} ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)

    results = {}
    for name, per_clip in scores.items():
        summary = {}
        for stem in STEMS:
            v = np.array([per_clip[c][stem] for c in per_clip])
            d = v - np.array([scores["plain"][c][stem] for c in per_clip])
            summary[stem] = {"median": float(np.median(v)), "mean": float(np.mean(v)),
                             "paired_median_diff": float(np.median(d)), "paired_mean_diff": float(np.mean(d)),
                             "better": int((d > 0).sum()), "n": int(len(d))}
        results[name] = {"runs": len(systems[name]), "summary": summary, "per_clip": per_clip}
        print(f"{name:8s} " + "  ".join(f"{s} med {summary[s]['median']:.3f} mean {summary[s]['mean']:.3f} "
                                        f"d_med {summary[s]['paired_median_diff']:+.3f} d_mean {summary[s]['paired_mean_diff']:+.3f} "
                                        f"better {summary[s]['better']}/{summary[s]['n']}" for s in STEMS))
    doc = {"study": "tta", "split": args.split, "n_clips": len(tracks), "model": profile.model_version,
           "command": "python3 " + " ".join(sys.argv), "machine": machine_info("cpu"), "results": results}
    Path(args.out).write_text(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
