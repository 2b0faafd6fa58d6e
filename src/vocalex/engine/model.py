"""The session that runs a vocalex model: :class:`OnnxModel`, an ONNX Runtime session configured from the model's
contract (engine/contract.py), its weights' checksum checked at every load (engine/integrity.py) or its optimised
graph read from this machine's cache (engine/session_cache.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from vocalex.base.errors import ModelError, UsageError

from .background import InThread
from .contract import INPUT_NAME, PROVIDERS, ModelProfile, contract_of, header_of, resolve_model_path, rows_for

if TYPE_CHECKING:  # annotations only: `vocalex info` reads a header without numpy
    import numpy as np

# onnxruntime is imported where a session is made, not here: `vocalex info` reads a model's header without it
# (README, "Start-up": its import is ~25 ms of a one-file run).


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
            raise UsageError(f"`threads` must be at least 1, got {threads}")
        path = resolve_model_path(model)
        ort_provider = PROVIDERS[provider]
        _check_provider(provider, ort_provider)
        options = _options(threads, spinning)
        if not background:
            session, sha256, (profile, channels, offline) = _open_session(path, options, ort_provider)
            return cls(path, session, profile, provider, channels, sha256, offline)

        meta, dims = header_of(path)
        declared = contract_of(path, meta, dims)

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
    # Imported here, in the thread that builds the session (Separator.load(background=True)), not at the top: the
    # cache and the checksum bring hashlib (OpenSSL, ~2.5 ms), and at the top they put ~4 ms on the main thread's
    # path of every `vocalex separate` (issue 23: 5 x 9 interleaved fresh processes, 52.6 -> 58.5 ms to import
    # engine.separator), while here they overlap with reading the audio.
    from . import session_cache
    from .integrity import WEIGHTS_KEY

    if meta is None:
        meta = header_of(path)[0]
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
    contract = contract_of(path, session.get_modelmeta().custom_metadata_map, inputs[0].shape)
    return session, sha256, contract


def _verified_session(path: Path, options, ort_provider: str, cache):
    """(session, weights sha256) from the model file itself, its checksum verified first; the optimised graph
    is saved into ``cache`` (a session_cache.CacheEntry, or None) on the way."""
    import onnxruntime as ort

    from .integrity import check_weights  # in the session's thread, as _open_session's imports

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
