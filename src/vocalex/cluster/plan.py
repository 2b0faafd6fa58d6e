"""Before any worker starts: the run's settings, the model's identity, and which files are left to do.

``BatchSpec`` is what the command line asked for. ``prepare`` resolves it once: inputs expanded, the model
read and checksummed (its bytes travel to the workers), the library's run config built and checked, the
manifest opened and locked, each input classified as done already (skipped) or to do, and the hidden
partial files a killed worker left in the folders about to be written removed.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import inputs, library, storage
from .manifest import Manifest, job_key, read


@dataclass(frozen=True)
class BatchSpec:
    inputs: tuple = ()
    lists: tuple = ()                 # list files: one path or URI a line
    out: str = "separated"
    manifest: str | None = None       # default OUT/vocalex-manifest.jsonl (required when OUT is a URI)
    model: str | None = None
    provider: str = "cpu"
    fmt: str = "wav"
    mode: str = "offline"
    stride: int | None = None
    lookahead: str | None = None
    wiener: bool = False
    force: bool = False
    retries: int = 2                  # further attempts for a file that failed or whose worker was lost
    address: str | None = None        # a running cluster; None starts a local Ray instance
    cpus: int | None = None           # the local instance's CPUs (None: all)
    cpus_per_worker: int = 1          # one ONNX Runtime session per worker, this many threads
    gpus_per_worker: float = 1.0      # with provider "cuda"
    workers: int | None = None        # None: as many as the cluster's CPUs (GPUs) allow
    worker_timeout: float = 120.0     # seconds without any working worker before the run stops
    every: float = 10.0               # seconds between progress lines
    quiet: bool = False


@dataclass
class Job:
    input: str
    track: str
    fingerprint: dict | None
    force: bool
    done_keys: list = field(default_factory=list)
    attempts: int = 0
    duration: float | None = None     # audio seconds of its last done record (a touched, unchanged file keeps it)

    def payload(self) -> dict:
        return {"input": self.input, "track": self.track, "force": self.force, "done_keys": self.done_keys}


@dataclass
class Plan:
    spec: BatchSpec
    out: str                          # absolute local folder or URI prefix
    manifest: Manifest
    model_bytes: bytes
    model: dict                       # name, version, sha256
    config: object                    # the library's StreamConfig / OfflineConfig
    options: dict                     # what changes the output: part of every key
    jobs: list
    skipped: int


def prepare(spec: BatchSpec, on_skip=None) -> Plan:
    """Resolve a spec; the caller closes ``plan.manifest`` (its lock) when the run ends."""
    if spec.fmt not in library.FORMATS:
        raise library.UsageError(f"unknown format {spec.fmt!r}; choose one of: {', '.join(library.FORMATS)}")
    if spec.retries < 0 or spec.cpus_per_worker < 1 or (spec.workers is not None and spec.workers < 1):
        raise library.UsageError("retries must be at least 0, cpus per worker and workers at least 1")
    pairs = inputs.expand(spec.inputs, spec.lists, on_skip=on_skip)
    path = library.resolve_model(spec.model)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise library.ModelError(f"cannot read {path}: {exc.strerror or exc}") from None
    model = {"name": spec.model or "default", "version": library.model_version(path),
             "sha256": hashlib.sha256(data).hexdigest()}
    config = library.run_config(path, spec.mode, spec.stride, spec.lookahead, spec.wiener)
    options = {"mode": spec.mode, "config": asdict(config), "format": spec.fmt}
    remote = storage.is_uri(spec.out)
    out = spec.out if remote else str(Path(spec.out).absolute())
    if spec.manifest is None and remote:
        raise library.UsageError("give --manifest PATH (a local file) when -o is a URI")
    manifest = Manifest(spec.manifest or Path(out) / "vocalex-manifest.jsonl")
    try:
        jobs, skipped = _classify(pairs, read(manifest.path), out, model["sha256"], options, spec.force)
        if not remote:
            for job in jobs:
                sweep(Path(out), job.track, spec.fmt)
    except BaseException:
        manifest.close()
        raise
    return Plan(spec, out, manifest, data, model, config, options, jobs, skipped)


def _classify(pairs, records, out: str, model_sha256: str, options: dict, force: bool):
    last, done_keys, durations = {}, {}, {}
    for r in records:
        last[r["input"]] = r
        if r.get("status") == "done":
            done_keys.setdefault((r["input"], r.get("track")), []).append(r.get("key"))
            durations[(r["input"], r.get("track"))] = r.get("duration")
    jobs, skipped = [], 0
    for source, track in pairs:
        fp = inputs.fingerprint(source)
        prev = last.get(source)
        if (not force and prev and prev.get("status") == "done" and prev.get("track") == track and fp
                and prev.get("fingerprint") == fp and prev.get("key") == job_key(prev.get("content_sha256", ""),
                                                                                 model_sha256, options)
                and _all_exist(prev.get("outputs", {}).values())):
            skipped += 1
            continue
        # outputs found under a file whose last word is "started" are that lost attempt's: they may be replaced
        lost = prev is not None and prev.get("status") == "started" and prev.get("track") == track
        jobs.append(Job(source, track, fp, force or lost, done_keys.get((source, track), []),
                        duration=durations.get((source, track))))
    return jobs, skipped


def _all_exist(paths) -> bool:
    paths = list(paths)
    return bool(paths) and all(storage.exists(p) if storage.is_uri(p) else os.path.exists(p) for p in paths)


def sweep(out: Path, track: str, fmt: str) -> None:
    """Remove a killed worker's hidden partial files in OUT/<track>, then that folder and its parents up to OUT
    if they are left empty (a failed file leaves no folder behind, as in the library)."""
    folder = out / track
    for part in library.partial_files(folder, fmt):
        part.unlink(missing_ok=True)
    while folder != out and out in folder.parents:
        try:
            folder.rmdir()  # only an empty folder goes
        except OSError:
            break
        folder = folder.parent
