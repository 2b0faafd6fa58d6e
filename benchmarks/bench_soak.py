"""Soak: stream an hour (or more) of audio through one StreamSeparator, faster than real time.

Checks, printed as numbers:
* latency drift: vocals + accompaniment must equal the input delayed by exactly
  ``latency`` samples for the whole run; the max abs error per minute and the
  position of a click placed at the start of every minute show any drift;
* memory: resident set size sampled every minute of audio (growth = leak);
* block-size invariance at length: the output of random host block sizes is
  compared with the same audio processed in one piece (one process() call per
  minute-long piece vs random blocks would be equal only if state is kept exactly).

Usage: python3 benchmarks/bench_soak.py --model MODEL.onnx [--minutes 60] [--rate 48000]
The rate defaults to 48 kHz so that both streaming resamplers (host -> model rate and back) run for the whole hour.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

from _common import machine, rss_mib


def minute_of_audio(index: int, rate: int, channels: int) -> np.ndarray:
    """Deterministic 'music' for minute `index`: tones that change each minute, noise, and a click at its start."""
    rng = np.random.default_rng(index)
    n = 60 * rate
    t = (np.arange(n) + index * n) / rate
    f0 = 110 * 2 ** (rng.integers(0, 24) / 12)
    x = np.empty((n, channels), np.float32)
    for c in range(channels):
        x[:, c] = 0.2 * np.sin(2 * np.pi * f0 * (1 + 0.01 * c) * t) + 0.1 * np.sin(2 * np.pi * 3 * f0 * t)
    x += 0.02 * rng.standard_normal((n, channels)).astype(np.float32)
    x[0] = 0.9  # the click: its position in the dry output reveals the delay
    return x


def run(model, minutes, rate, channels, stride, lookahead, seed=0):
    from vocalex.engine import Separator

    sep = Separator.load(model)
    random_blocks = sep.stream(rate, channels, stride=stride, lookahead=lookahead)
    one_piece = sep.stream(rate, channels, stride=stride, lookahead=lookahead)
    latency = random_blocks.latency
    rng = np.random.default_rng(seed)
    print(f"machine: {machine()}")
    print(f"model: {Path(sep.model.path).name}  stride {stride}  lookahead {lookahead}  host rate {rate} Hz  "
          f"model rate {sep.profile.sample_rate} Hz  channels {channels}  latency {latency} samples")
    print(f"{'minute':>6} {'rss MiB':>8} {'sum err':>9} {'click at':>9} {'piece==blocks':>13} {'x real time':>11}")
    carry = np.zeros((latency, channels), np.float32)  # the input still inside the stream
    rss0 = None
    worst_err, worst_diff, clicks = 0.0, 0.0, []
    t_start = time.perf_counter()
    for m in range(minutes):
        x = minute_of_audio(m, rate, channels)
        t0 = time.perf_counter()
        outs_v, outs_a = [], []
        pos = 0
        while pos < len(x):
            n = int(rng.choice([1, 40, 127, 128, 129, 333, 1024, 8193]))
            o = random_blocks.process(x[pos:pos + n])
            outs_v.append(o["vocals"])
            outs_a.append(o["accompaniment"])
            pos += n
        v = np.concatenate(outs_v)
        a = np.concatenate(outs_a)
        elapsed = time.perf_counter() - t0
        piece = one_piece.process(x)
        diff = float(max(np.max(np.abs(piece["vocals"] - v)), np.max(np.abs(piece["accompaniment"] - a))))
        # Output sample i is input sample i - latency: compare with the delayed input.
        delayed = np.concatenate([carry, x])[: len(x)]
        carry = np.concatenate([carry, x])[len(x):]
        err = float(np.max(np.abs(v + a - delayed)))
        click = int(np.argmax(np.abs(v[:, 0] + a[:, 0]) > 0.85))
        clicks.append(click)
        worst_err, worst_diff = max(worst_err, err), max(worst_diff, diff)
        rss = rss_mib()
        rss0 = rss if m == 0 else rss0
        print(f"{m + 1:>6} {rss:>8.1f} {err:>9.2e} {click:>9} {'yes' if diff <= 1e-5 else f'no {diff:.1e}':>13} "
              f"{60 / elapsed:>11.1f}", flush=True)
    total = time.perf_counter() - t_start
    print(f"\n{minutes} min of audio in {total / 60:.1f} min ({minutes * 60 / total:.1f}x real time, both streams)")
    print(f"latency drift: clicks at output sample {sorted(set(clicks))} of each minute (expected {latency} every minute)")
    print(f"stems sum to the delayed input: max abs error {worst_err:.2e} over the whole run")
    print(f"random blocks vs one piece per minute: max abs difference {worst_diff:.2e}")
    print(f"memory: rss {rss0:.1f} MiB after minute 1, {rss:.1f} MiB after minute {minutes} "
          f"(growth {rss - rss0:+.1f} MiB)")
    return {"clicks": clicks, "err": worst_err, "diff": worst_diff, "rss_growth": rss - rss0}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="ONNX model (default: the bundled model)")
    ap.add_argument("--minutes", type=int, default=60)
    ap.add_argument("--rate", type=int, default=48000, help="host sample rate (default 48000: resampling on)")
    ap.add_argument("--channels", type=int, default=2)
    ap.add_argument("--stride", type=int, default=4)
    ap.add_argument("--lookahead", type=int, default=0)
    a = ap.parse_args()
    r = run(a.model, a.minutes, a.rate, a.channels, a.stride, a.lookahead)
    ok = len(set(r["clicks"][1:])) <= 1 and r["err"] < 1e-4 and r["diff"] <= 1e-5
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
