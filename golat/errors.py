"""Exceptions raised by golat.

Every error golat raises derives from :class:`GolatError` (never raised directly).
Where a built-in category fits, the subclass derives from it too, so callers that
already catch ``ValueError`` or ``PermissionError`` keep working.
"""

from __future__ import annotations

__all__ = [
    "GolatError",
    "ConfigError",
    "PermissionDenied",
    "Unsupported",
    "CoreError",
    "CoreUnusableAfterFork",
    "CoreNotBuilt",
    "SLOViolation",
    "ComparisonInterrupted",
    "FleetError",
    "GolatWarning",
    "StarvationWarning",
    "FleetWarning",
    "OverloadWarning",
    "StaleCoreWarning",
]


class GolatError(Exception):
    """Base class of every golat error; never raised directly."""


class ConfigError(GolatError, ValueError):
    """An argument or configuration value is wrong; the message says what is allowed."""


class PermissionDenied(GolatError, PermissionError):
    """The OS refused a change (real-time policy, memory lock ...); the message says what
    is missing."""


class Unsupported(GolatError, OSError):
    """This machine or kernel cannot do what was asked (e.g. a NUMA node that does not exist)."""


class CoreError(GolatError, RuntimeError):
    """The Go core failed or panicked; the interpreter survived, the message carries Go's report."""


class CoreUnusableAfterFork(GolatError, RuntimeError):
    """The Go runtime was loaded in a parent process and does not survive ``fork()``."""


class CoreNotBuilt(GolatError, ImportError):
    """The Go shared library is missing: golat was not built (``pip install .`` builds it)."""


class SLOViolation(GolatError, AssertionError):
    """A latency bound given as an SLO (``"p99<=1ms"``) was broken; the message names it."""


class ComparisonInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped :func:`golat.compare`; ``comparison`` holds the trials measured so
    far. A KeyboardInterrupt (not a GolatError), so Ctrl-C still ends a script that does not
    catch it."""

    def __init__(self, comparison: object) -> None:
        super().__init__("comparison interrupted")
        self.comparison = comparison


class GolatWarning(UserWarning):
    """Base class of golat's warnings."""


class StarvationWarning(GolatWarning, RuntimeWarning):
    """A setting can starve the Go runtime or the system: real-time workers on every CPU,
    or no P left beside the locked workers."""


class FleetError(GolatError, RuntimeError):
    """A fleet run got no result from any host; the message names each host and why."""


class FleetWarning(GolatWarning, RuntimeWarning):
    """A fleet run is missing some hosts' results (failed or disconnected); the message names
    them and the share of the load that is missing."""


class StaleCoreWarning(GolatWarning, RuntimeWarning):
    """The Go core in a source checkout is older than a Go source file beside it: rebuild
    it with ``pip install -e .``."""


class OverloadWarning(GolatWarning, RuntimeWarning):
    """A run achieved less than 95 % of its target rate: requests queued behind each other,
    so its corrected latencies measure the backlog, not the system. The message gives the
    rates; ``Result.overload`` says the same."""
