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

STEMS = ("vocals", "accompaniment")


def open_eval_dataset(path, split: str = "auto"):
    """The dataset and the split actually used: 'auto' picks 'valid' for MUSDB18, every track otherwise."""
    from vocalex.data.datasets import open_dataset

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
    ``lookahead``: frames, or milliseconds as "20ms" (turned into this model's frames).
    """
    from vocalex.engine.config import parse_lookahead
    from vocalex.base.errors import UsageError

    lookahead = None if lookahead is None else parse_lookahead(lookahead, separator.profile)

    if wiener and mode not in ("offline", "both"):
        raise UsageError("--wiener scores offline mode; use it with --mode offline or --mode both")
    systems = {}
    if mode in ("offline", "both"):
        systems[f"{label} offline"] = (lambda x, sr: separator.separate(x, sr, mode="offline"), {"kind": "vocalex", "mode": "offline"})
    if wiener:
        systems[f"{label} offline+wiener"] = (lambda x, sr: separator.separate(x, sr, mode="offline", wiener=True),
                                              {"kind": "vocalex", "mode": "offline", "wiener": True})
    if mode in ("stream", "both"):
        kwargs = {k: v for k, v in (("stride", stride), ("lookahead", lookahead)) if v is not None}
        systems[f"{label} stream"] = (
            lambda x, sr: separator.separate(x, sr, mode="stream", **kwargs),
            {"kind": "vocalex", "mode": "stream", "separator": separator, **kwargs},
        )
    return systems


def model_label(model) -> str:
    """A short name for a model in a table: its registered name, or its file's stem; None -> 'default'."""
    from vocalex.engine.registry import is_name

    if model is None or is_name(model):
        return model or "default"
    return Path(model).stem


def stream_latency_ms(separator, sample_rate: int, channels: int, stride=None, lookahead=None) -> dict:
    """The stream mode's algorithmic latency at ``sample_rate``: {"samples", "ms", "stride", "lookahead"}.

    Computed (engine.config.latency), not read off a built stream; ``channels`` does not change it.
    """
    from vocalex.engine.config import DEFAULT_LOOKAHEAD, DEFAULT_STRIDE, StreamConfig, latency, parse_lookahead

    config = StreamConfig(DEFAULT_STRIDE if stride is None else stride,
                          parse_lookahead(DEFAULT_LOOKAHEAD if lookahead is None else lookahead, separator.profile))
    samples = latency(separator.profile, config, sample_rate)
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
    import numpy as np

    from vocalex.engine import Separator

    from vocalex.evaluation import baselines as baselines_module
    from vocalex.base.machine import machine_info
    from vocalex.evaluation.metrics import aggregate, bsseval_v4, sdr

    ds, split_used = open_eval_dataset(dataset, split)
    tracks = ds.tracks[:limit] if limit else ds.tracks
    models = list(model) if isinstance(model, (list, tuple)) else [model]
    if len(models) > 1 and len({model_label(m) for m in models}) < len(models):
        from vocalex.base.errors import UsageError

        raise UsageError("the models to compare need distinct names: " + ", ".join(model_label(m) for m in models))
    systems, profiles = {}, {}
    for m in models:
        separator = Separator.load(model=m, provider=provider, threads=threads)
        label = "vocalex" if len(models) == 1 else f"vocalex {model_label(m)}"
        profiles[model_label(m)] = separator.profile.describe()
        for name, (fn, info) in vocalex_systems(separator, mode, stride, lookahead, wiener, label).items():
            systems[name] = (fn, {**info, "model": model_label(m)})
    first_profile = next(iter(profiles.values()))
    skipped = {}
    if baselines:
        names = baseline_names or baselines_module.BASELINES
        runnable, skipped = baselines_module.load_baselines(names, threads=threads)
        for name, fn in runnable.items():
            systems[baselines_module.LABELS[name]] = (fn, {"kind": "baseline", "baseline": name, "note": baselines_module.NOTES[name]})
        skipped = {baselines_module.LABELS[k]: v for k, v in skipped.items()}

    stream_separators = {name: info.pop("separator") for name, (_, info) in systems.items() if "separator" in info}
    per_system = {name: {**info, "tracks": [], "compute_s": 0.0} for name, (_, info) in systems.items()}
    audio_seconds = 0.0
    latency = {}
    task_progress = _progress(progress, len(tracks) * len(systems))
    with task_progress as bar:
        task = bar.add_task("evaluating", total=len(tracks) * len(systems)) if bar else None
        for track in tracks:
            rate = track.rate()
            stems = track.load(sample_rate=rate)
            mixture = stems["mixture"]
            audio_seconds += len(mixture) / rate
            for name, sep in stream_separators.items():
                latency.setdefault(name, stream_latency_ms(sep, rate, mixture.shape[1], stride, lookahead))
            for name, (fn, _) in systems.items():
                if bar:
                    bar.update(task, description=f"{name}: {track.name[:40]}")
                t0 = time.perf_counter()
                estimates = fn(mixture, rate)
                elapsed = time.perf_counter() - t0
                row = {"name": track.name, "seconds": len(mixture) / rate, "compute_s": elapsed}
                for stem in STEMS:
                    est = np.asarray(estimates[stem], dtype=np.float32).reshape(stems[stem].shape)
                    row[stem] = sdr(stems[stem], est)
                if museval:
                    row["museval"] = bsseval_v4(
                        {s: stems[s] for s in STEMS},
                        {s: np.asarray(estimates[s], dtype=np.float32).reshape(stems[s].shape) for s in STEMS},
                        rate,
                    )
                per_system[name]["tracks"].append(row)
                per_system[name]["compute_s"] += elapsed
                if bar:
                    bar.advance(task)

    for name, entry in per_system.items():
        entry["summary"] = {stem: aggregate(r[stem] for r in entry["tracks"]) for stem in STEMS}
        if museval:
            entry["summary_museval"] = {
                stem: {m: aggregate(r["museval"][stem][m] for r in entry["tracks"]) for m in ("SDR", "SIR", "ISR", "SAR")}
                for stem in STEMS
            }
        entry["x_realtime"] = audio_seconds / entry["compute_s"] if entry["compute_s"] > 0 else None
        if name in latency:
            entry["latency"] = latency[name]

    return {
        "schema": "vocalex.eval/1",
        "dataset": str(dataset),
        "layout": ds.layout,
        "split": split_used,
        "n_tracks": len(tracks),
        "audio_seconds": audio_seconds,
        "metric": "sdr" + ("+museval" if museval else ""),
        "aggregation": "median and mean over tracks",
        "model": first_profile,
        "models": profiles,
        "provider": provider,
        "machine": machine_info(provider),
        "systems": per_system,
        "skipped": skipped,
    }


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
