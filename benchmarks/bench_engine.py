"""Engine benchmark: STFT/overlap-add cost per hop, model call cost, real-time factors on the demo song.

    python3 benchmarks/bench_engine.py --model MODEL.onnx [--threads N] [--strides 4,8]

Prints numbers only (no pass/fail), naming the machine. Real-time factor (RTF)
= processing time / audio duration: below 1 is faster than real time. For the
stream mode it also prints the per-block cost distribution for 256-sample host
blocks, which is what a live audio thread sees (a model call lands in one block
out of every `stride`).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

from _common import DEMO_SONG, machine


def pct(values, q) -> float:
    return float(np.percentile(np.asarray(values), q))


def bench_stft(n_fft: int, hop: int, channels: int, frames_per_push: int, hops: int = 2000) -> float:
    """Microseconds per hop for analysis + overlap-add synthesis (unit mask), frames_per_push frames at a time."""
    from vocalex.engine.stft import OlaSynthesizer, StftAnalyzer

    an = StftAnalyzer(n_fft, hop, channels, frames_per_push)
    sy = OlaSynthesizer(n_fft, hop, channels)
    spec = np.zeros((frames_per_push, channels, n_fft // 2 + 1), dtype=np.complex64)
    out = np.zeros((frames_per_push * hop, channels), dtype=np.float32)
    x = np.random.default_rng(0).uniform(-1, 1, (hops * hop, channels)).astype(np.float32)
    block = hop * frames_per_push

    def run(signal):
        for start in range(0, len(signal), block):
            an.push(signal[start:start + block], spec)
            sy.push(spec, out)

    run(x[: block * 10])  # compile / load cached kernels
    t = time.perf_counter()
    run(x)
    return (time.perf_counter() - t) / hops * 1e6


def bench_model(model, batch: int, calls: int = 60) -> tuple[float, float]:
    """(p50, p99) milliseconds per model call at this batch size."""
    p = model.profile
    x = np.random.default_rng(0).random((batch, p.n_bins, p.n_frames), dtype=np.float32)
    for _ in range(3):
        model.run(x)
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        model.run(x)
        times.append((time.perf_counter() - t) * 1e3)
    return pct(times, 50), pct(times, 99)


def bench_live_blocks(model, audio, rate, stride, block=256):
    """Per-block process() times (ms) for a stream fed block by block; returns (rtf, p50, p99, max, block_ms)."""
    from vocalex.engine.config import StreamConfig
    from vocalex.engine.stream import StreamSeparator

    stream = StreamSeparator(model, rate, audio.shape[1], StreamConfig(stride=stride))
    stream.process(audio[: block * 64])  # warm up kernels and the session
    stream.reset()
    audio = audio[: rate * 10]  # 10 s are enough for stable percentiles
    times = []
    t0 = time.perf_counter()
    for start in range(0, len(audio), block):
        t = time.perf_counter()
        stream.process(audio[start:start + block])
        times.append((time.perf_counter() - t) * 1e3)
    total = time.perf_counter() - t0
    return total / (len(audio) / rate), pct(times, 50), pct(times, 99), max(times), 1e3 * block / rate, stream.latency


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="ONNX model (default: the bundled src/vocalex/engine/assets/default.onnx)")
    ap.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads (default: all cores)")
    ap.add_argument("--strides", default="4,8", help="stream strides to time (comma-separated)")
    ap.add_argument("--audio", default=str(DEMO_SONG), help="audio file for the real-time factors (default: the demo song)")
    args = ap.parse_args(argv)

    from vocalex.engine import Separator
    from vocalex.engine.registry import default_model_path

    if args.model is None:
        if not default_model_path().exists():
            print("bench_engine: no bundled model at engine/assets/default.onnx; pass --model MODEL.onnx", file=sys.stderr)
            return 2
        args.model = str(default_model_path())
    import soundfile as sf

    sep = Separator.load(args.model, threads=args.threads)
    p = sep.profile
    audio, rate = sf.read(args.audio, dtype="float32", always_2d=True)
    seconds = len(audio) / rate

    import numba

    print(f"machine: {machine()}; {len(os.sched_getaffinity(0))} cores available, Python {platform.python_version()}, "
          f"numba {numba.__version__}, numpy {np.__version__}")
    print(f"model:   {args.model} ({p.model_version}; {p.sample_rate} Hz, n_fft {p.n_fft}, hop {p.hop_length}, "
          f"{p.n_bins} bins x {p.n_frames} frames), threads {args.threads or 'default'}")
    hop_ms = 1e3 * p.hop_length / p.sample_rate
    print(f"audio:   {args.audio} ({seconds:.1f} s, {rate} Hz, {audio.shape[1]} ch); one hop = {hop_ms:.2f} ms")
    print()
    print("STFT analysis + overlap-add synthesis, microseconds per hop (all channels):")
    for channels in (1, 2):
        one = bench_stft(p.n_fft, p.hop_length, channels, 1)
        four = bench_stft(p.n_fft, p.hop_length, channels, 4)
        print(f"  {channels} ch: {one:7.1f} us/hop one frame per call, {four:7.1f} us/hop four frames per call")
    print()
    print(f"model call, milliseconds (p50 / p99), rows = audio channels ({sep.model.channels} per model example):")
    for batch in sorted({sep.model.rows_for(b) for b in (1, 2, 8)}):
        p50, p99 = bench_model(sep.model, batch)
        print(f"  {batch} rows: {p50:7.2f} / {p99:7.2f} ms")
    print()
    print("real-time factor (processing time / audio time; < 1 is faster than real time):")
    for mode in ("offline", "stream"):
        sep.separate(audio[: rate * 2], rate, mode=mode)  # warm-up
        t = time.perf_counter()
        sep.separate(audio, rate, mode=mode)
        rtf = (time.perf_counter() - t) / seconds
        label = "offline" if mode == "offline" else "stream (stride 4, whole file)"
        print(f"  {label:30s} RTF {rtf:6.3f}  ({1 / rtf:5.1f}x real time)")
    print()
    print("stream fed in 256-sample host blocks (what a live audio thread sees):")
    for stride in [int(s) for s in args.strides.split(",") if s]:
        rtf, p50, p99, worst, block_ms, latency = bench_live_blocks(sep.model, audio, rate, stride)
        print(f"  stride {stride:2d}: RTF {rtf:6.3f}, per block p50 {p50:6.2f} ms, p99 {p99:6.2f} ms, max {worst:6.2f} ms "
              f"(block = {block_ms:.2f} ms), latency {latency} samples = {1e3 * latency / rate:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
