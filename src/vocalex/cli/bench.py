"""``vocalex bench [SONG]``: how late and how fast, for one model and provider, on this machine.

Three measurements, all on the same song:

* the latency budget of stream mode at the host rate: STFT alignment
  (n_fft - hop), waiting for the stride and the lookahead, the sample-accurate
  hold of one hop, resampling (when the host rate differs from the model's),
  and the compute time of one model call (p50 / p99 over the song's calls);
  total = algorithmic latency + p99 compute (a live engine must budget the
  slow calls; device buffers come on top and are what ``--live`` measures);
* the real-time factor of stream mode: compute time / audio time when the song
  is pushed through ``StreamSeparator.process`` in host-sized blocks;
* the throughput of offline mode, whole pipeline: decode the file, separate
  (STFT, model, inverse STFT), encode both stems to WAV in a temporary folder;
  in x real time, with a per-stage breakdown.

Model calls are timed by a thin wrapper around the ONNX session. In offline
mode they run in a worker thread, overlapped with the STFT work of the
neighbouring calls, so the stages are wall-clock decode / separate / encode
(they add up to the total) and the model's compute time is reported beside
them as the part of "separate" spent in ONNX Runtime, not added to it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

DEFAULT_SONG = "demo_lets_go_fishin_30s.ogg"
STREAM_BLOCK = 256  # host samples per process() call, a common live buffer size


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "bench",
        help="latency budget and speed of a model on this machine",
        description="Latency budget, stream real-time factor and offline throughput (whole pipeline) on one song.",
    )
    p.add_argument("song", nargs="?", default=None, help="audio file (default: the bundled 30 s demo song)")
    p.add_argument("--model", default=None, help="ONNX model file or name: default, hq (default: the bundled model)")
    p.add_argument("--provider", choices=("cpu", "cuda"), default="cpu", help="ONNX Runtime provider")
    p.add_argument("--threads", type=int, default=None, help="inference threads (default: ONNX Runtime's choice)")
    p.add_argument("--stride", type=int, default=None, help="stream mode: frames per model call (default: the engine's)")
    p.add_argument("--lookahead", type=int, default=None, help="stream mode: lookahead frames (default: the engine's)")
    p.add_argument("--rate", type=int, default=None, help="host sample rate for the latency budget (default: the model's)")
    p.add_argument("--block", type=int, default=STREAM_BLOCK, help=f"stream mode: host block size (default {STREAM_BLOCK})")
    p.add_argument("--seconds", type=float, default=None, help="use only the first SECONDS of the song")
    p.add_argument("--json", dest="json_path", default=None, metavar="FILE", help="write the results as JSON")
    p.add_argument("--wiener", action="store_true", help="also time offline mode with multichannel Wiener filtering")
    p.add_argument("--live", action="store_true", help="also measure end-to-end latency through JACK by loopback")
    p.add_argument("--start-server", action="store_true",
                   help="with --live: start a private JACK dummy server for the measurement (no sound card needed)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from vocalex.engine.errors import UsageError

    from .eval import _check_writable, write_json

    if args.block < 1:
        raise UsageError(f"--block must be at least 1, got {args.block}")
    if args.seconds is not None and args.seconds <= 0:
        raise UsageError(f"--seconds must be positive, got {args.seconds}")
    if args.json_path is not None:
        _check_writable(args.json_path)
    if args.start_server and not args.live:
        raise UsageError("--start-server starts a JACK server for --live; add --live")

    from vocalex.export.models import ensure

    ensure(args.model)  # a named model (hq) is converted on first use
    live = None
    if args.live:
        # First, so a missing JACK server fails in a second rather than after the whole bench.
        import contextlib

        from vocalex.live.jack_dummy import dummy_jack_server
        from vocalex.live.loopback import format_latency, measure_latency

        with dummy_jack_server() if args.start_server else contextlib.nullcontext():
            live = measure_latency(
                model=args.model, provider=args.provider, threads=args.threads, stride=args.stride, lookahead=args.lookahead
            )
    results = bench(
        song=args.song,
        model=args.model,
        provider=args.provider,
        threads=args.threads,
        stride=args.stride,
        lookahead=args.lookahead,
        host_rate=args.rate,
        block=args.block,
        seconds=args.seconds,
        wiener=args.wiener,
    )
    if live is not None:
        results["live"] = live
    print_report(results)
    if live is not None:
        print(format_latency(live))
    if args.json_path is not None:
        write_json(results, args.json_path)
        print(f"wrote {args.json_path}")
    return 0


class TimedModel:
    """Wraps an OnnxModel: same ``profile`` and ``run``, and records the seconds of every call."""

    def __init__(self, model):
        self._model = model
        self.profile = model.profile
        self.calls: list[float] = []

    def run(self, magnitude):
        """magnitude: float32 (batch, n_bins, n_frames) -> mask, same shape (timed)."""
        t0 = time.perf_counter()
        out = self._model.run(magnitude)
        self.calls.append(time.perf_counter() - t0)
        return out

    def __getattr__(self, name):  # path, provider, describe() ... of the wrapped model
        return getattr(self._model, name)


def default_song() -> Path:
    from importlib import resources

    return Path(str(resources.files("vocalex.engine") / "assets" / DEFAULT_SONG))


def decode(path, seconds=None):
    """Read a whole file through the engine's reader -> (float32 (frames, channels), rate)."""
    import numpy as np

    from vocalex.engine.audio_io import AudioReader

    with AudioReader(path) as reader:
        limit = None if seconds is None else int(round(seconds * reader.sample_rate))
        blocks = []
        got = 0
        for block in reader.blocks():
            blocks.append(block)
            got += len(block)
            if limit is not None and got >= limit:
                break
        audio = np.concatenate(blocks)[:limit]
        return audio, reader.sample_rate


