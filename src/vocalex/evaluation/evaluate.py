"""Scoring separation systems on a dataset (``vocalex eval`` and benchmarks/eval_musdb.py call :func:`evaluate`).

Every system (vocalex offline, vocalex stream, and with ``baselines`` the mixture, centre cancellation,
REPET-SIM and Spleeter 2-stem) separates the same mixtures (the sum of the stems), and every estimate is
scored with the same metric at the dataset's own sample rate: the plain SDR of
:func:`vocalex.evaluation.metrics.sdr` per track and stem, aggregated as median and mean over tracks; with
``museval`` also BSSEval v4. For MUSDB18 the default split is the validation split of data/splits.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from vocalex.base.errors import UsageError
from vocalex.base.machine import machine_info
from vocalex.data.datasets import open_dataset
from vocalex.engine import Separator
from vocalex.engine.config import latency, resolve_stream
from vocalex.engine.registry import is_name
from vocalex.evaluation import baselines as baselines_module
from vocalex.evaluation.metrics import aggregate, bsseval_v4, sdr

STEMS = ("vocals", "accompaniment")


def open_eval_dataset(path, split: str = "auto"):
    """The dataset and the split actually used: 'auto' picks 'valid' for MUSDB18, every track otherwise."""
    if split == "all":
        return open_dataset(path, split=None), "all"
    if split != "auto":
        return open_dataset(path, split=split), split
    everything = open_dataset(path, split=None)
    if everything.layout == "musdb18":
        return open_dataset(path, split="valid"), "valid"
    return everything, "all"


def vocalex_systems(separator, mode: str, stride, lookahead, wiener: bool = False, label: str = "vocalex") -> dict:
    """{system name: (function(mixture, rate) -> stems, extra info)} for the requested vocalex modes.

    ``wiener`` adds offline mode with multichannel Wiener filtering (only where offline mode is scored).
    ``stride`` / ``lookahead`` (frames, or milliseconds as "20ms"; None: the default) are resolved once, for this
    model (engine.config.resolve_stream); the stream system's info keeps its config under "stream_config".
    """
    if wiener and mode not in ("offline", "both"):
        raise UsageError("`wiener` scores offline mode; use it with `mode` offline or `mode` both")
    config = resolve_stream(separator.profile, stride, lookahead)  # checked whatever the mode: a bad value is refused
    systems = {}
    if mode in ("offline", "both"):
        systems[f"{label} offline"] = (lambda x, sr: separator.separate(x, sr, mode="offline"), {"kind": "vocalex", "mode": "offline"})
    if wiener:
        systems[f"{label} offline+wiener"] = (lambda x, sr: separator.separate(x, sr, mode="offline", wiener=True),
                                              {"kind": "vocalex", "mode": "offline", "wiener": True})
    if mode in ("stream", "both"):
        given = {name: getattr(config, name) for name, value in (("stride", stride), ("lookahead", lookahead)) if value is not None}
        systems[f"{label} stream"] = (
            lambda x, sr: separator.separate(x, sr, config=config),
            {"kind": "vocalex", "mode": "stream", "stream_config": (separator.profile, config), **given},
        )
    return systems


def model_label(model) -> str:
    """A short name for a model in a table: its registered name, or its file's stem; None -> 'default'."""
    if model is None or is_name(model):
        return model or "default"
    return Path(model).stem


def stream_latency_ms(profile, config, sample_rate: int) -> dict:
    """The stream mode's algorithmic latency at ``sample_rate``: {"samples", "ms", "stride", "lookahead"}.

    Computed (engine.config.latency), not read off a built stream; the channel count does not change it.
    """
    samples = latency(profile, config, sample_rate)
    return {"samples": samples, "ms": 1000.0 * samples / sample_rate, "stride": config.stride, "lookahead": config.lookahead}


def evaluate(
    dataset,
    split: str = "auto",
    mode: str = "offline",
    wiener: bool = False,
    baselines: bool = False,
    museval: bool = False,
    model=None,
    provider: str = "cpu",
    threads=None,
    stride=None,
    lookahead=None,
    limit=None,
    progress: bool = False,
    baseline_names=None,
) -> dict:
    """Score every system on every track; returns the JSON-ready results dict (schema in tests/cli/test_eval_cli.py).

    ``model``: one model (path, name or None for the bundled one; its systems are
    "vocalex offline" / "vocalex stream") or a list of them, scored side by side
    as "vocalex NAME offline" / "vocalex NAME stream".
    """
    ds, split_used = open_eval_dataset(dataset, split)
    tracks = ds.tracks[:limit] if limit else ds.tracks
    models = list(model) if isinstance(model, (list, tuple)) else [model]
    systems, profiles = _vocalex_systems_of(models, mode, stride, lookahead, wiener, provider, threads)
    skipped = _add_baselines(systems, baseline_names, threads) if baselines else {}
    stream_configs = {name: info.pop("stream_config") for name, (_, info) in systems.items() if "stream_config" in info}
    per_system = {name: {**info, "tracks": [], "compute_s": 0.0} for name, (_, info) in systems.items()}
    audio_seconds, latency_of = _score(tracks, systems, per_system, stream_configs, museval, progress)
    for name, entry in per_system.items():
        _summarise(entry, audio_seconds, museval)
        if name in latency_of:
            entry["latency"] = latency_of[name]
    return {
        "schema": "vocalex.eval/1",
        "dataset": str(dataset),
        "layout": ds.layout,
        "split": split_used,
        "n_tracks": len(tracks),
        "audio_seconds": audio_seconds,
        "metric": "sdr" + ("+museval" if museval else ""),
        "aggregation": "median and mean over tracks",
        "model": next(iter(profiles.values())),
        "models": profiles,
        "provider": provider,
        "machine": machine_info(provider),
        "systems": per_system,
        "skipped": skipped,
    }


