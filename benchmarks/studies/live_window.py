"""What a shorter model window costs and buys in stream mode: vocals SDR and the model call, per window length.

    python3 benchmarks/studies/live_window.py [--split train|valid] [--windows 128,64] [--limit N] [--stride 4]

The live path runs the model on a fixed window every stride frames; the window
is context (the U-Net's output at the newest frames depends on all of it), and
the call's cost grows with it. A model with a dynamic frames axis can run
windows shorter than it was trained on (StreamConfig.window). For each window:
stream mode (low-delay synthesis, the live default) scored on the MUSDB18-7s
clips of --split (median / mean vocals SDR, and paired differences against the
first window), and the model call timed on one ONNX Runtime thread (the live
default), p50 / p99 over 300 calls. Choose on --split train; report --split
valid. Writes benchmarks/studies/results/live_window_<split>.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/_common.py
from _common import STUDY_RESULTS, add_data_option, model_call_ms, write_json  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="ONNX model with a dynamic frames axis (default: the bundled model)")
    add_data_option(p)
    p.add_argument("--split", default="train", choices=("train", "valid"))
    p.add_argument("--windows", default="128,64")
    p.add_argument("--stride", type=int, default=4)
    p.add_argument("--limit", type=int, default=None)
    args = p.parse_args(argv)

    from vocalex.data.datasets import open_dataset
    from vocalex.engine import Separator
    from vocalex.engine.config import StreamConfig
    from vocalex.base.machine import describe, machine_info
    from vocalex.evaluation.metrics import sdr

    windows = [int(w) for w in args.windows.split(",")]
    sep = Separator.load(args.model, threads=1)
    tracks = open_dataset(args.data, split=args.split).tracks[: args.limit]
    scores = {w: [] for w in windows}
    for i, track in enumerate(tracks):
        stems = track.load(sep.profile.sample_rate)
        for w in windows:
            config = StreamConfig(args.stride, 0, "low-delay", window=w)
            scores[w].append(sdr(stems["vocals"], sep.separate(stems["mixture"], sep.profile.sample_rate, config=config)["vocals"]))
        print(f"  {i + 1}/{len(tracks)} {track.name}: " + "  ".join(f"{w}: {scores[w][-1]:.2f}" for w in windows), flush=True)
    machine = machine_info()
    result = {"schema": "vocalex.live_window/1", "split": args.split, "clips": len(tracks), "stride": args.stride,
              "synthesis": "low-delay", "model": sep.profile.model_version, "machine": machine, "windows": {}}
    base = windows[0]
    print(f"\n{args.split} clips: {len(tracks)}, stride {args.stride}, low-delay synthesis; model call on 1 thread "
          f"({describe(machine)})")
    for w in windows:
        diff = [a - b for a, b in zip(scores[w], scores[base])]
        timing = model_call_ms(sep.model, 2, w, calls=300, warm=20)
        result["windows"][str(w)] = {"vocals_sdr": scores[w], "median": statistics.median(scores[w]),
                                     "mean": statistics.mean(scores[w]), "paired_median_vs_first": statistics.median(diff),
                                     "paired_mean_vs_first": statistics.mean(diff),
                                     "better_than_first": sum(d > 0 for d in diff), "call_ms": timing}
        print(f"  window {w:4d}: vocals SDR median {statistics.median(scores[w]):.2f} mean {statistics.mean(scores[w]):.2f}"
              f" (paired vs {base}: median {statistics.median(diff):+.3f} mean {statistics.mean(diff):+.3f}, better on "
              f"{sum(d > 0 for d in diff)} of {len(diff)}); model call p50 {timing['p50']:.2f} ms p99 {timing['p99']:.2f} ms")
    write_json(result, STUDY_RESULTS / f"live_window_{args.split}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
