"""Helpers shared by the benchmark scripts: naming the machine, peak memory."""

from __future__ import annotations

import os
import platform


def machine() -> str:
    """e.g. 'AMD EPYC 9B14, 2 cores, Linux 6.1, Python 3.11.7, onnxruntime 1.32.0'."""
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        import onnxruntime

        ort = f"onnxruntime {onnxruntime.__version__}"
    except ImportError:
        ort = "no onnxruntime"
    return (f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release().split('-')[0]}, "
            f"Python {platform.python_version()}, {ort}")


def rss_mib() -> float:
    """Current resident set size of this process in MiB (Linux /proc)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
