"""Object-store URIs (``s3://bucket/songs/``, ``gs://...``, ``file:///...``) through fsspec, where it is installed.

A catalogue often lives in an object store rather than on a disk every node mounts. A worker fetches an
input object to a local temporary file (the library reads local files), separates it there, and puts each
stem under the output prefix as a hidden object first, moved onto its final name only once whole: as with
local outputs, no reader ever sees half a stem. fsspec is not a dependency of vocalex: without it (or
without the protocol's own package, e.g. s3fs for s3://) a URI is refused with one line naming what to
install. Local paths never come here.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

from .library import AudioInputError, MissingPackageError, UsageError

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_uri(text: str) -> bool:
    return bool(_SCHEME.match(str(text)))


def _fs(uri: str):
    """(fsspec filesystem, path inside it) for a URI; one clear line when fsspec or the protocol is missing."""
    scheme = uri.split("://", 1)[0]
    try:
        import fsspec
    except ImportError:
        raise MissingPackageError(f"{uri}: object-store URIs need fsspec and its {scheme}:// package "
                                  f"(pip install fsspec, plus e.g. s3fs or gcsfs)") from None
    try:
        return fsspec.core.url_to_fs(uri)
    except (ImportError, ValueError) as exc:
        raise MissingPackageError(f"{uri}: fsspec cannot open {scheme}:// here ({exc})".splitlines()[0]) from None


def expand_uri(uri: str, is_audio) -> list[tuple[str, PurePosixPath]]:
    """A URI -> [(object URI, track folder relative to OUT)]: a prefix becomes its audio objects, as a folder does.

    The layout is the local one (files/batch.expand_inputs): an object by itself writes to ``<name>``, an object
    under a prefix keeps its place under the prefix's last name (``s3://b/album/cd1/01.wav`` given as
    ``s3://b/album`` -> ``album/cd1/01``).
    """
    fs, path = _fs(uri)
    try:
        info = fs.info(path)
    except FileNotFoundError:
        raise UsageError(f"{uri}: no such object or prefix") from None
    except OSError as exc:
        raise UsageError(f"{uri}: cannot be read ({exc})".splitlines()[0]) from None
    if info.get("type") != "directory":
        return [(uri, PurePosixPath(PurePosixPath(path).stem))]
    base = PurePosixPath(path.rstrip("/"))
    found = sorted(p for p in fs.find(path) if is_audio(p)
                   and not any(part.startswith(".") for part in PurePosixPath(p).relative_to(base).parts))
    if not found:
        raise UsageError(f"{uri}: prefix holds no audio objects")
    return [(fs.unstrip_protocol(p), PurePosixPath(base.name or "root") / PurePosixPath(p).relative_to(base).with_suffix(""))
            for p in found]


def fingerprint(uri: str) -> dict:
    """Size and modification time (or ETag) of an object: unchanged means its content hash need not be read again."""
    fs, path = _fs(uri)
    info = fs.info(path)
    stamp = info.get("mtime") or info.get("LastModified") or info.get("ETag") or info.get("etag") or info.get("updated")
    return {"size": int(info.get("size") or 0), "mtime": str(stamp)}


def fetch(uri: str, folder: Path) -> Path:
    """Copy an input object into a local folder; returns the local file (its name keeps the object's suffix)."""
    fs, path = _fs(uri)
    local = Path(folder) / ("input" + PurePosixPath(path).suffix)
    try:
        fs.get(path, str(local))
    except (OSError, ValueError) as exc:
        raise AudioInputError(f"{uri}: cannot be fetched ({exc})".splitlines()[0]) from None
    return local


def exists(uri: str) -> bool:
    fs, path = _fs(uri)
    return fs.exists(path)


def put_atomic(local: Path, uri: str) -> None:
    """Upload ``local`` to ``uri`` through a hidden object beside it, then move it onto the final name."""
    fs, path = _fs(uri)
    final = PurePosixPath(path)
    hidden = str(final.parent / f".{final.name}.{os.urandom(4).hex()}.part")
    fs.makedirs(str(final.parent), exist_ok=True)
    try:
        fs.put(str(local), hidden)
        fs.mv(hidden, str(final))
    except BaseException:
        try:
            fs.rm(hidden)
        except (OSError, FileNotFoundError):
            pass  # never written, or already gone: nothing to clean
        raise


def child(prefix: str, rel: str) -> str:
    """``prefix`` joined with a relative posix path."""
    return prefix.rstrip("/") + "/" + rel
