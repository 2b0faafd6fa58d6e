"""Helpers for the studio's tests: a short cut of the demo song, a studio served by a real uvicorn in a thread."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path

DEMO = Path(__file__).resolve().parents[1] / "src" / "vocalex" / "engine" / "assets" / "demo_lets_go_fishin_30s.ogg"


def cut_demo(path: Path, seconds: float, start: float = 8.0) -> Path:
    """`seconds` of the demo song (from `start`, where it sings) as a 16-bit wav."""
    import soundfile as sf

    audio, rate = sf.read(DEMO, dtype="float32")
    a = int(start * rate)
    sf.write(path, audio[a:a + int(seconds * rate)], rate, subtype="PCM_16")
    return path


@contextlib.contextmanager
def served(studio):
    """The studio's app on a real uvicorn server (its own thread, a free loopback port); yields the base URL."""
    import uvicorn

    from vocalex.studio.app import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(studio), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def files_under(folder: Path) -> list[str]:
    """Every file and folder under `folder`, hidden ones included (a partial output would be hidden)."""
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*"))
