"""The separation queue: jobs run in worker threads, at most ``concurrency`` at once, each cancellable.

A job is one input file -> OUT/<name>/{vocals,accompaniment}.<fmt>. Progress is the engine's own
(frames written / frames in the file, from separate_file's on_progress). Cancelling raises inside that
callback, so the engine discards its hidden partial files: a cancelled or failed job leaves nothing.
Every change bumps ``Job.version``; the event stream sends the jobs whose version moved.
"""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import library

ACTIVE = ("queued", "running")


class Cancelled(Exception):
    """Raised in the engine's progress callback to stop a job."""


@dataclass
class Job:
    id: str
    client: str
    name: str            # output folder under OUT (unique among the jobs and the folders already there)
    source: Path         # the input file
    title: str           # what the page shows: the file's own name
    model: str
    wiener: bool
    fmt: str
    state: str = "queued"
    progress: float = 0.0
    error: str = ""
    outputs: dict = field(default_factory=dict)   # stem -> Path once done
    warnings: list = field(default_factory=list)
    seconds: float = 0.0
    elapsed: float = 0.0
    version: int = 0
    cancel: threading.Event = field(default_factory=threading.Event)

    def public(self) -> dict:
        return {"id": self.id, "name": self.name, "title": self.title, "model": self.model, "wiener": self.wiener,
                "format": self.fmt, "state": self.state, "progress": round(self.progress, 4), "error": self.error,
                "stems": sorted(self.outputs), "warnings": self.warnings, "seconds": round(self.seconds, 2),
                "elapsed": round(self.elapsed, 2)}


class JobQueue:
    def __init__(self, out_root: Path, concurrency: int = 1, separators: library.Separators | None = None):
        self.out_root = Path(out_root)
        self.separators = separators or library.Separators()
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="vocalex-studio-job")
        self.concurrency = concurrency

    def submit(self, client: str, source: Path, title: str, model: str, wiener: bool, fmt: str) -> Job:
        with self._lock:
            job = Job(id=str(next(self._ids)), client=client, name=self._free_name(title), source=Path(source),
                      title=title, model=model, wiener=wiener, fmt=fmt)
            self.jobs[job.id] = job
        self._pool.submit(self._run, job)
        return job

    def _free_name(self, title: str) -> str:
        """<stem>, else <stem>-2, -3 ...: never a folder that exists or that another job will write."""
        stem = Path(title).stem or "song"
        taken = {j.name for j in self.jobs.values()}
        for n in itertools.count(1):
            name = stem if n == 1 else f"{stem}-{n}"
            if name not in taken and not (self.out_root / name).exists():
                return name
        raise AssertionError("unreachable")

    def cancel(self, job_id: str) -> bool:
        job = self.jobs.get(job_id)
        if job is None or job.state not in ACTIVE:
            return False
        job.cancel.set()
        if job.state == "queued":
            self._set(job, state="cancelled")
        return True

    def cancel_client(self, client: str) -> int:
        """Cancel every queued or running job of a page that went away; how many."""
        return sum(self.cancel(j.id) for j in list(self.jobs.values()) if j.client == client and j.state in ACTIVE)

    def _set(self, job: Job, **changes) -> None:
        for key, value in changes.items():
            setattr(job, key, value)
        job.version += 1

    def _run(self, job: Job) -> None:
        if job.cancel.is_set():
            return
        self._set(job, state="running")

        def on_progress(done, total):
            if job.cancel.is_set():
                raise Cancelled
            fraction = done / total if total else 0.0
            if fraction - job.progress >= 0.005 or done == total:  # a version bump per half percent is plenty
                self._set(job, progress=min(fraction, 1.0))

        try:
            result = library.separate(self.separators, job.model, job.source, self.out_root, job.name,
                                      wiener=job.wiener, fmt=job.fmt, on_progress=on_progress)
        except Cancelled:
            self._set(job, state="cancelled")
        except library.VocalexError as exc:
            self._set(job, state="error", error=library.error_line(exc))
        except Exception as exc:  # a bug: the job still ends, with a line to show
            self._set(job, state="error", error=f"vocalex: internal error: {type(exc).__name__}: {exc}")
        else:
            self._set(job, state="done", progress=1.0, outputs=result["outputs"], warnings=result["warnings"],
                      seconds=result["seconds"], elapsed=result["elapsed"])

    def wait_idle(self, timeout: float) -> bool:
        """True once no job is queued or running (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while any(j.state in ACTIVE for j in list(self.jobs.values())):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def shutdown(self) -> None:
        for job in list(self.jobs.values()):
            self.cancel(job.id)
        self._pool.shutdown(wait=True)