def encode(stems: dict, sample_rate: int, folder) -> None:
    """Write each stem float (frames, channels) as folder/<stem>.wav with the engine's atomic writer."""
    from vocalex.engine.audio_io import AtomicAudioWriter

    for name, audio in stems.items():
        audio = audio if audio.ndim == 2 else audio[:, None]
        with AtomicAudioWriter(Path(folder) / f"{name}.wav", sample_rate, audio.shape[1]) as writer:
            writer.write(audio)
            writer.commit()


def time_file_pipeline(separate, song, seconds=None) -> dict:
    """Whole offline pipeline on one file, timed per stage: decode, separate(audio, rate), encode to temp WAVs.

    ``separate`` maps float32 (frames, channels) and a rate to {"vocals",
    "accompaniment"}. Returns {"seconds_audio", "decode_s", "separate_s",
    "encode_s", "total_s", "x_realtime"}. Used for vocalex and for the
    Spleeter peer alike, so both pay the same decoding and encoding.
    """
    import tempfile

    t0 = time.perf_counter()
    audio, rate = decode(song, seconds)
    t1 = time.perf_counter()
    stems = separate(audio, rate)
    t2 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vocalex-bench-") as tmp:
        encode(stems, rate, tmp)
        t3 = time.perf_counter()
    seconds_audio = len(audio) / rate
    return {
        "seconds_audio": seconds_audio,
        "decode_s": t1 - t0,
        "separate_s": t2 - t1,
        "encode_s": t3 - t2,
        "total_s": t3 - t0,
        "x_realtime": seconds_audio / (t3 - t0),
    }


