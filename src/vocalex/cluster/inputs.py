"""What a catalogue run separates: folders, globs, list files of paths, object-store URIs -> (input, track) pairs.

The track is the output folder under OUT, chosen by the local run's rule (``vocalex separate``, through
library.expand_local) so that a catalogue separated on a cluster lands where a local run would put it:
OUT/<track>/{vocals,accompaniment}.<fmt>. Local paths are made absolute: a worker on another node has
another working directory (a local path must name the same file on every node: a shared mount).
"""

from __future__ import annotations

import glob
import os
from pathlib import Path, PurePosixPath

from . import storage
from .library import UsageError, expand_local, is_audio_name

_GLOB_CHARS = set("*?[")


def read_list(path) -> list[str]:
    """A list file: one path or URI a line; blank lines and lines starting with '#' are skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the list file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def expand(inputs, list_files=(), on_skip=None) -> list[tuple[str, str]]:
    """Arguments and list files -> [(input path or URI, track as a posix path)], in the order given.

    A glob (quoted, so the shell leaves it: ``'songs/**/*.flac'``) matches files, recursively with ``**``;
    one that matches nothing is refused. Two inputs that would write the same track are refused before any
    work (the local rule keeps the suffix when only suffixes differ).
    """
    tokens = list(inputs)
    for lst in list_files:
        tokens += read_list(lst)
    if not tokens:
        raise UsageError("no inputs: give files, folders, globs or URIs, or --from LIST")
    local: list[str] = []
    remote: list[tuple[str, str]] = []
    for token in tokens:
        if storage.is_uri(token):
            remote += [(uri, str(track)) for uri, track in storage.expand_uri(token, is_audio_name)]
        elif not os.path.exists(token) and _GLOB_CHARS & set(token):
            found = sorted(p for p in glob.glob(token, recursive=True) if os.path.isfile(p))
            if not found:
                raise UsageError(f"{token}: the pattern matches no file")
            local += found
        else:
            local.append(token)  # a missing file fails at its turn, as in `vocalex separate`
    pairs = [(str(Path(p).absolute()), PurePosixPath(*Path(track).parts).as_posix())
             for p, track in (expand_local(local, on_skip=on_skip) if local else [])]
    pairs += remote
    _refuse_shared_tracks(pairs)
    return pairs


def _refuse_shared_tracks(pairs) -> None:
    seen: dict[str, str] = {}
    for source, track in pairs:
        if track in seen and seen[track] != source:
            raise UsageError(f"{seen[track]} and {source} would both write to {track}/ under the output folder; "
                             "separate them in two runs or rename one")
        seen.setdefault(track, source)


def fingerprint(source: str) -> dict | None:
    """Size and modification time of an input (None when it cannot be seen: its worker reports why)."""
    try:
        if storage.is_uri(source):
            return storage.fingerprint(source)
        st = os.stat(source)
    except (OSError, UsageError):
        return None
    return {"size": st.st_size, "mtime": str(st.st_mtime_ns)}
