"""Ctrl-C while a core handle is being made.

A KeyboardInterrupt can be raised between any two bytecodes, so also between the native
call that starts a run (or opens a pool) and the statement that keeps its handle: the
run would then go on with nobody to stop it. :func:`deferred` holds SIGINT over such a
stretch and delivers it, to the handler that was in place, once the stretch is over."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT inside the block; raise it again (as it would have been) on the way
    out. Only the main thread receives signals: elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: held.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if held:
            signal.raise_signal(signal.SIGINT)
