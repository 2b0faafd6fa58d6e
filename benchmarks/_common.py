"""Helpers shared by the benchmark scripts: naming the machine, current memory."""

from __future__ import annotations

import os

from vocalex.base.machine import describe, machine_info


def machine() -> str:
    """One line naming the machine (CPU model, cores, onnxruntime), as every report does."""
    return describe(machine_info())


def rss_mib() -> float:
    """Current resident set size of this process in MiB (Linux /proc)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
