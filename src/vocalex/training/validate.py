"""Validation through the real engine: export to ONNX, separate whole held-out
clips with ``vocalex.engine.Separator`` offline and streaming, score with SDR.

What is measured is what ships: the exported graph, the engine's STFT, its
mask extension above n_bins, its windowing and, in stream mode, its
stride/lookahead schedule.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import numpy as np

from vocalex.evaluation.metrics import sdr

MODES = ("offline", "stream")


def load_clips(dataset_paths, sample_rate: int, cache: str | None = None, split: str = "valid") -> list[tuple[str, dict]]:
    """The held-out clips of every dataset -> [(name, {"vocals", "accompaniment", "mixture"} float32 (frames, ch))]."""
    from vocalex.base.errors import AudioInputError

    from .cache import cached_track
    from vocalex.data.datasets import open_dataset

    clips = []
    for path in dataset_paths:
        try:
            ds = open_dataset(path, split=split)
        except AudioInputError:
            continue  # a dataset without held-out tracks (e.g. extra material) adds none
        for track in ds.tracks:
            stems = cached_track(track, sample_rate, cache)
            v = stems["vocals"].astype(np.float32)
            a = stems["accompaniment"].astype(np.float32)
            clips.append((track.name, {"vocals": v, "accompaniment": a, "mixture": v + a}))
    return clips


def separate_and_score(model_path, clips, modes=MODES, stride: int | None = None, lookahead: int | None = None,
                       threads: int | None = None) -> dict:
    """Run the engine on each clip -> {"<mode>": {"vocals": median SDR, "accompaniment": median, "per_clip": {...}}}."""
    from vocalex.engine import Separator

    sep = Separator.load(str(model_path), threads=threads)
    kwargs = {}
    if stride is not None:
        kwargs["stride"] = stride
    if lookahead is not None:
        kwargs["lookahead"] = lookahead
    results = {}
    for mode in modes:
        per_clip = {}
        for name, stems in clips:
            out = sep.separate(stems["mixture"], sep.profile.sample_rate, mode=mode, **(kwargs if mode == "stream" else {}))
            per_clip[name] = {
                "vocals": sdr(stems["vocals"], out["vocals"]),
                "accompaniment": sdr(stems["accompaniment"], out["accompaniment"]),
            }
        results[mode] = {
            "vocals": float(np.median([v["vocals"] for v in per_clip.values()])),
            "accompaniment": float(np.median([v["accompaniment"] for v in per_clip.values()])),
            "per_clip": per_clip,
        }
    return results


def validate_module(module, model_profile, clips, modes=MODES, stride=None, lookahead=None, threads=None) -> dict:
    """Export a copy of a torch module to a temporary ONNX file and score it with :func:`separate_and_score`."""
    from vocalex.export.onnx_export import export_onnx

    with tempfile.TemporaryDirectory(prefix="vocalex-valid-") as tmp:
        path = Path(tmp) / "model.onnx"
        export_onnx(copy.deepcopy(module).cpu(), model_profile, path, write_golden=False)
        return separate_and_score(path, clips, modes, stride, lookahead, threads)
