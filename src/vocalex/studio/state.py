"""What one running studio holds: its folders, the uploads, the job queue, the live run, and the pages.

Each page (a browser tab) names itself with a client id and keeps one event stream open. When a page's
last stream has been closed for ``grace`` seconds, its queued and running jobs are cancelled and its live
run is stopped: a closed tab leaves no stream playing and no job running.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

from . import library, safety
from .jobs import JobQueue

DEFAULT_MAX_UPLOAD = 1 << 30   # 1 GiB: a long lossless album side


class StudioError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Studio:
    """Everything one running studio holds: folders, uploads, the job queue, the live run, the pages."""

    def __init__(self, out_root, root=None, token=None, concurrency=1, max_upload=DEFAULT_MAX_UPLOAD, grace=5.0,
                 upload_dir=None):
        self.out_root = Path(out_root).resolve()
        self.root = Path(root).resolve() if root is not None else None
        self.token = token
        self.max_upload = int(max_upload)
        self.grace = grace
        self._own_upload_dir = upload_dir is None
        self.upload_dir = Path(upload_dir or tempfile.mkdtemp(prefix="vocalex-studio-"))
        self.uploads: dict[str, dict] = {}   # id -> {"path", "name"}
        self.queue = JobQueue(self.out_root, concurrency)
        self.live: library.LiveRun | None = None
        self.live_owner: str | None = None
        self._live_lock = threading.Lock()
        self._measuring = False
        self._streams: dict[str, int] = {}
        self._timers: dict[str, threading.Timer] = {}
        self._presence_lock = threading.Lock()

    # -- pages coming and going ------------------------------------------------------------------

    def connected(self, client: str) -> None:
        with self._presence_lock:
            self._streams[client] = self._streams.get(client, 0) + 1
            timer = self._timers.pop(client, None)
        if timer is not None:
            timer.cancel()

    def disconnected(self, client: str) -> None:
        with self._presence_lock:
            self._streams[client] -= 1
            if self._streams[client] > 0:
                return
            del self._streams[client]
            timer = threading.Timer(self.grace, self.client_gone, (client,))
            timer.daemon = True
            self._timers[client] = timer
        timer.start()

    def client_gone(self, client: str) -> None:
        with self._presence_lock:
            if client in self._streams:  # it came back in time
                return
            self._timers.pop(client, None)
        self.queue.cancel_client(client)
        if self.live_owner == client:
            self.stop_live()

    # -- inputs ----------------------------------------------------------------------------------

    def resolve_input(self, spec: dict) -> tuple[Path, str]:
        """{"upload": id} | {"root": relative path} | {"demo": true} -> (file, its display name)."""
        if "upload" in spec:
            entry = self.uploads.get(str(spec["upload"]))
            if entry is None:
                raise StudioError(404, "no such upload")
            return entry["path"], entry["name"]
        if "root" in spec:
            if self.root is None:
                raise StudioError(403, "the studio was started without --root: no folder to pick from")
            path = self._confined(str(spec["root"]))
            if not path.is_file():
                raise StudioError(404, f"{spec['root']}: no such file")
            return path, path.name
        if spec.get("demo"):
            path = library.demo_song()
            return path, path.name
        raise StudioError(400, "an input is {upload: id}, {root: path} or {demo: true}")

    def _confined(self, relative: str) -> Path:
        try:
            return safety.confine(self.root, relative)
        except library.UsageError as exc:
            raise StudioError(403, str(exc)) from None

    # -- live ------------------------------------------------------------------------------------

    def start_live(self, client: str, options: dict) -> None:
        with self._live_lock:
            if (self.live is not None and self.live.alive) or self._measuring:
                raise StudioError(409, "a live run or a latency measurement is already going: stop it first")
            self.live = library.LiveRun(options)
            self.live_owner = client
            self.live.start()

    def measure_latency(self, server: bool, latency_ms) -> dict:
        """Loopback measurement; never beside a live run (both would hold the audio device)."""
        with self._live_lock:
            if (self.live is not None and self.live.alive) or self._measuring:
                raise StudioError(409, "a live run or a measurement is going: stop it first")
            self._measuring = True
        try:
            return library.measure_latency(server, latency_ms)
        except library.VocalexError as exc:
            raise StudioError(409, library.error_line(exc)) from None
        finally:
            self._measuring = False

    def stop_live(self) -> None:
        with self._live_lock:
            live = self.live
        if live is not None:
            live.stop()

    def close(self) -> None:
        self.stop_live()
        self.queue.shutdown()
        for timer in list(self._timers.values()):
            timer.cancel()
        if self._own_upload_dir:
            shutil.rmtree(self.upload_dir, ignore_errors=True)
