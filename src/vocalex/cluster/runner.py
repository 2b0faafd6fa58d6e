"""The driver of a catalogue run on Ray: start the workers, hand them files, write the manifest, stop cleanly.

Ray is the distributed engine (scheduling, node membership, moving the model's bytes); this module only
keeps a pool of worker actors (worker.Worker, one ONNX Runtime session each) busy with one file at a time.
- A file that failed is queued again until it has had ``retries`` more attempts; then it is reported.
- A worker that dies (its node was lost) costs its file an attempt; the file goes back in the queue and a
  replacement worker is asked for. When no worker has been working for ``worker_timeout`` seconds (the
  cluster has no room left) the run stops: what is left is done by the next run.
- Ctrl-C / SIGTERM: the workers are told to stop (each ends its current file within one block, its partial
  files discarded by the library), the files that still finished are recorded, and the signal's exit code
  returned; the next run resumes from the manifest.
"""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path

from . import library, storage
from .library import UsageError
from .plan import BatchSpec, Plan, prepare, sweep
from .progress import Progress
from .worker import Worker

STOP_GRACE_S = 30.0   # how long stopping workers may take to end their current file
START_S = 120.0       # the least time the first workers get to start


def _ray():
    try:
        import ray
    except ImportError:
        raise library.MissingPackageError("vocalex batch runs on Ray: pip install 'vocalex[ray]'") from None
    return ray


def run_batch(spec: BatchSpec, on_skip=None, stream=None) -> int:
    """Separate a catalogue per ``spec``; the exit code: 0 when every file is done, else the first failure's."""
    if spec.address and spec.address != "auto":
        _check_reachable(spec.address)  # before anything is written
    plan = prepare(spec, on_skip=on_skip)
    progress = Progress(len(plan.jobs), quiet=spec.quiet, every=spec.every, stream=stream)
    try:
        if plan.skipped:
            progress.say(f"{plan.skipped} file{'s' if plan.skipped != 1 else ''} done already (manifest "
                         f"{plan.manifest.path}), skipped")
        if not plan.jobs:
            progress.say("nothing left to do")
            return 0
        ray = _ray()
        _connect(ray, spec)
        try:
            return _Driver(ray, plan, progress).run()
        except ray.exceptions.RayError as exc:  # the cluster itself failed (its head lost, ...): one line, no traceback
            line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise library.VocalexError(f"the Ray cluster failed ({line}); what is done is in the manifest, "
                                       "the same command resumes") from None
        finally:
            ray.shutdown()
    finally:
        plan.manifest.close()


def _connect(ray, spec: BatchSpec) -> None:
    import logging

    kwargs = dict(log_to_driver=False, logging_level=logging.WARNING, include_dashboard=False)
    try:
        if spec.address:
            kwargs.pop("include_dashboard")
            ray.init(address=spec.address, **kwargs)
        else:
            ray.init(num_cpus=spec.cpus, **kwargs)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        where = f"the Ray cluster at {spec.address}" if spec.address else "a local Ray instance"
        raise UsageError(f"cannot reach {where}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") \
            from None
    # ray.init puts its own SIGTERM handler in place (it exits at once, status 15): ours again, so that SIGTERM
    # stops the workers cleanly, as Ctrl-C does, and exits 143 as every vocalex command
    library.install_termination_handler()


def _check_reachable(address: str, timeout: float = 10.0) -> None:
    """Refuse a head that does not answer at once: ray.init itself retries a wrong address for minutes."""
    import socket

    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--ray {address}: give the head's host:port (e.g. 10.0.0.5:6379)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise UsageError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from None


