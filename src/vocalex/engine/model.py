"""The model contract: a self-describing ONNX file and the session that runs it.

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
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

from .background import InThread
from vocalex.base.errors import ModelError, UsageError
from .registry import default_model_path  # noqa: F401  (part of this module's API: where the bundled model is)

if TYPE_CHECKING:  # annotations only: `vocalex info` reads a header without numpy
    import numpy as np

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
    from .registry import NAMED_MODELS, is_name, resolve_named

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
    meta, dims = _header_of(path)
    return path, meta, dims


def _header_of(path: Path) -> tuple[dict[str, str], list | None]:
    """(metadata, first input's dims) of a model file; ModelError when it cannot be read or parsed.

    The file is mapped, not read: the header walk skips the weights by their
    length, so only the pages holding field headers are touched (reading the
    bundled 9.8 MB model took a one-file run ~20 ms before its session build
    could start; the hq model is 79 MB). The mapping is released with its last
    reference when this call ends (not closed explicitly: a parse error's
    traceback still holds views of it).
    """
    import mmap

    from .onnx_meta import ProtoError, read_header

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


class OnnxModel:
    """An ONNX Runtime session for a vocalex model, configured from its metadata.

    ``run(magnitude)`` takes float32 (batch, n_bins, n_frames) and returns the
    mask of the same shape (a "magnitude" model's output is turned into a mask
    by dividing by the input magnitude).
    """

    def __init__(self, path: Path, session, profile: ModelProfile, provider: str, channels: int,
                 weights_sha256: str | None = None, offline_frames: int | None = None):
        """session: an ONNX Runtime session, or an InThread (engine/background.py) of (session, weights_sha256) still being built
        (:meth:`load` with ``background=True``): the first use of either waits for it."""
        if channels not in (1, 2):
            raise ModelError(f"{path}: a model example holds 1 or 2 audio channels, not {channels}")
        self.path = path
        self.profile = profile
        self.provider = provider
        self.channels = int(channels)  # audio channels per example: the graph input's dimension 1
        self._session = session
        self._weights_sha256 = weights_sha256  # checked against the file at load; None for a model exported without
        self._output_name = None
        # frames per offline-mode window: the graph's own n_frames, or vocalex.offline_frames of a dynamic-frames graph
        self.offline_frames = profile.n_frames if offline_frames is None else int(offline_frames)

    @property
    def session(self):
        """The ONNX Runtime session; waits for a background load to finish (its ModelError is raised here)."""
        if isinstance(self._session, InThread):
            self._session, self._weights_sha256 = self._session.result()
        return self._session

    @property
    def weights_sha256(self) -> str | None:
        self.session  # a background load checks the weights before its session exists
        return self._weights_sha256

    def ready(self) -> "OnnxModel":
        """Wait for a background load (raising its ModelError); returns the model itself."""
        self.session
        return self

    @classmethod
    def load(cls, model: str | os.PathLike | None = None, provider: str = "cpu", threads: int | None = None,
             spinning: bool = True, background: bool = False) -> "OnnxModel":
        """spinning: ONNX Runtime's pool threads spin between calls (the live path: no wake-up delay per call);
        False for file separation, where the spinning threads take the CPU from the STFT thread (a 7-s clip
        separated 15-20 % faster with it off on the loaded 2-core machine, /proc load average ~12).

        background: return as soon as the file's header is read (profile, channels, offline window) and
        build the session in a thread - checksum, ONNX Runtime's graph set-up - while the caller goes on (a one-file
        ``vocalex separate`` imports its file reader, decodes and transforms the first seconds meanwhile;
        ONNX Runtime releases the GIL while it builds). A file the header reader cannot parse is refused
        here; a corrupted or mismatching graph raises its ModelError at the first use of the session
        (:meth:`ready` waits for it explicitly).
        """
        if provider not in PROVIDERS:
            raise UsageError(f"unknown provider {provider!r}; choose one of: {', '.join(PROVIDERS)}")
        if threads is not None and threads < 1:
            raise UsageError(f"--threads must be at least 1, got {threads}")
        path = resolve_model_path(model)
        ort_provider = PROVIDERS[provider]
        _check_provider(provider, ort_provider)
        options = _options(threads, spinning)
        if not background:
            session, sha256, (profile, channels, offline) = _open_session(path, options, ort_provider)
            return cls(path, session, profile, provider, channels, sha256, offline)

        meta, dims = _header_of(path)
        declared = _contract(path, meta, dims)

        def build():
            session, sha256, found = _open_session(path, options, ort_provider, meta)
            if found != declared:  # the header reader and ONNX Runtime must see the same contract
                raise ModelError(f"{path}: its graph does not match its header ({found} vs {declared})")
            # No warm-up call: the first real call pays ONNX Runtime's first-run costs either way (a call on one
            # example's zeros did not set up the batch shape the file uses, and cost a one-file run ~15 ms).
            return session, sha256

        profile, channels, offline = declared
        return cls(path, InThread(build, "vocalex-model-load"), profile, provider, channels, None, offline)

    def rows_for(self, channels: int) -> int:
        """Rows a model call needs for ``channels`` audio channels: a stereo model takes them in pairs."""
        return rows_for(channels, self.channels)

    def run(self, magnitude: np.ndarray) -> np.ndarray:
        """magnitude: float32 (rows, n_bins, n_frames) -> mask float32 (rows, n_bins, n_frames).

        Rows are audio channels. For a stereo model rows (0, 1), (2, 3), ... are
        the left and right of one example, so ``rows`` must be even.
        """
        import numpy as np  # here, not at the top: `vocalex info` reads a model's header without numpy (~0.1 s)

        x = np.ascontiguousarray(magnitude, dtype=np.float32)
        rows, bins, frames = x.shape
        c = self.channels
        if rows % c:
            raise UsageError(f"a stereo model needs an even number of rows (channel pairs), got {rows}")
        y = self.session.run([self._output()], {INPUT_NAME: x.reshape(rows // c, c, bins, frames)})[0]
        y = y.reshape(rows, bins, frames)
        if self.profile.output == "magnitude":
            y = np.clip(y / np.maximum(x, 1e-8), 0.0, 1.0)
        return y

    def run_graph(self, x: np.ndarray) -> np.ndarray:
        """The graph itself: float32 (batch, channels, n_bins, n_frames) -> its output, same shape (no mask conversion)."""
        return self.session.run([self._output()], {INPUT_NAME: x})[0]

    def _output(self) -> str:
        if self._output_name is None:
            self._output_name = self.session.get_outputs()[0].name
        return self._output_name

    def describe(self) -> dict:
        d = self.profile.describe()
        d["path"] = str(self.path)
        d["provider"] = self.provider
        d["channels"] = self.channels
        return d


def _contract(path: Path, meta: dict[str, str], dims) -> tuple[ModelProfile, int, int]:
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


def _check_provider(provider: str, ort_provider: str) -> None:
    import onnxruntime as ort

    if ort_provider not in ort.get_available_providers():
        raise UsageError(
            f"provider {provider!r} is not available in this onnxruntime "
            f"(available: {', '.join(ort.get_available_providers())}); install onnxruntime-gpu for cuda"
        )


def _options(threads: int | None, spinning: bool):
    """ONNX Runtime session options: quiet log, the thread count asked for, spinning pool threads or not."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4  # fatal only: every error also comes back as an exception, which we word ourselves
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def _open_session(path: Path, options, ort_provider: str, meta: dict[str, str] | None = None):
    """(session, weights sha256, contract) for a model file; the contract as the session sees it (its metadata
    and input shape). ``meta``: the file's header metadata, if already read.

    A CPU session of a stamped file comes from this machine's cached optimised graph of it when there is one
    (engine/session_cache.py: verified when written, checked when read). Otherwise the file is read once, its
    checksum verified, and the session built from the same bytes (saving the optimised graph for next time).
    """
    from . import session_cache
    from .integrity import WEIGHTS_KEY

    if meta is None:
        meta = _header_of(path)[0]
    cache = session_cache.entry_for(path, meta, ort_provider)
    optimised = cache.load() if cache is not None else None
    session = _optimised_session(optimised, options, ort_provider) if optimised is not None else None
    if session is not None:
        sha256 = meta[WEIGHTS_KEY]  # verified when the entry was written from the file (session_cache.py, "Trust")
    else:
        if optimised is not None:  # a sound entry ONNX Runtime refuses: drop it, and save none this time
            cache.forget()
            cache = None
        session, sha256 = _verified_session(path, options, ort_provider, cache)
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or inputs[0].name != INPUT_NAME:
        raise ModelError(f"{path}: expected one input named {INPUT_NAME!r}, found {[i.name for i in inputs]}")
    if len(outputs) != 1:
        raise ModelError(f"{path}: expected one output, found {[o.name for o in outputs]}")
    contract = _contract(path, session.get_modelmeta().custom_metadata_map, inputs[0].shape)
    return session, sha256, contract


