"""The environment a result was measured in: CPU, kernel, Go, affinity, THP, governor ...

Every result carries this, because a latency figure means little without its machine.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

from ._version import __version__


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def cpu_model() -> str:
    text = _read("/proc/cpuinfo") or ""
    for line in text.splitlines():
        if line.startswith(("model name", "Model", "cpu model")):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _thp() -> str | None:
    text = _read("/sys/kernel/mm/transparent_hugepage/enabled")
    if text and "[" in text:
        return text[text.index("[") + 1 : text.index("]")]
    return text


def collect(core: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a result records about its machine. ``core`` adds the Go core's own view."""
    env: dict[str, Any] = {
        "hostname": platform.node(),
        "cpu_model": cpu_model(),
        "cpus_online": _read("/sys/devices/system/cpu/online"),
        "cpu_affinity": sorted(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else None,
        "isolated_cpus": _read("/sys/devices/system/cpu/isolated") or "",
        "nohz_full": _read("/sys/devices/system/cpu/nohz_full") or "",
        "kernel": f"{platform.system()} {platform.release()}",
        "governor": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "thp": _thp(),
        "python": sys.version.split()[0],
        "golat": __version__,
    }
    if core:
        env.update(core)
    return env
