"""The live meter: a rich panel in a terminal, plain periodic log lines otherwise.

It renders :meth:`LiveEngine.snapshot` dicts: input and output peak level
(dBFS), the input-to-output latency, the model load (compute time per stride /
the stride's real-time budget), late blocks, xruns and resyncs. It runs in the
main thread and never touches the audio path.
"""

from __future__ import annotations

import math
import sys
import time

FLOOR_DB = -60.0


def _level_bar(dbfs: float, width: int = 30) -> str:
    """A bar of ``width`` cells, empty at FLOOR_DB and full at 0 dBFS."""
    fill = 0.0 if not math.isfinite(dbfs) else min(1.0, max(0.0, (dbfs - FLOOR_DB) / -FLOOR_DB))
    n = round(fill * width)
    return "#" * n + "." * (width - n)


def _db(dbfs: float) -> str:
    return "  -inf" if not math.isfinite(dbfs) else f"{dbfs:6.1f}"


def format_line(snap: dict) -> str:
    """One plain log line for a snapshot."""
    return (
        f"live {snap['elapsed']:6.1f} s  in {_db(snap['input_dbfs'])} dBFS  out {_db(snap['output_dbfs'])} dBFS  "
        f"latency {snap['latency_ms']:.1f} ms  load {100 * snap['load']:.0f}% "
        f"({snap['compute_ms_per_stride']:.1f}/{snap['budget_ms_per_stride']:.1f} ms per stride)  "
        f"late {snap['late_blocks']}  xruns {snap['xruns']}  resyncs {snap['resyncs']}"
    )


class LiveMeter:
    """Shows engine snapshots: ``with LiveMeter() as meter: ... meter.update(snapshot)``.

    In a terminal a rich Live panel redraws at ``refresh`` Hz; when stdout is
    not a terminal (pipes, logs, CI) one plain line is printed every
    ``log_interval`` seconds, plus a final one at exit if it says something new.
    """

    def __init__(self, title: str = "vocalex live", file=None, log_interval: float = 1.0, refresh: float = 4.0, force_plain: bool = False):
        self.title = title
        self.file = file if file is not None else sys.stdout
        self.plain = force_plain or not self.file.isatty()
        self.log_interval = log_interval
        self.refresh = refresh
        self._live = None
        self._last_log = -math.inf
        self._last = None
        self._printed = None  # the last plain line printed

    def __enter__(self) -> "LiveMeter":
        if not self.plain:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(self._render(None), console=Console(file=self.file), refresh_per_second=self.refresh, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)
            self._live = None
        elif self._last is not None and format_line(self._last) != self._printed:
            self._print(format_line(self._last))  # the final state, unless it is the line printed last

    def update(self, snap: dict) -> None:
        self._last = snap
        if self._live is not None:
            self._live.update(self._render(snap))
            return
        now = time.monotonic()
        if now - self._last_log >= self.log_interval:
            self._last_log = now
            self._print(format_line(snap))

    def _print(self, line: str) -> None:
        """Print a log line; a reader that went away (closed pipe) silences the meter, not the audio."""
        if self.file is None:
            return
        self._printed = line
        try:
            print(line, file=self.file, flush=True)
        except BrokenPipeError:
            silence_closed_stdout(self.file)
            self.file = None


    def _render(self, snap: dict | None):
        from rich.table import Table

        table = Table(title=self.title, show_header=False, box=None, padding=(0, 1))
        table.add_column(justify="right", style="bold")
        table.add_column()
        if snap is None:
            table.add_row("", "starting...")
            return table
        load = snap["load"]
        load_style = "green" if load < 0.5 else "yellow" if load < 0.9 else "red"
        table.add_row("input", f"{_level_bar(snap['input_dbfs'])} {_db(snap['input_dbfs'])} dBFS")
        table.add_row("output", f"{_level_bar(snap['output_dbfs'])} {_db(snap['output_dbfs'])} dBFS")
        table.add_row("latency", f"{snap['latency_ms']:.1f} ms")
        table.add_row(
            "model load",
            f"[{load_style}]{100 * load:.0f}%[/] ({snap['compute_ms_per_stride']:.1f} ms compute / "
            f"{snap['budget_ms_per_stride']:.1f} ms budget per stride)",
        )
        late_style = "red" if snap["late_blocks"] else "green"
        table.add_row("late blocks", f"[{late_style}]{snap['late_blocks']}[/] of {snap['callbacks']}")
        table.add_row("xruns", f"{snap['xruns']}  (resyncs {snap['resyncs']})")
        table.add_row("time", f"{snap['elapsed']:.1f} s  (Ctrl-C stops)")
        return table


def silence_closed_stdout(file) -> None:
    """Point a closed pipe's descriptor at /dev/null so later writes and the exit flush do not fail."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, file.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
