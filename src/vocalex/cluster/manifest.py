"""The manifest of a catalogue run: one JSON object a line, appended by the driver alone, fsync'ed line by line.

Records (``status``):
- ``started``: a file was handed to a worker (input, track, attempt). A later run that finds this as the
  file's last word knows any outputs in its track folder are that lost attempt's, not someone's own files.
- ``done``: input, track, outputs, duration (audio seconds), seconds taken, model version and checksum,
  options, the input's content sha256 and fingerprint (size, modification time), ``key``, attempts, node.
- ``failed``: the same, with the error line and exit code, once the retries are spent.

``key`` = sha256 of (input content sha256, model sha256, options): a re-run skips a file whose last done
record has the key it would get now, whose fingerprint is unchanged (so its content need not be read
again) and whose outputs exist. One run at a time per manifest: the driver holds an exclusive lock on it.
A line torn by a killed driver (only the last can be) is ignored on reading.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from pathlib import Path

from .library import UsageError


def options_id(options: dict) -> str:
    return hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()


def job_key(content_sha256: str, model_sha256: str, options: dict) -> str:
    """What a file's result depends on: its bytes, the model's bytes, the options that change the output."""
    return hashlib.sha256(f"{content_sha256}\n{model_sha256}\n{options_id(options)}".encode()).hexdigest()


def read(path) -> list[dict]:
    """Every whole record of a manifest, in order ([] when there is none yet)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise UsageError(f"cannot read the manifest {path}: {exc.strerror or exc}") from None
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line torn by a killed driver
        if isinstance(record, dict) and "input" in record:
            records.append(record)
    return records


def latest(records) -> dict[str, dict]:
    """input -> its last record (started, done or failed)."""
    return {r["input"]: r for r in records}


def last_done(records) -> dict[str, dict]:
    """input -> its last ``done`` record."""
    return {r["input"]: r for r in records if r.get("status") == "done"}


class Manifest:
    """The open manifest of the running batch: exclusive (a second run on it is refused), append-only."""

    def __init__(self, path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot open the manifest {self.path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._file.close()
            raise UsageError(f"another vocalex batch is writing {self.path}; wait for it or give another --manifest") \
                from None
        self._seal_torn_line()

    def _seal_torn_line(self) -> None:
        """A driver killed mid-line leaves a line without its newline: end it, so the next record stands alone."""
        size = self.path.stat().st_size
        if size:
            with open(self.path, "rb") as f:
                f.seek(size - 1)
                if f.read(1) != b"\n":
                    self._file.write("\n")
                    self._file.flush()

    def append(self, record: dict) -> None:
        record = {**record, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        self._file.write(json.dumps(record, sort_keys=True) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()  # closing releases the lock

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
