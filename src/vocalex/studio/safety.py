"""What keeps the studio's page from being a door into the machine.

- Loopback by default; on any other address every request needs the access token printed at start.
- On loopback, the Host header must name loopback too: a web page elsewhere cannot reach the studio by
  pointing a name of its own at 127.0.0.1 (DNS rebinding). A request from another origin is refused.
- Names that arrive from the page become one plain file name (no folder, no "..", no control character).
- Folder browsing stays inside the root given at start, symbolic links included.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
import unicodedata
from pathlib import Path

from .library import UsageError

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")
MAX_NAME = 120
_UNSAFE = re.compile(r"[^\w.\- ()+,&'\[\]]")


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    return secrets.token_urlsafe(18)


def token_matches(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def host_is_loopback_name(host_header: str) -> bool:
    """The Host header (name[:port]) names this machine's loopback."""
    host = host_header.rsplit(":", 1)[0] if not host_header.endswith("]") else host_header
    if host_header.startswith("["):
        host = host_header[: host_header.index("]") + 1]
    return host.lower() in LOOPBACK_NAMES or is_loopback(host)


def safe_name(name: str, default: str = "upload") -> str:
    """One harmless file name from whatever the page sent: its last path part, no control or odd characters,
    no leading dots (no hidden file, no "..")."""
    name = unicodedata.normalize("NFC", str(name)).replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" .")
    if len(name) > MAX_NAME:
        stem, dot, suffix = name.rpartition(".")
        name = (stem[: MAX_NAME - len(suffix) - 1] + "." + suffix) if dot and len(suffix) < 12 else name[:MAX_NAME]
    return name or default


def confine(root: Path, relative: str) -> Path:
    """root / relative, resolved (links followed); UsageError unless it stays inside root."""
    root = Path(root).resolve()
    if "\x00" in relative:
        raise UsageError("a path with a NUL character")
    path = (root / relative.lstrip("/")).resolve() if relative not in ("", ".") else root
    if path != root and root not in path.parents:
        raise UsageError(f"{relative!r} is outside the studio's folder")
    return path
