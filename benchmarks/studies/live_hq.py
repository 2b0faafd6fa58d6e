"""Study (issue 20): what the pretrained Spleeter nets score in the live setting, per configuration.

    python3 benchmarks/studies/live_hq.py --model hq-vocals --configs 1:0:64:low-delay,1:1:64:low-delay:4
                                          [--split valid] [--limit N] [--out results.jsonl]

A configuration is stride:lookahead:window:synthesis[:mirror] (window 0: the model's own n_frames; mirror:
StreamConfig.mirror, default 0), or "offline".
Each is scored in stream mode on the MUSDB18-7s clips of the split (vocals SDR per clip, the eval metric),
and one JSON line per configuration (per-clip scores included, for paired comparisons) is appended to --out.
SDR does not depend on the machine or its load; call times are measured elsewhere (benchmarks/live_table.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the shared helpers
from _common import add_data_option  # noqa: E402


def load_clips(data: str, split: str, limit: int | None):
    from vocalex.evaluation.evaluate import open_eval_dataset

    ds, split = open_eval_dataset(data, split)
    tracks = ds.tracks[:limit] if limit else ds.tracks
    clips = []
    for t in tracks:
        rate = t.rate()
        stems = t.load(sample_rate=rate)
        clips.append((t.name, rate, stems["mixture"], stems["vocals"]))
    return clips


def score(sep, clips, config: str) -> dict:
    from vocalex.engine.config import OfflineConfig, StreamConfig
    from vocalex.evaluation.metrics import sdr

    if config == "offline":
        cfg = OfflineConfig()
    else:
        stride, lookahead, window, synthesis, *mirror = config.split(":")
        # edges "zero": a live stream starts from silence and has no end; a file's mirrored edges are not live's
        cfg = StreamConfig(int(stride), int(lookahead), synthesis, window=int(window) or None,
                           mirror=int(mirror[0]) if mirror else 0, edges="zero")
    per_clip = {}
    for name, rate, mix, voc in clips:
        est = sep.separate(mix, rate, config=cfg)["vocals"]
        per_clip[name] = float(sdr(voc, est))
    values = np.array(list(per_clip.values()))
    return {"median": float(np.median(values)), "mean": float(values.mean()), "per_clip": per_clip}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", action="append", required=True)
    p.add_argument("--configs", required=True, help="comma list of stride:lookahead:window:synthesis or offline")
    add_data_option(p)
    p.add_argument("--split", default="valid")
    p.add_argument("--limit", type=int)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="live_hq.jsonl")
    args = p.parse_args(argv)

    from vocalex.engine import Separator

    clips = load_clips(args.data, args.split, args.limit)
    print(f"{len(clips)} clips, split {args.split}", flush=True)
    for model in args.model:
        sep = Separator.load(model=model, threads=args.threads)
        for config in args.configs.split(","):
            t0 = time.perf_counter()
            result = score(sep, clips, config)
            row = {"model": sep.profile.model_version, "model_arg": model, "config": config, "split": args.split,
                   "n_clips": len(clips), "seconds": time.perf_counter() - t0, **result}
            with open(args.out, "a") as f:
                f.write(json.dumps(row) + "\n")
            print(f"{model} {config}: vocals SDR median {result['median']:.2f} mean {result['mean']:.2f} "
                  f"({row['seconds']:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
