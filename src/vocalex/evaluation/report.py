"""Results out: the summary table of an evaluation, and JSON written atomically (no half-written file)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.2f}"


def _fmt_speed(x) -> str:
    if x is None:
        return "-"
    return f"{x:.0f}" if x >= 100 else f"{x:.1f}"


def wide_console():
    """A rich Console; when the output is not a terminal (a log, a pipe) it is 140 columns, not 80,
    so the tables are not squeezed into unreadable cells."""
    import sys

    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=140)


def print_table(results: dict) -> None:
    """The summary table: one row per system, SDR median / mean per stem, speed."""
    from rich.table import Table

    from vocalex.base.machine import describe

    museval = "museval" in results["metric"]
    title = (
        f"SDR (dB) on {results['n_tracks']} tracks of {Path(results['dataset']).name} "
        f"(split {results['split']}, {results['audio_seconds']:.0f} s of audio)"
    )
    table = Table(title=title, caption=f"median / mean over tracks; {describe(results['machine'])}")
    table.add_column("system", no_wrap=True)
    table.add_column("vocals med", justify="right")
    table.add_column("vocals mean", justify="right")
    table.add_column("accomp. med", justify="right")
    table.add_column("accomp. mean", justify="right")
    if museval:
        table.add_column("v4 vocals SDR", justify="right")
        table.add_column("v4 accomp. SDR", justify="right")
    table.add_column("x real time", justify="right")
    table.add_column("stream latency", justify="right")
    for name, entry in results["systems"].items():
        s = entry["summary"]
        row = [name, _fmt(s["vocals"]["median"]), _fmt(s["vocals"]["mean"]),
               _fmt(s["accompaniment"]["median"]), _fmt(s["accompaniment"]["mean"])]
        if museval:
            m = entry["summary_museval"]
            row += [_fmt(m["vocals"]["SDR"]["median"]), _fmt(m["accompaniment"]["SDR"]["median"])]
        row.append(_fmt_speed(entry["x_realtime"]))
        row.append(f"{entry['latency']['ms']:.1f} ms" if "latency" in entry else "-")
        table.add_row(*row)
    console = wide_console()
    console.print(table)
    for name, why in results["skipped"].items():
        console.print(f"[yellow]skipped {name}: {why}[/yellow]")


def check_writable(path) -> None:
    """Refuse (OutputError) before any work when ``path``'s folder is missing or not writable."""
    from vocalex.base.errors import OutputError

    folder = Path(path).expanduser().resolve().parent
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"cannot write {path}: folder {folder} is not writable")


def write_json(results: dict, path) -> None:
    """Write atomically (temp file + rename) so a failed run leaves no half-written JSON."""
    from vocalex.base.errors import OutputError

    path = Path(path).expanduser()
    text = json.dumps(results, indent=2, allow_nan=False, default=_jsonable) + "\n"
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".vocalex-", suffix=".json", dir=str(path.resolve().parent))
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, umask_mode())  # mkstemp makes 0600; a result file gets the user's usual permissions
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def umask_mode() -> int:
    """0666 minus the process umask: the mode open() would give a new file."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _jsonable(value):
    """numpy scalars and paths -> plain JSON values."""
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
