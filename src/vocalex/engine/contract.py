"""The model contract: what a vocalex ONNX file must say about itself, and reading it without a session.

A vocalex model is an ONNX graph with

* one input ``magnitude`` of shape (batch, channels, n_bins, n_frames), float32:
  the linear STFT magnitude of the lowest ``n_bins`` bins of ``n_frames`` frames,
  where ``channels`` is fixed in the graph: 1 (each audio channel is an example of
  its own) or 2 (a stereo model: left and right of one example side by side);
* one output ``mask`` (or ``magnitude``, see ``output``) of the same shape;
* metadata (``metadata_props``) under the keys in :data:`REQUIRED_KEYS`,
  prefixed with ``vocalex.``, from which the engine configures its STFT.

The frames axis is either fixed at ``n_frames`` or dynamic (a fully
convolutional network). A dynamic one may name a longer window for files in
``vocalex.offline_frames`` (:data:`OFFLINE_FRAMES_KEY`): offline mode then
masks windows of that many frames (more context per mask), while stream mode
keeps ``n_frames`` (its latency and per-call cost are tied to it).

A file that lacks any of it is refused with :class:`ModelError`: the engine
never guesses an STFT profile.

The session that runs such a file is engine/model.py's :class:`~vocalex.engine.model.OnnxModel`.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from vocalex.base.errors import ModelError, UsageError

from .onnx_meta import ProtoError, read_header
from .registry import NAMED_MODELS, default_model_path, is_name, resolve_named

METADATA_PREFIX = "vocalex."
INPUT_NAME = "magnitude"
FORMAT_VERSION = "1"
WINDOWS = ("hann",)
OUTPUT_KINDS = ("mask", "magnitude")
PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}
OFFLINE_FRAMES_KEY = METADATA_PREFIX + "offline_frames"



@dataclass(frozen=True)
class ModelProfile:
    """Everything the engine needs to know about a model, read from its metadata."""

    sample_rate: int          # Hz, the rate the model's STFT runs at
    n_fft: int                # STFT window length in samples
    hop_length: int           # STFT hop in samples
    window: str               # analysis/synthesis window, "hann" (periodic)
    n_bins: int               # input bins (lowest n_bins of n_fft // 2 + 1); the mask is extended above
    n_frames: int             # frames per model window (128)
    output: str               # "mask" (in [0, 1]) or "magnitude" (target magnitude)
    target: str               # "vocals"
    model_version: str
    training_data: str        # what it was trained on, with that data's licence
    licence: str              # licence of the weights
    format_version: str = FORMAT_VERSION

    def __post_init__(self):
        problems = []
        if self.sample_rate <= 0:
            problems.append("sample_rate must be positive")
        if self.n_fft <= 0 or self.n_fft % 2:
            problems.append("n_fft must be a positive even number")
        if not 0 < self.hop_length <= self.n_fft:
            problems.append("hop_length must be in 1..n_fft")
        if self.window not in WINDOWS:
            problems.append(f"window must be one of {WINDOWS}")
        if not 0 < self.n_bins <= self.n_fft // 2 + 1:
            problems.append("n_bins must be in 1..n_fft//2+1")
        if self.n_frames <= 0:
            problems.append("n_frames must be positive")
        if self.output not in OUTPUT_KINDS:
            problems.append(f"output must be one of {OUTPUT_KINDS}")
        if problems:
            raise ModelError("invalid model profile: " + "; ".join(problems))

    @property
    def n_freqs(self) -> int:
        """Bins of the full one-sided spectrum, n_fft // 2 + 1."""
        return self.n_fft // 2 + 1

    @property
    def window_seconds(self) -> float:
        """Audio covered by one model window of n_frames frames."""
        return ((self.n_frames - 1) * self.hop_length + self.n_fft) / self.sample_rate

    def to_metadata(self) -> dict[str, str]:
        """The ``vocalex.*`` metadata_props entries that describe this profile."""
        return {METADATA_PREFIX + f.name: str(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_metadata(cls, meta: dict[str, str], source: str = "model") -> "ModelProfile":
        """Parse the ``vocalex.*`` entries; :class:`ModelError` names what is missing."""
        missing = [f.name for f in fields(cls) if METADATA_PREFIX + f.name not in meta]
        if missing:
            raise ModelError(
                f"{source} is not a vocalex model: its metadata lacks "
                + ", ".join(METADATA_PREFIX + m for m in missing)
            )
        values = {}
        for f in fields(cls):
            raw = meta[METADATA_PREFIX + f.name]
            if f.type in ("int", int):
                try:
                    values[f.name] = int(raw)
                except ValueError:
                    raise ModelError(f"{source}: metadata {METADATA_PREFIX}{f.name}={raw!r} is not an integer") from None
            else:
                values[f.name] = raw
        if values["format_version"] != FORMAT_VERSION:
            raise ModelError(
                f"{source}: model format {values['format_version']} is not supported (this vocalex reads {FORMAT_VERSION})"
            )
        return cls(**values)

    def describe(self) -> dict:
        d = asdict(self)
        d["window_seconds"] = round(self.window_seconds, 4)
        return d


def resolve_model_path(model: str | os.PathLike | None) -> Path:
    """A model path, a registered name (``default``, ``hq``: engine/registry.py) or None (the bundled model) -> its file."""
    if is_name(model):
        return resolve_named(model)
    path = default_model_path() if model is None else Path(model)
    if not path.exists():
        if model is None:
            raise ModelError(f"the bundled default model is missing at {path}; reinstall vocalex")
        raise ModelError(f"model file not found: {path} (named models: {', '.join(NAMED_MODELS)})")
    if path.is_dir():
        raise ModelError(f"model path is a folder, not an ONNX file: {path}")
    return path


def _read_header(model) -> tuple[Path, dict[str, str], list | None]:
    """(path, metadata, first input's dims) from the file itself: no onnx import, no session (engine/onnx_meta.py)."""
    path = resolve_model_path(model)
    meta, dims = header_of(path)
    return path, meta, dims


def header_of(path: Path) -> tuple[dict[str, str], list | None]:
    """(metadata, first input's dims) of a model file; ModelError when it cannot be read or parsed.

    The file is mapped, not read: the header walk skips the weights by their
    length, so only the pages holding field headers are touched (reading the
    bundled 9.8 MB model took a one-file run ~20 ms before its session build
    could start; the hq model is 79 MB). The mapping is released with its last
    reference when this call ends (not closed explicitly: a parse error's
    traceback still holds views of it).
    """
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                raise ModelError(f"{path} is not a readable ONNX model (empty file)")
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        return read_header(mapped)
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ProtoError as exc:
        raise ModelError(f"{path} is not a readable ONNX model ({exc})") from None


def read_description(model: str | os.PathLike | None) -> tuple[Path, ModelProfile, int | None, dict[str, str]]:
    """(path, profile, channels, extra metadata) from one read of the file's header (``vocalex info``)."""
    path, meta, dims = _read_header(model)
    return path, ModelProfile.from_metadata(meta, source=str(path)), _channels(dims), _extra(meta)


def read_profile(model: str | os.PathLike | None) -> ModelProfile:
    """Read a model's profile from its metadata without starting an inference session."""
    path, meta, _ = _read_header(model)
    return ModelProfile.from_metadata(meta, source=str(path))


def read_extra_metadata(model: str | os.PathLike | None) -> dict[str, str]:
    """The ``vocalex.*`` entries beyond the profile (e.g. profile, source, mask_combination), prefix removed."""
    return _extra(_read_header(model)[1])


def _extra(meta: dict[str, str]) -> dict[str, str]:
    known = {METADATA_PREFIX + f.name for f in fields(ModelProfile)}
    return {k[len(METADATA_PREFIX):]: v for k, v in meta.items() if k.startswith(METADATA_PREFIX) and k not in known}


def rows_for(channels: int, per_example: int) -> int:
    """Model rows for ``channels`` audio channels when an example holds ``per_example`` of them (odd -> one more)."""
    return channels + (-channels % per_example)


def read_channels(model: str | os.PathLike | None) -> int | None:
    """Audio channels per model example (the graph input's dimension 1: 1 mono, 2 stereo), None if not fixed."""
    return _channels(_read_header(model)[2])


def _channels(dims) -> int | None:
    return dims[1] if dims is not None and len(dims) == 4 and isinstance(dims[1], int) else None


def offline_frames_of(meta: dict[str, str], profile: ModelProfile, dynamic_frames: bool, source: str = "model") -> int:
    """Frames per offline-mode window: ``vocalex.offline_frames`` if the model names it, else ``n_frames``.

    Only a graph with a dynamic frames axis can take a window other than n_frames; a
    fixed graph that names another length is refused rather than failing at the first call.
    """
    raw = meta.get(OFFLINE_FRAMES_KEY)
    if raw is None:
        return profile.n_frames
    try:
        frames = int(raw)
    except ValueError:
        raise ModelError(f"{source}: metadata {OFFLINE_FRAMES_KEY}={raw!r} is not an integer") from None
    if frames < profile.n_frames:
        raise ModelError(f"{source}: {OFFLINE_FRAMES_KEY}={frames} is shorter than n_frames={profile.n_frames}")
    if frames != profile.n_frames and not dynamic_frames:
        raise ModelError(f"{source}: {OFFLINE_FRAMES_KEY}={frames} needs a dynamic frames axis, "
                         f"but the graph's input has {profile.n_frames} frames")
    return frames


def contract_of(path: Path, meta: dict[str, str], dims) -> tuple[ModelProfile, int, int]:
    """(profile, audio channels per example, offline frames) that the metadata and input dims declare.

    ModelError when the input is not (batch, 1 or 2, n_bins, n_frames or a dynamic axis) as the metadata says.
    """
    profile = ModelProfile.from_metadata(meta, source=str(path))
    dims = list(dims) if dims is not None else []
    dynamic_frames = len(dims) == 4 and not isinstance(dims[3], int)  # a named (or unnamed) dynamic axis
    if (len(dims) != 4 or dims[1] not in (1, 2) or dims[2] != profile.n_bins
            or not (dynamic_frames or dims[3] == profile.n_frames)):
        raise ModelError(
            f"{path}: input shape {dims} does not match metadata (batch, 1 or 2, {profile.n_bins}, {profile.n_frames})"
        )
    return profile, int(dims[1]), offline_frames_of(meta, profile, dynamic_frames, str(path))