def _verified_session(path: Path, options, ort_provider: str, cache):
    """(session, weights sha256) from the model file itself, its checksum verified first; the optimised graph
    is saved into ``cache`` (a session_cache.CacheEntry, or None) on the way."""
    import onnxruntime as ort

    from .integrity import check_weights

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror or exc}") from None
    # Before any session: a corrupted file is refused by its checksum, whatever ONNX Runtime would make of it.
    sha256 = check_weights(path, data)
    scratch = cache.scratch() if cache is not None else None
    if scratch is not None:
        options.optimized_model_filepath = str(scratch)
        try:
            session = ort.InferenceSession(data, sess_options=options, providers=[ort_provider])
        except Exception:
            session = None  # not necessarily the model's fault (the graph could not be saved): built again below
        options.optimized_model_filepath = ""
        if session is not None:
            cache.commit(scratch)
            return session, sha256
        Path(scratch).unlink(missing_ok=True)
    try:
        session = ort.InferenceSession(data, sess_options=options, providers=[ort_provider])
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path} is not a loadable ONNX model: {first[:200]}") from None
    return session, sha256


def _optimised_session(optimised: bytes, options, ort_provider: str):
    """A session from a cached optimised graph, with ONNX Runtime's optimisation off (it was done when the
    graph was saved); None if ONNX Runtime refuses it (the caller then builds from the model file)."""
    import onnxruntime as ort

    level = options.graph_optimization_level
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        return ort.InferenceSession(optimised, sess_options=options, providers=[ort_provider])
    except Exception:
        return None
    finally:
        options.graph_optimization_level = level
