"""The measurements behind ``vocalex bench [SONG]``: how late and how fast, for one model and provider, on this machine.

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

import time
from pathlib import Path

from vocalex.engine.config import resolve_stream  # import-light: the standard library only

# module level: only the standard library (the CLI's parser reads STREAM_BLOCK; numpy loads in the functions)
DEFAULT_SONG = "demo_lets_go_fishin_30s.ogg"  # in vocalex/engine/assets
STREAM_BLOCK = 256  # host samples per process() call, a common live buffer size


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

    from vocalex.files.audio_io import AudioReader

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
    from vocalex.files.audio_io import AtomicAudioWriter

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


def latency_budget(separator, host_rate: int, channels: int, config, block: int = STREAM_BLOCK) -> dict:
    """The algorithmic latency of the stream `vocalex live` runs with ``config``'s stride and lookahead (a
    StreamConfig), split into its parts, in ms at ``host_rate``: live's low-delay synthesis and fixed device
    blocks of ``block`` samples (StreamConfig.block, at the model's rate only), so that the total is
    engine.config.latency of that config, the number `vocalex live` and the benchmarks print for it.

    Parts: the STFT delay (one hop with low-delay synthesis, n_fft - hop with Hann), (stride - 1) hops
    waiting for the stride, lookahead hops, the hold (one hop less the blocks' granularity), and resampling =
    the rest of the total when the host rate differs.
    """
    import math

    from dataclasses import replace

    from vocalex.engine.config import describe_stream, latency
    from vocalex.engine.stft import stft_delay

    p = separator.profile
    block = block if host_rate == p.sample_rate else None
    config = replace(config, synthesis="low-delay", block=block)
    stride, lookahead, synthesis = config.stride, config.lookahead, config.synthesis
    total = latency(p, config, host_rate)
    m = 1000.0 / p.sample_rate
    parts = {
        "alignment_ms": stft_delay(p.n_fft, p.hop_length, synthesis) * m,
        "stride_wait_ms": (stride - 1) * p.hop_length * m,
        "lookahead_ms": lookahead * p.hop_length * m,
        "hop_hold_ms": (p.hop_length - (math.gcd(block, stride * p.hop_length) if block else 1)) * m,
    }
    algorithmic_ms = 1000.0 * total / host_rate
    parts["resampling_ms"] = max(0.0, algorithmic_ms - sum(parts.values()))
    return {
        "host_rate": host_rate,
        "model_rate": p.sample_rate,
        "window_ms": p.n_fft * m,
        "hop_ms": p.hop_length * m,
        "stride_frames": stride,
        "lookahead_frames": lookahead,
        "synthesis": synthesis,
        "device_block": block,
        "configuration": describe_stream(config.resolve(p), p.model_version, host_rate),
        "call_period_ms": stride * p.hop_length * m,
        **parts,
        "algorithmic_samples": int(total),
        "algorithmic_ms": algorithmic_ms,
    }


def bench(song=None, model=None, provider="cpu", threads=None, stride=None, lookahead=None,
          host_rate=None, block=STREAM_BLOCK, seconds=None, wiener=False) -> dict:
    """Run the three measurements; returns the JSON-ready dict (schema in tests/cli/test_bench_cli.py)."""
    from vocalex.engine import Separator

    from vocalex.base.machine import machine_info

    song = Path(song) if song is not None else default_song()
    loaded = Separator.load(model=model, provider=provider, threads=threads)
    timed = TimedModel(loaded.model)
    separator = Separator(timed)
    profile = separator.profile
    config = resolve_stream(profile, stride, lookahead)  # lookahead: frames, or "20ms"
    audio, rate = decode(song, seconds)
    channels = audio.shape[1]
    duration = len(audio) / rate

    # Warm-up: numba compiles the STFT kernels and ONNX Runtime plans on first use.
    warm = audio[: min(len(audio), rate)]
    separator.separate(warm, rate, mode="offline")
    separator.separate(warm, rate, config=config)

    # Stream mode, host-sized blocks, as a live callback would feed it.
    stream = separator.stream(rate, channels, config=config)
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

    budget = latency_budget(separator, host_rate or profile.sample_rate, channels, config)
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