class _Driver:
    def __init__(self, ray, plan: Plan, progress: Progress):
        self.ray, self.plan, self.spec, self.progress = ray, plan, plan.spec, progress
        self.queue = deque(plan.jobs)
        self.starting: dict = {}   # ready() ref -> actor
        self.idle: list = []       # [(actor, node)]
        self.running: dict = {}    # separate() ref -> (actor, node, job)
        self.failures: list = []   # exit codes, in order
        self.lost_at = None
        self.started = False  # a worker has been ready at least once
        self.model_error = None
        self.lost_tracks: set = set()  # tracks a lost worker was writing: swept once every worker is gone

    # ---------------------------------------------------------------- workers
    def _actor_class(self):
        cuda = self.spec.provider == "cuda"
        return self.ray.remote(Worker).options(
            num_cpus=self.spec.cpus_per_worker, num_gpus=self.spec.gpus_per_worker if cuda else 0,
            max_concurrency=2,  # separate() in one thread, stop() in the other
            max_restarts=0, max_task_retries=0)  # a lost file is the driver's to re-queue, with its manifest line

    def _pool_size(self) -> int:
        resources = self.ray.cluster_resources()
        if self.spec.provider == "cuda":
            fits = int(resources.get("GPU", 0) // self.spec.gpus_per_worker)
            if not fits and self.spec.workers is None:
                raise UsageError("--provider cuda: the Ray cluster has no GPU")
        else:
            fits = int(resources.get("CPU", 0) // self.spec.cpus_per_worker)
        return max(1, min(self.spec.workers or fits, len(self.queue)))

    def _start_worker(self) -> None:
        plan = self.plan
        actor = self._cls.remote(self._model_ref, plan.model["sha256"], self.spec.provider, self.spec.cpus_per_worker,
                                 plan.out, self.spec.fmt, plan.config, plan.options)
        self.starting[actor.ready.remote()] = actor

    # ---------------------------------------------------------------- the loop
    def run(self) -> int:
        self._cls = self._actor_class()
        self._model_ref = self.ray.put(self.plan.model_bytes)
        n = self._pool_size()
        self.replacements = 2 * n + self.spec.retries * len(self.queue)  # bounded: a cluster losing every worker
        for _ in range(n):
            self._start_worker()
        files, cpus = len(self.queue), self.spec.cpus_per_worker
        self.progress.say(f"{files} file{'s' if files != 1 else ''} to separate on {n} worker{'s' if n != 1 else ''} "
                          f"({cpus} CPU{'s' if cpus != 1 else ''} each)")
        self.lost_at = time.monotonic()
        try:
            while self.queue or self.running:
                self._hand_out()
                if self._stalled():
                    break
                waiting = [*self.running, *self.starting]
                if not waiting:  # every worker lost, no replacement asked for: wait out worker_timeout
                    time.sleep(0.5)
                    continue
                ready, _ = self.ray.wait(waiting, num_returns=1, timeout=1.0)
                for ref in ready:
                    self._collect(ref)
                self.progress.tick()
        except KeyboardInterrupt:  # Ctrl-C, and SIGTERM (library.Terminated)
            self._stop()
            raise
        finally:
            self._end()
        self.progress.tick(force=True)
        if self.model_error:
            code, line = self.model_error
            raise library.ModelError(line)
        if self.queue:
            self.failures.append(1)
            self.progress.say(f"no worker could run for {self.spec.worker_timeout:.0f} s or more; {len(self.queue)} files "
                              "left for the next run (same command)", always=True)
        return self.failures[0] if self.failures else 0

    def _hand_out(self) -> None:
        while self.idle and self.queue:
            actor, node = self.idle.pop()
            job = self.queue.popleft()
            job.attempts += 1
            self.plan.manifest.append({"status": "started", "input": job.input, "track": job.track,
                                       "attempt": job.attempts, "node": node})
            self.running[actor.separate.remote(job.payload())] = (actor, node, job)

    def _stalled(self) -> bool:
        if self.model_error:
            return True
        if self.running or self.idle:
            self.lost_at = time.monotonic()
            self.started = True
            return False
        # The first workers may wait for nodes to join (or a cluster to scale up): they get at least START_S.
        limit = self.spec.worker_timeout if self.started else max(self.spec.worker_timeout, START_S)
        return time.monotonic() - self.lost_at > limit

    def _collect(self, ref) -> None:
        if ref in self.starting:
            actor = self.starting.pop(ref)
            try:
                state = self.ray.get(ref)
            except self.ray.exceptions.RayError:
                return self._replace()
            if "error" in state:
                self.model_error = state["error"]
                return
            self.idle.append((actor, state["node"]))
            return
        actor, node, job = self.running.pop(ref)
        try:
            result = self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as exc:  # not a VocalexError (a storage's own error): the worker lives
            self.idle.append((actor, node))
            cause = exc.cause if getattr(exc, "cause", None) is not None else exc
            line = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
            return self._retry(job, f"{type(cause).__name__}: {line}", 1)
        except self.ray.exceptions.RayError as exc:  # the worker (or its node) died under this file
            self._replace()
            self.lost_tracks.add(job.track)
            return self._retry(job, f"worker {node} lost ({type(exc).__name__})", 1)
        self.idle.append((actor, node))
        self._record(job, result)

    def _replace(self) -> None:
        if self.replacements > 0:
            self.replacements -= 1
            self._start_worker()

    def _record(self, job, result: dict) -> None:
        if result["status"] == "done":
            if result.get("unchanged") and job.duration is not None:
                result = {**result, "duration": job.duration}
            record = {**result, "fingerprint": job.fingerprint, "model": self.plan.model, "options": self.plan.options,
                      "attempts": job.attempts}
            self.plan.manifest.append(record)
            self.progress.file_done(0.0 if result.get("unchanged") else result.get("duration", 0.0))
        elif result["status"] == "failed":
            self._retry(job, result["error"], result["exit_code"], result)
        # "stopped": only while the run is being stopped; the file stays for the next run

    def _retry(self, job, error: str, code: int, result: dict | None = None) -> None:
        if job.attempts <= self.spec.retries:
            self.queue.append(job)
            return
        self.plan.manifest.append({**(result or {"input": job.input, "track": job.track}), "status": "failed",
                                   "error": error, "exit_code": code, "fingerprint": job.fingerprint,
                                   "model": self.plan.model, "options": self.plan.options, "attempts": job.attempts})
        self.failures.append(code)
        self.progress.file_failed(job.input, error)

    # ---------------------------------------------------------------- the end
    def _stop(self) -> None:
        """Ask every busy worker to end its file; record what still finished within STOP_GRACE_S."""
        n = len(self.running)
        self.progress.say(f"stopping: {n} file{'s' if n != 1 else ''} in progress {'are' if n != 1 else 'is'} "
                          "discarded and left for the next run (same command)", always=True)
        for actor, _, _ in self.running.values():
            actor.stop.remote()
        deadline = time.monotonic() + STOP_GRACE_S
        while self.running and time.monotonic() < deadline:
            ready, _ = self.ray.wait(list(self.running), num_returns=1, timeout=max(0.1, deadline - time.monotonic()))
            for ref in ready:
                actor, node, job = self.running.pop(ref)
                try:
                    result = self.ray.get(ref)
                except self.ray.exceptions.RayError:
                    continue
                if result["status"] == "done":
                    self._record(job, result)

    def _end(self) -> None:
        """Kill the workers; in a local output folder, sweep what a killed worker may have left half-written."""
        tracks = self.lost_tracks | {job.track for _, _, job in self.running.values()}
        for actor in [a for a, _ in self.idle] + [a for a, _, _ in self.running.values()] + list(self.starting.values()):
            self.ray.kill(actor)
        self.running.clear()
        if not storage.is_uri(self.plan.out):
            for track in sorted(tracks):
                sweep(Path(self.plan.out), track, self.spec.fmt)
