"""Is this model file the one that was exported? The weights' sha256 and the golden pair.

At export (vocalex.export.onnx_export) the sha256 of the serialised graph (every node and weight) is
written into the model's own metadata as ``vocalex.weights_sha256``, and a golden input/output pair is
saved beside the model (``<model>.golden.npz``). :func:`check_weights` runs at every load: it hashes
the graph bytes of the file and refuses a mismatch with :class:`ModelError` (exit 6), before any
session is built (9.8 MB for the bundled model: see README for the measured cost).
:func:`check_golden` runs the golden input through a loaded model (``vocalex info --verify``).
A model exported before the checksum existed has no such entry and loads as before.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from vocalex.base.errors import ModelError
from .onnx_meta import ProtoError, graph_bytes, read_header, with_metadata

WEIGHTS_KEY = "vocalex.weights_sha256"
GOLDEN_TOLERANCE = 1e-4  # ONNX Runtime against its own output at export: only thread-order rounding differs


def golden_path(model_path: str | os.PathLike) -> Path:
    """Where the golden pair of a model file lives: ``name.onnx`` -> ``name.golden.npz``."""
    p = Path(model_path)
    return p.with_name(p.name + ".golden.npz") if p.suffix != ".onnx" else p.with_suffix(".golden.npz")


def weights_sha256(data) -> str:
    """sha256 (hex) of the serialised graph inside ONNX file bytes."""
    try:
        return hashlib.sha256(graph_bytes(data)).hexdigest()
    except ProtoError as exc:
        raise ModelError(f"not a readable ONNX model ({exc})") from None


def stamp(data) -> bytes:
    """ONNX file bytes with their weights' sha256 written into the metadata (replacing an older stamp)."""
    return with_metadata(data, WEIGHTS_KEY, weights_sha256(data))


def check_weights(path: Path, data=None, meta: dict | None = None) -> str | None:
    """Refuse (ModelError) a file whose graph does not hash to its stamped sha256; the sha256, or None if unstamped."""
    if data is None:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ModelError(f"cannot read {path}: {exc.strerror or exc}") from None
    if meta is None:
        try:
            meta, _ = read_header(data)
        except ProtoError as exc:
            raise ModelError(f"{path} is not a readable ONNX model ({exc})") from None
    expected = meta.get(WEIGHTS_KEY)
    if expected is None:
        return None
    actual = weights_sha256(data)
    if actual != expected:
        raise ModelError(f"{path} is corrupted: its weights' sha256 is {actual[:12]}..., the export stamped "
                         f"{expected[:12]}... (re-download, rebuild or reinstall the model)")
    return actual


def check_golden(model, path: Path | None = None) -> float | None:
    """Run the golden pair beside ``model.path`` through the loaded OnnxModel; max abs error, None if no pair.

    The pair's output is what ONNX Runtime computed on the exported file itself (fp16 weights included), so
    the same runtime reproduces it to rounding; ModelError when it differs by more than GOLDEN_TOLERANCE.
    """
    import numpy as np

    golden = golden_path(model.path if path is None else path)
    if not golden.exists():
        return None
    try:
        with np.load(golden) as pair:
            x, want = pair["input"], pair["output"]
    except Exception as exc:  # a damaged npz raises zipfile/pickle/KeyError variants
        raise ModelError(f"cannot read the golden pair {golden}: {exc}") from None
    got = model.run_graph(x)
    err = float(np.max(np.abs(got - want))) if got.shape == want.shape else float("inf")
    if not np.isfinite(err) or err > GOLDEN_TOLERANCE:
        raise ModelError(f"{model.path} does not reproduce its golden pair {golden.name}: max abs error {err:.3g} "
                         f"> {GOLDEN_TOLERANCE:g} (the model or its pair is corrupted)")
    return err
