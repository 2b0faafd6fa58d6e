"""What one worker does: hold one ONNX Runtime session, separate whole files through the library, report each.

``Worker`` knows nothing of Ray: the runner makes it an actor (one per ``--cpus-per-worker`` CPUs, or per
GPU with ``--provider cuda``), so it can be tried and tested as a plain object. The model travels as bytes
(the driver's file, checksummed there) and is written once per node to a local file named by its sha256:
nodes need not share the driver's disk. Each file's result is a plain dict the driver writes into the
manifest; a file's failure is a result (error line and exit code), never an exception across the cluster.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from pathlib import Path

from . import library, storage
from .library import AudioInputError, VocalexError
from .manifest import job_key


class Stopped(Exception):
    """Raised from the library's progress callback once the driver asked this worker to stop."""


def _model_file(data: bytes, sha256: str) -> Path:
    """The model's bytes as a file of this node's temporary folder, written once (atomic rename)."""
    folder = Path(tempfile.gettempdir()) / "vocalex-cluster-models"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{sha256}.onnx"
    if not path.exists() or path.stat().st_size != len(data):
        tmp = folder / f".{sha256}.{os.getpid()}.{os.urandom(4).hex()}.part"
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return path


class Worker:
    """One model session; ``separate(job)`` per file; ``stop()`` (from another thread) ends the current file cleanly."""

    def __init__(self, model_bytes: bytes, model_sha256: str, provider: str, threads: int | None, out: str,
                 fmt: str, config, options: dict):
        self.model_sha256, self.out, self.fmt, self.config, self.options = model_sha256, out, fmt, config, options
        self.node = f"{socket.gethostname()}:{os.getpid()}"
        self._stop = threading.Event()
        self.error = None
        try:
            self.separator = library.load_separator(_model_file(model_bytes, model_sha256), provider, threads)
        except VocalexError as exc:  # reported by ready(): the driver stops with the model's own line and exit code
            self.error = (exc.exit_code, str(exc))

    def ready(self) -> dict:
        """{"node": host:pid} once the session is built, or {"error": (exit code, line)} when the model failed."""
        return {"error": self.error} if self.error else {"node": self.node}

    def stop(self) -> None:
        self._stop.set()

    def _check_stop(self, done, total) -> None:
        if self._stop.is_set():
            raise Stopped()

    def separate(self, job: dict) -> dict:
        """job: input, track, force, done_keys (keys of this input's earlier done records) -> a result dict."""
        start = time.perf_counter()
        result = {"input": job["input"], "track": job["track"], "node": self.node}
        try:
            with tempfile.TemporaryDirectory(prefix="vocalex-batch-") as tmp:
                result.update(self._separate(job, Path(tmp)))
        except Stopped:
            return {**result, "status": "stopped"}
        except VocalexError as exc:
            result.update(status="failed", error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                          exit_code=exc.exit_code)
        result["seconds"] = round(time.perf_counter() - start, 3)
        return result

    def _separate(self, job: dict, tmp: Path) -> dict:
        source = job["input"]
        local = storage.fetch(source, tmp) if storage.is_uri(source) else Path(source)
        try:
            content = library.sha256_file(local)
        except OSError as exc:
            raise AudioInputError(f"cannot read {source}: {exc.strerror or exc}") from None
        key = job_key(content, self.model_sha256, self.options)
        remote = storage.is_uri(self.out)
        outputs = self._outputs(job["track"])
        found = [p for p in outputs.values() if (storage.exists(p) if remote else Path(p).exists())]
        if key in job.get("done_keys", ()) and len(found) == len(outputs):
            # touched, not changed: the same bytes were separated with this model and these options already
            return {"status": "done", "key": key, "content_sha256": content, "outputs": outputs, "unchanged": True}
        if remote:
            if found and not job["force"]:
                raise library.OutputError(f"{found[0]} exists; use --force to overwrite")
            written, duration, warnings = library.separate(self.separator, local, tmp / "out", Path(job["track"]),
                                                           self.config, self.fmt, True, self._check_stop)
            for stem, path in written.items():
                storage.put_atomic(path, outputs[stem])
        else:
            _, duration, warnings = library.separate(self.separator, local, Path(self.out), Path(job["track"]),
                                                     self.config, self.fmt, job["force"], self._check_stop)
        return {"status": "done", "key": key, "content_sha256": content, "outputs": outputs,
                "duration": round(duration, 3), "warnings": list(warnings)}

    def _outputs(self, track: str) -> dict:
        if storage.is_uri(self.out):
            return {stem: storage.child(self.out, f"{track}/{stem}.{self.fmt}") for stem in library.stems()}
        return {stem: str(path) for stem, path in library.output_paths(Path(self.out), track, self.fmt).items()}
