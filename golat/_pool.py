"""golat.Pool: worker threads set up once (locked, pinned, real-time policy, memory
policy) and reused by many runs, so a series of measurements does not pay, or measure,
thread set-up each time.

Each pool worker is a goroutine that locks its OS thread, changes it, and waits for runs;
when the pool closes the goroutine exits still locked, so its thread dies with it.
"""

from __future__ import annotations

from typing import Any

from . import _native, _run, _threads
from ._result import Result
from .errors import ConfigError, CoreError
from .workloads import Workload


class Pool:
    """A reusable set of worker threads; use it as a context manager.

    ``Pool(workers=None, *, cpus=None, lock_os_thread=True, policy=None, mlock=False,
    numa=None, gomaxprocs=None)`` takes the thread settings of :func:`golat.run` (see its
    docstring; here ``lock_os_thread`` defaults to True). They are checked when the pool is
    made (ConfigError, StarvationWarning) and applied when it opens (PermissionDenied if
    the OS refuses). GOMAXPROCS is set while the pool is open and restored on close.

    >>> with golat.Pool(workers=2, cpus="auto") as pool:
    ...     a = pool.run(golat.workloads.Spin(ns=5_000), rate=20_000, duration=1)
    ...     b = pool.run(golat.workloads.Timer(interval=200e-6), duration=1)
    """

    def __init__(
        self, workers: int | None = None, *, cpus: _threads.CPUs = None,
        lock_os_thread: bool | None = True, policy: str | None = None, mlock: bool = False,
        numa: str | None = None, gomaxprocs: int | None = None,
    ) -> None:  # fmt: skip
        self.plan = _threads.plan(
            workers=workers, cpus=cpus, lock_os_thread=lock_os_thread, policy=policy,
            mlock=mlock, numa=numa, gomaxprocs=gomaxprocs, default_lock=True,
        )  # fmt: skip
        self._handle: int | None = None

    # -- life cycle -------------------------------------------------------------------
    def open(self) -> Pool:
        """Start the worker threads (idempotent). Raises PermissionDenied when the OS
        refuses the policy or mlock, ConfigError for a CPU that vanished meanwhile."""
        if self._handle is None:
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
    def run(
        self, workload: Workload, *, rate: float | None = None, duration: float | None = None,
        requests: int | None = None, warmup: float = 0.0, arrivals: str = "constant",
        stall: _run.Stall | None = None, gc: _run.GCSetting = None,
        memory_limit: int | str | None = None, gc_threshold: int | str | None = None,
        precision: int = 2, seed: int = 0, timeline: float | None = 1.0,
        cpu_dma_latency_us: int | None = None, progress: _run.Progress | None = None,
    ) -> Result:  # fmt: skip
        """Run ``workload`` on this pool's threads; the arguments are :func:`golat.run`'s.
        One run at a time per pool. Raises ConfigError, CoreError as golat.run does."""
        handle = self._need_open()
        if workload is not None and getattr(workload, "wants_thread", False):
            if not self.plan.lock_os_thread:
                raise ConfigError(f"{workload} needs locked worker threads; this pool's "
                                  "are not (lock_os_thread=False)")  # fmt: skip
        doc = _run.build_config(
            workload, rate=rate, duration=duration, requests=requests, warmup=warmup,
            arrivals=arrivals, stall=stall, gc=gc, memory_limit=memory_limit,
            workers=self.plan.workers, precision=precision, seed=seed, gc_threshold=gc_threshold,
            timeline=timeline, cpu_dma_latency_us=cpu_dma_latency_us,
        )  # fmt: skip
        _run.check_realtime(self.plan, doc)
        _run.check_node(workload)
        doc.update(self.plan.doc(), pool=handle)
        return _run.execute(doc, progress, _run.thread_notes(workload, self.plan))

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"<golat.Pool {self.plan.workers} workers, cpus={list(self.plan.cpus)}, {state}>"
