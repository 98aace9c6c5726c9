"""CPU power-management QoS: hold ``/dev/cpu_dma_latency`` at a bound during a run.

cyclictest does this by default (it writes 0 there), so the CPUs do not enter idle states
that take long to leave. The kernel keeps the request only while the file stays open, so
closing it is the undo: nothing outlives the run, even if golat is killed.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager

from . import _units
from .errors import PermissionDenied, Unsupported

PATH = "/dev/cpu_dma_latency"


def check(us: int | None) -> int | None:
    """Validate a cpu_dma_latency_us setting (None, or 0..2e9 µs)."""
    if us is None:
        return None
    _units.number("cpu_dma_latency_us", us, strict_min=False, maximum=2_000_000_000, integer=True)
    return int(us)


@contextmanager
def cpu_dma_latency(us: int | None, path: str = PATH) -> Iterator[None]:
    """While the block runs, ask the kernel to keep CPU wake-up latency <= ``us`` µs
    (0: no deep idle states). ``None`` does nothing.

    Raises:
        PermissionDenied: the file is not writable (it needs root).
        Unsupported: this kernel has no PM QoS device.
    """
    if us is None:
        yield
        return
    try:
        fd = os.open(path, os.O_WRONLY)
    except PermissionError as err:
        raise PermissionDenied(
            f"cpu_dma_latency_us needs write access to {path} (root); leave it None"
        ) from err
    except FileNotFoundError as err:
        raise Unsupported(
            f"this kernel has no {path} (PM QoS); leave cpu_dma_latency_us None"
        ) from err
    try:
        os.write(fd, struct.pack("i", int(us)))
        yield
    finally:
        os.close(fd)  # the kernel drops the request with the last close
