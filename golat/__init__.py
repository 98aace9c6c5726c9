"""golat: measure, and cut, tail latency with a Go real-time core.

Importing golat is cheap and starts no Go runtime; the core loads on first use.
"""

from . import _format, _plot, errors, runtime, workloads  # noqa: F401 - the renderers register themselves
from ._compare import compare
from ._comparison import Comparison, Stage
from ._histogram import Histogram
from ._hlog import IntervalLog, read_hlog
from ._measure import harness_floor, measure
from ._merge import merge
from ._pool import Pool
from ._ramp import Ramp
from ._result import Result
from ._run import run
from ._serve import Server, ServerStats
from ._settings import RunSettings, Stall
from ._timeline import Timeline
from ._topology import topology
from ._version import __version__

__all__ = [
    "Comparison", "Histogram", "IntervalLog", "Pool", "Ramp", "Result", "RunSettings",
    "Server", "ServerStats", "Stage", "Stall", "Timeline", "compare", "errors", "harness_floor",
    "measure", "merge", "read_hlog", "run", "runtime", "topology", "workloads", "__version__",
]  # fmt: skip