def _ms_stats(seconds_list) -> dict:
    import numpy as np

    if not seconds_list:
        return {"p50": None, "p99": None, "max": None, "n": 0}
    ms = 1000.0 * np.asarray(seconds_list)
    return {"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)), "max": float(ms.max()), "n": int(ms.size)}


def latency_budget(separator, host_rate: int, channels: int, stride=None, lookahead=None) -> dict:
    """The stream mode's algorithmic latency split into its parts, in ms at ``host_rate``.

    Parts follow engine/stream.py: alignment n_fft - hop, (stride - 1) hops
    waiting for the stride, lookahead hops, one hop - 1 sample of hold, and
    resampling = the rest of ``stream.latency`` when the host rate differs.
    """
    p = separator.profile
    kwargs = {k: v for k, v in (("stride", stride), ("lookahead", lookahead)) if v is not None}
    stream = separator.stream(host_rate, channels, **kwargs)
    m = 1000.0 / p.sample_rate
    parts = {
        "alignment_ms": (p.n_fft - p.hop_length) * m,
        "stride_wait_ms": (stream.stride - 1) * p.hop_length * m,
        "lookahead_ms": stream.lookahead * p.hop_length * m,
        "hop_hold_ms": (p.hop_length - 1) * m,
    }
    algorithmic_ms = 1000.0 * stream.latency / host_rate
    parts["resampling_ms"] = max(0.0, algorithmic_ms - sum(parts.values()))
    return {
        "host_rate": host_rate,
        "model_rate": p.sample_rate,
        "window_ms": p.n_fft * m,
        "hop_ms": p.hop_length * m,
        "stride_frames": stream.stride,
        "lookahead_frames": stream.lookahead,
        "call_period_ms": stream.stride * p.hop_length * m,
        **parts,
        "algorithmic_samples": int(stream.latency),
        "algorithmic_ms": algorithmic_ms,
    }


def bench(song=None, model=None, provider="cpu", threads=None, stride=None, lookahead=None,
          host_rate=None, block=STREAM_BLOCK, seconds=None, wiener=False) -> dict:
    """Run the three measurements; returns the JSON-ready dict (schema in tests/test_bench_cli.py)."""
    from vocalex.engine import Separator

    from vocalex.evaluation.machine import machine_info

    song = Path(song) if song is not None else default_song()
    loaded = Separator.load(model=model, provider=provider, threads=threads)
    timed = TimedModel(loaded.model)
    separator = Separator(timed)
    profile = separator.profile
    audio, rate = decode(song, seconds)
    channels = audio.shape[1]
    duration = len(audio) / rate

    # Warm-up: numba compiles the STFT kernels and ONNX Runtime plans on first use.
    warm = audio[: min(len(audio), rate)]
    separator.separate(warm, rate, mode="offline")
    separator.separate(warm, rate, mode="stream", **_stream_kwargs(stride, lookahead))

    # Stream mode, host-sized blocks, as a live callback would feed it.
    kwargs = _stream_kwargs(stride, lookahead)
    stream = separator.stream(rate, channels, **kwargs)
    timed.calls.clear()
    block_times = []
    t0 = time.perf_counter()
    for i in range(0, len(audio), block):
        b0 = time.perf_counter()
        stream.process(audio[i:i + block])
        block_times.append(time.perf_counter() - b0)
    stream_s = time.perf_counter() - t0
    stream_calls = list(timed.calls)
    call_stats = _ms_stats(stream_calls)

    budget = latency_budget(separator, host_rate or profile.sample_rate, channels, stride, lookahead)
    budget["compute_ms_p50"] = call_stats["p50"]
    budget["compute_ms_p99"] = call_stats["p99"]
    budget["total_ms"] = budget["algorithmic_ms"] + (call_stats["p99"] or 0.0)

    # Offline mode, whole pipeline, with the model's share from the timed calls.
    timed.calls.clear()
    offline = time_file_pipeline(lambda x, sr: separator.separate(x, sr, mode="offline"), song, seconds)
    model_s = float(sum(timed.calls))
    offline["stages"] = {
        "decode_s": offline["decode_s"],
        "separate_s": offline["separate_s"],
        "encode_s": offline["encode_s"],
    }
    offline["model_s"] = model_s  # inside separate_s, overlapped with STFT work: not a stage of its own
    offline["model_calls"] = len(timed.calls)
    extra = {}
    if wiener:  # the same pipeline with the filter on: what --wiener costs
        extra["offline_wiener"] = time_file_pipeline(lambda x, sr: separator.separate(x, sr, mode="offline", wiener=True),
                                                     song, seconds)

    return {
        "schema": "vocalex.bench/1",
        "machine": machine_info(provider),
        "provider": provider,
        "threads": threads,
        "model": {**profile.describe(), "path": str(loaded.model.path)},
        "song": {"path": str(song), "seconds": duration, "sample_rate": rate, "channels": channels},
        "latency": budget,
        "stream": {
            "block": block,
            "seconds_audio": duration,
            "compute_s": stream_s,
            "real_time_factor": stream_s / duration,
            "calls": call_stats["n"],
            "call_ms": call_stats,
            "block_ms": _ms_stats(block_times),
            "block_period_ms": 1000.0 * block / rate,
        },
        "offline": offline,
        "compute_times_ms": [1000.0 * t for t in stream_calls],
        **extra,
    }


def _stream_kwargs(stride, lookahead) -> dict:
    return {k: v for k, v in (("stride", stride), ("lookahead", lookahead)) if v is not None}


def print_report(results: dict) -> None:
    """Latency budget, stream and offline speed as rich tables."""
    from rich.table import Table

    from .eval import wide_console
    from vocalex.evaluation.machine import describe

    console = wide_console()
    lat, st, off = results["latency"], results["stream"], results["offline"]
    m = results["model"]
    console.print(
        f"[bold]vocalex bench[/bold]: {Path(m['path']).name} ({m['model_version']}; {m['sample_rate']} Hz, "
        f"n_fft {m['n_fft']}, hop {m['hop_length']}) on {results['provider']} - {describe(results['machine'])}"
    )
    console.print(f"song: {results['song']['path']} ({results['song']['seconds']:.1f} s)")

    t = Table(title=f"latency budget, stream mode (stride {lat['stride_frames']}, lookahead {lat['lookahead_frames']}, "
                    f"host {lat['host_rate']} Hz)")
    t.add_column("part")
    t.add_column("ms", justify="right")
    rows = [
        (f"STFT window {lat['window_ms']:.1f} ms: alignment n_fft - hop", lat["alignment_ms"]),
        ("waiting for the stride ((stride - 1) hops)", lat["stride_wait_ms"]),
        ("lookahead", lat["lookahead_ms"]),
        ("sample-accurate hold (hop - 1 samples)", lat["hop_hold_ms"]),
        ("resampling", lat["resampling_ms"]),
        ("= algorithmic", lat["algorithmic_ms"]),
        (f"compute per model call p50 (p99 {lat['compute_ms_p99']:.2f})", lat["compute_ms_p50"]),
        ("total = algorithmic + compute p99 (device buffers not included)", lat["total_ms"]),
    ]
    for name, value in rows:
        t.add_row(name, "-" if value is None else f"{value:.2f}")
    console.print(t)

    t = Table(title="speed")
    t.add_column("measure")
    t.add_column("value", justify="right")
    t.add_row(f"stream real-time factor (compute / audio, blocks of {st['block']})", f"{st['real_time_factor']:.3f}")
    t.add_row(f"stream model call p50 / p99 (budget {lat['call_period_ms']:.1f} ms per call)",
              f"{st['call_ms']['p50']:.2f} / {st['call_ms']['p99']:.2f} ms")
    t.add_row("offline throughput, whole pipeline", f"{off['x_realtime']:.1f}x real time")
    for stage, value in off["stages"].items():
        t.add_row(f"  {stage[:-2]}", f"{value:.3f} s ({100 * value / off['total_s']:.0f} %)")
        if stage == "separate_s":
            t.add_row("    of which ONNX Runtime (worker thread, overlapped with the STFT)",
                      f"{off['model_s']:.3f} s ({off['model_calls']} calls)")
    if "offline_wiener" in results:
        t.add_row("offline + Wiener filter (--wiener), whole pipeline", f"{results['offline_wiener']['x_realtime']:.1f}x real time")
    console.print(t)
