"""`vocalex studio`: serve the page with uvicorn, print its address, open a browser where there is one."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from .library import UsageError


def serve(host: str = "127.0.0.1", port: int = 8765, root=None, out="separated", open_browser: bool = True,
          concurrency: int = 1, max_upload: int | None = None, grace: float = 5.0) -> int:
    import socket

    import uvicorn

    from . import safety
    from .app import create_app
    from .state import DEFAULT_MAX_UPLOAD, Studio

    if root is not None and not Path(root).is_dir():
        raise UsageError(f"--root {root}: no such folder")
    if concurrency < 1:
        raise UsageError(f"--jobs must be at least 1, got {concurrency}")
    token = None if safety.is_loopback(host) else safety.new_token()
    studio = Studio(out, root=root, token=token, concurrency=concurrency, max_upload=max_upload or DEFAULT_MAX_UPLOAD,
                    grace=grace)
    # Bind first, so that the address printed is one that answers (and port 0 picks a free port).
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(128)  # connections from now on wait for uvicorn instead of being refused
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    print(f"vocalex studio: {url}  (outputs in {studio.out_root}; Ctrl-C stops)", flush=True)
    if token:
        print(f"vocalex studio: listening beyond loopback; the access token is {token}", flush=True)
    server = uvicorn.Server(uvicorn.Config(create_app(studio), log_level="warning", lifespan="on"))
    if open_browser:
        threading.Timer(0.5, _open, (url,)).start()
    server.run(sockets=[sock])
    return 0


def _open(url: str) -> None:
    import webbrowser

    try:
        if not webbrowser.open(url):
            print("vocalex studio: no browser found here; open the address above", file=sys.stderr)
    except webbrowser.Error:
        print("vocalex studio: no browser found here; open the address above", file=sys.stderr)
