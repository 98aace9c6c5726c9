"""golat.Pool: worker threads set up once (locked, pinned, real-time policy, memory
policy) and reused by many runs, so a series of measurements does not pay, or measure,
thread set-up each time.

Each pool worker is a goroutine that locks its OS thread, changes it, and waits for runs;
when the pool closes the goroutine exits still locked, so its thread dies with it.
"""

from __future__ import annotations

from typing import Any

from . import _interrupts, _native, _run, _threads
from ._result import Result
from ._settings import THREAD, RunSettings
from .errors import ConfigError, CoreError
from .workloads import Workload


class Pool:
    """A reusable set of worker threads; use it as a context manager.

    ``Pool(workers=None, settings=None, **overrides)`` takes the thread settings of a
    :class:`golat.RunSettings` (``workers``, ``cpus``, ``lock_os_thread``, ``policy``,
    ``mlock``, ``numa``, ``gomaxprocs``; here ``lock_os_thread`` defaults to True), from
    ``settings`` and keyword overrides. They are checked when the pool is made
    (ConfigError, StarvationWarning) and applied when it opens (PermissionDenied if the OS
    refuses). GOMAXPROCS is set while the pool is open and restored on close.

    >>> with golat.Pool(workers=2, cpus="auto") as pool:
    ...     a = pool.run(golat.workloads.Spin(ns=5_000), rate=20_000, duration=1)
    ...     b = pool.run(golat.workloads.Timer(interval=200e-6), duration=1)
    """

    def __init__(self, workers: int | None = None, settings: RunSettings | None = None,
                 **overrides: Any) -> None:  # fmt: skip
        RunSettings.check_names(overrides, "golat.Pool", scope=THREAD)
        if workers is not None:
            overrides["workers"] = workers
        s = RunSettings.build(settings, overrides, "golat.Pool")
        self.plan = _threads.plan_for(s, default_lock=True)
        self._handle: int | None = None

    # -- life cycle -------------------------------------------------------------------
    def open(self) -> Pool:
        """Start the worker threads (idempotent). Raises PermissionDenied when the OS
        refuses the policy or mlock, ConfigError for a CPU that vanished meanwhile."""
        if self._handle is None:
            with _interrupts.deferred():  # a Ctrl-C now comes once the handle is kept
                self._handle = _native.pool_new(
                    {"version": 1, "workers": self.plan.workers, **self.plan.doc()}
                )
        return self

    def close(self) -> None:
        """End the worker threads and restore GOMAXPROCS (idempotent)."""
        if self._handle is not None:
            handle, self._handle = self._handle, None
            _native.pool_close(handle)

    def __enter__(self) -> Pool:
        return self.open()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:  # a forgotten pool must not keep threads pinned forever
        try:
            self.close()
        except Exception:
            pass

    @property
    def is_open(self) -> bool:
        return self._handle is not None

    @property
    def workers(self) -> int:
        return self.plan.workers

    @property
    def cpus(self) -> tuple[int, ...]:
        """The CPU each worker is pinned to (``()`` when not pinned)."""
        return self.plan.cpus

    def info(self) -> dict[str, Any]:
        """The open pool's threads as the core sees them: ``{"workers", "gomaxprocs",
        "threads", "thread": [{"tid", "cpu", "policy", "mem_policy"}, ...]}``."""
        return _native.pool_info(self._need_open())

    def _need_open(self) -> int:
        if self._handle is None:
            raise CoreError("this pool is closed: use it inside `with golat.Pool(...)` or "
                            "call open() first")  # fmt: skip
        return self._handle

    # -- runs -------------------------------------------------------------------------
    def run(self, workload: Workload, settings: RunSettings | None = None, *,
            progress: _run.Progress | None = None, **overrides: Any) -> Result:  # fmt: skip
        """Run ``workload`` on this pool's threads with the run settings of
        :func:`golat.run` (``settings`` and keyword overrides); the thread settings are the
        pool's and may not be given here. One run at a time per pool. Raises ConfigError,
        CoreError as golat.run does."""
        s = RunSettings.build(settings, overrides, "Pool.run")
        given = sorted(set(s.changed()) & set(RunSettings.names(THREAD)))
        if given:
            raise ConfigError(f"Pool.run: {', '.join(given)} belong to the pool; set them in "
                              "golat.Pool(...)")  # fmt: skip
        handle = self._need_open()
        if workload is not None and getattr(workload, "wants_thread", False):
            if not self.plan.lock_os_thread:
                raise ConfigError(f"{workload} needs locked worker threads; this pool's "
                                  "are not (lock_os_thread=False)")  # fmt: skip
        prep = _run.prepare(workload, s, plan=self.plan)
        return _run.execute(prep, progress, pool=handle)

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"<golat.Pool {self.plan.workers} workers, cpus={list(self.plan.cpus)}, {state}>"
