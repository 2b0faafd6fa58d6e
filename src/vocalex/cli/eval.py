"""``vocalex eval DATASET``: SDR of vocalex and the baselines on the same clips, side by side.

Every system (vocalex offline, vocalex stream, and with ``--baselines`` the
mixture, centre cancellation, REPET-SIM and Spleeter 2-stem) separates the
same mixtures (the sum of the stems), and every estimate is scored with the
same metric at the dataset's own sample rate: the plain SDR of
:func:`vocalex.evaluation.metrics.sdr` per track and stem, aggregated as
median and mean over tracks; with ``--museval`` also BSSEval v4 (median over
1 s windows, then over tracks). For MUSDB18 the default split is the
validation split of training/splits.py, so the numbers are on held-out clips.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

STEMS = ("vocals", "accompaniment")
SPLIT_CHOICES = ("auto", "valid", "train", "test", "all")
MODE_CHOICES = ("offline", "stream", "both")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "eval",
        help="score vocalex (and baselines) on a multitrack dataset",
        description="Per-track SDR of vocals and accompaniment on MUSDB18 / MUSDB18-HQ / DSD100 / a folder of stems.",
    )
    p.add_argument("dataset", help="dataset folder (MUSDB18 .stem.mp4, MUSDB18-HQ, DSD100, or one folder of stems per track)")
    p.add_argument("--split", choices=SPLIT_CHOICES, default="auto",
                   help="tracks to score; auto = the validation split for MUSDB18, every track otherwise")
    p.add_argument("--mode", choices=MODE_CHOICES, default="offline", help="vocalex mode(s) to score (default offline)")
    p.add_argument("--wiener", action="store_true",
                   help="also score offline mode with multichannel Wiener filtering (a 'vocalex offline+wiener' row)")
    p.add_argument("--baselines", action="store_true",
                   help="also score the mixture, centre cancellation, REPET-SIM and Spleeter 2-stem")
    p.add_argument("--museval", action="store_true", help="also compute BSSEval v4 (museval) SDR/SIR/SAR/ISR")
    p.add_argument("--model", action="append", default=None, metavar="MODEL",
                   help="ONNX model file or name (default, hq); repeat to score several models in the same run "
                        "(default: the bundled model)")
    p.add_argument("--provider", choices=("cpu", "cuda"), default="cpu", help="ONNX Runtime provider")
    p.add_argument("--threads", type=int, default=None, help="inference threads (default: ONNX Runtime's choice)")
    p.add_argument("--stride", type=int, default=None, help="stream mode: frames per model call (default: the engine's)")
    p.add_argument("--lookahead", type=int, default=None, help="stream mode: lookahead frames (default: the engine's)")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="score only the first N tracks")
    p.add_argument("--json", dest="json_path", default=None, metavar="FILE", help="write the full results as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from vocalex.engine.errors import UsageError

    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit must be at least 1, got {args.limit}")
    if args.wiener and args.mode == "stream":
        raise UsageError("--wiener scores offline mode; use it with --mode offline or --mode both")
    if args.json_path is not None:
        _check_writable(args.json_path)
    from vocalex.export.models import ensure

    for model in args.model or []:
        ensure(model)  # a named model (hq) is converted on first use
    if args.museval:
        from vocalex.evaluation.metrics import museval_available

        if not museval_available():
            raise UsageError("--museval needs the package museval (pip install 'vocalex[eval]')")
    results = evaluate(
        args.dataset,
        split=args.split,
        mode=args.mode,
        wiener=args.wiener,
        baselines=args.baselines,
        museval=args.museval,
        model=args.model,
        provider=args.provider,
        threads=args.threads,
        stride=args.stride,
        lookahead=args.lookahead,
        limit=args.limit,
        progress=True,
    )
    print_table(results)
    if args.json_path is not None:
        write_json(results, args.json_path)
        print(f"wrote {args.json_path}")
    return 0


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
    """
    from vocalex.engine.errors import UsageError

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
    """The stream mode's algorithmic latency at ``sample_rate``: {"samples", "ms", "stride", "lookahead"}."""
    kwargs = {k: v for k, v in (("stride", stride), ("lookahead", lookahead)) if v is not None}
    stream = separator.stream(sample_rate, channels, **kwargs)
    return {
        "samples": int(stream.latency),
        "ms": 1000.0 * stream.latency / sample_rate,
        "stride": int(stream.stride),
        "lookahead": int(stream.lookahead),
    }


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
    """Score every system on every track; returns the JSON-ready results dict (schema in tests/test_eval_cli.py).

    ``model``: one model (path, name or None for the bundled one; its systems are
    "vocalex offline" / "vocalex stream") or a list of them, scored side by side
    as "vocalex NAME offline" / "vocalex NAME stream".
    """
    import numpy as np

    from vocalex.engine import Separator

    from vocalex.evaluation import baselines as baselines_module
    from vocalex.evaluation.machine import machine_info
    from vocalex.evaluation.metrics import aggregate, bsseval_v4, sdr

    ds, split_used = open_eval_dataset(dataset, split)
    tracks = ds.tracks[:limit] if limit else ds.tracks
    models = list(model) if isinstance(model, (list, tuple)) else [model]
    if len(models) > 1 and len({model_label(m) for m in models}) < len(models):
        from vocalex.engine.errors import UsageError

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


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.2f}"