def _vocalex_systems_of(models, mode, stride, lookahead, wiener, provider, threads) -> tuple[dict, dict]:
    """({system name: (function, info)}, {model label: profile}) for every model to score."""
    if len(models) > 1 and len({model_label(m) for m in models}) < len(models):
        raise UsageError("the models to compare need distinct names: " + ", ".join(model_label(m) for m in models))
    systems, profiles = {}, {}
    for m in models:
        separator = Separator.load(model=m, provider=provider, threads=threads)
        label = "vocalex" if len(models) == 1 else f"vocalex {model_label(m)}"
        profiles[model_label(m)] = separator.profile.describe()
        for name, (fn, info) in vocalex_systems(separator, mode, stride, lookahead, wiener, label).items():
            systems[name] = (fn, {**info, "model": model_label(m)})
    return systems, profiles


def _add_baselines(systems: dict, names, threads) -> dict:
    """Add the runnable baselines to ``systems``; returns {label: why not} for those that cannot run here."""
    runnable, skipped = baselines_module.load_baselines(names or baselines_module.BASELINES, threads=threads)
    for name, fn in runnable.items():
        systems[baselines_module.LABELS[name]] = (fn, {"kind": "baseline", "baseline": name, "note": baselines_module.NOTES[name]})
    return {baselines_module.LABELS[k]: v for k, v in skipped.items()}


def _score(tracks, systems, per_system, stream_configs, museval, progress) -> tuple[float, dict]:
    """Run every system on every track into per_system[name]["tracks"]; (seconds of audio, {name: latency})."""
    audio_seconds, latency_of = 0.0, {}
    with _progress(progress, len(tracks) * len(systems)) as bar:
        task = bar.add_task("evaluating", total=len(tracks) * len(systems)) if bar else None
        for track in tracks:
            rate = track.rate()
            stems = track.load(sample_rate=rate)
            mixture = stems["mixture"]
            audio_seconds += len(mixture) / rate
            for name, (profile, config) in stream_configs.items():
                latency_of.setdefault(name, stream_latency_ms(profile, config, rate))
            for name, (fn, _) in systems.items():
                if bar:
                    bar.update(task, description=f"{name}: {track.name[:40]}")
                per_system[name]["tracks"].append(_score_one(fn, track.name, mixture, stems, rate, museval))
                per_system[name]["compute_s"] += per_system[name]["tracks"][-1]["compute_s"]
                if bar:
                    bar.advance(task)
    return audio_seconds, latency_of


def _score_one(fn, name: str, mixture, stems: dict, rate: int, museval: bool) -> dict:
    """One system on one track: {"name", "seconds", "compute_s", "vocals", "accompaniment", "museval"?}."""
    t0 = time.perf_counter()
    estimates = fn(mixture, rate)
    elapsed = time.perf_counter() - t0
    row = {"name": name, "seconds": len(mixture) / rate, "compute_s": elapsed}
    shaped = {s: np.asarray(estimates[s], dtype=np.float32).reshape(stems[s].shape) for s in STEMS}
    for stem in STEMS:
        row[stem] = sdr(stems[stem], shaped[stem])
    if museval:
        row["museval"] = bsseval_v4({s: stems[s] for s in STEMS}, shaped, rate)
    return row


def _summarise(entry: dict, audio_seconds: float, museval: bool) -> None:
    """A system's medians and means over its tracks, and its speed, into ``entry``."""
    entry["summary"] = {stem: aggregate(r[stem] for r in entry["tracks"]) for stem in STEMS}
    if museval:
        entry["summary_museval"] = {
            stem: {m: aggregate(r["museval"][stem][m] for r in entry["tracks"]) for m in ("SDR", "SIR", "ISR", "SAR")}
            for stem in STEMS
        }
    entry["x_realtime"] = audio_seconds / entry["compute_s"] if entry["compute_s"] > 0 else None


class _NoProgress:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _progress(enabled: bool, total: int):
    if not enabled:
        return _NoProgress()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True)
