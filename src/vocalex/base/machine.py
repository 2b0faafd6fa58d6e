"""Name the machine a number was measured on: benchmarks, eval and bench reports, the live loopback."""

from __future__ import annotations

import os
import platform


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux) or platform, else "unknown"."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine_name() -> str:
    """One line for a live measurement: CPU model, cores, OS."""
    return f"{cpu_model()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def machine_info(provider: str | None = None) -> dict:
    """{"cpu", "cores", "platform", "python", "onnxruntime", "providers", "gpu"?} for reports."""
    info = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    try:
        import onnxruntime as ort

        info["onnxruntime"] = ort.__version__
        info["providers"] = ort.get_available_providers()
    except ImportError:
        info["onnxruntime"] = None
    if provider == "cuda":
        info["gpu"] = _gpu_name()
    return info


def _gpu_name() -> str | None:
    import shutil
    import subprocess

    if shutil.which("nvidia-smi") is None:
        return None
    out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True)
    return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None


def describe(info: dict) -> str:
    """One line naming the machine: 'AMD EPYC, 2 cores, onnxruntime 1.x'."""
    parts = [info.get("cpu", "unknown CPU"), f"{info.get('cores')} cores"]
    if info.get("gpu"):
        parts.append(info["gpu"])
    if info.get("onnxruntime"):
        parts.append(f"onnxruntime {info['onnxruntime']}")
    return ", ".join(parts)