def _fmt_speed(x) -> str:
    if x is None:
        return "-"
    return f"{x:.0f}" if x >= 100 else f"{x:.1f}"


def wide_console():
    """A rich Console; when the output is not a terminal (a log, a pipe) it is 140 columns, not 80,
    so the tables are not squeezed into unreadable cells."""
    import sys

    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=140)


def print_table(results: dict) -> None:
    """The summary table: one row per system, SDR median / mean per stem, speed."""
    from rich.table import Table

    from vocalex.evaluation.machine import describe

    museval = "museval" in results["metric"]
    title = (
        f"SDR (dB) on {results['n_tracks']} tracks of {Path(results['dataset']).name} "
        f"(split {results['split']}, {results['audio_seconds']:.0f} s of audio)"
    )
    table = Table(title=title, caption=f"median / mean over tracks; {describe(results['machine'])}")
    table.add_column("system", no_wrap=True)
    table.add_column("vocals med", justify="right")
    table.add_column("vocals mean", justify="right")
    table.add_column("accomp. med", justify="right")
    table.add_column("accomp. mean", justify="right")
    if museval:
        table.add_column("v4 vocals SDR", justify="right")
        table.add_column("v4 accomp. SDR", justify="right")
    table.add_column("x real time", justify="right")
    table.add_column("stream latency", justify="right")
    for name, entry in results["systems"].items():
        s = entry["summary"]
        row = [name, _fmt(s["vocals"]["median"]), _fmt(s["vocals"]["mean"]),
               _fmt(s["accompaniment"]["median"]), _fmt(s["accompaniment"]["mean"])]
        if museval:
            m = entry["summary_museval"]
            row += [_fmt(m["vocals"]["SDR"]["median"]), _fmt(m["accompaniment"]["SDR"]["median"])]
        row.append(_fmt_speed(entry["x_realtime"]))
        row.append(f"{entry['latency']['ms']:.1f} ms" if "latency" in entry else "-")
        table.add_row(*row)
    console = wide_console()
    console.print(table)
    for name, why in results["skipped"].items():
        console.print(f"[yellow]skipped {name}: {why}[/yellow]")


def _check_writable(path) -> None:
    from vocalex.engine.errors import OutputError

    folder = Path(path).expanduser().resolve().parent
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"cannot write {path}: folder {folder} is not writable")


def write_json(results: dict, path) -> None:
    """Write atomically (temp file + rename) so a failed run leaves no half-written JSON."""
    from vocalex.engine.errors import OutputError

    path = Path(path).expanduser()
    text = json.dumps(results, indent=2, allow_nan=False, default=_jsonable) + "\n"
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".vocalex-", suffix=".json", dir=str(path.resolve().parent))
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, umask_mode())  # mkstemp makes 0600; a result file gets the user's usual permissions
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def umask_mode() -> int:
    """0666 minus the process umask: the mode open() would give a new file."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _jsonable(value):
    """numpy scalars and paths -> plain JSON values."""
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
