"""The child process of tests/test_fuzz_calls.py: it reads cases (one a line, base64 of a
pickled dict), makes each call with a timer that sends the process SIGINT after the case's
stop_after seconds (a Ctrl-C at an arbitrary moment), and writes one JSON line per case:
how the call ended, how long it took, and whether any run was left going."""

from __future__ import annotations

import base64
import json
import pickle
import signal
import sys
import time
import traceback
import warnings

import golat
from golat import _native
from golat.errors import GolatError


def _ctrl_c(signum, frame):
    signal.raise_signal(signal.SIGINT)


def call(case: dict) -> None:
    kind, wl, kw = case["call"], case["workload"], case["settings"]
    if kind == "run":
        golat.run(wl, **kw)
    elif kind == "measure":
        golat.measure(lambda: None, **kw)
    elif kind == "pool":
        with golat.Pool(workers=case["pool_workers"]) as pool:
            pool.run(wl, **kw)
    elif kind == "compare":
        golat.compare(wl, case["stages"], trials=case["trials"], trace=False, **kw)
    else:
        raise AssertionError(kind)


def main() -> None:
    signal.signal(signal.SIGALRM, _ctrl_c)
    # As an interactive Python has it, whatever this process inherited.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    warnings.simplefilter("ignore")
    for line in sys.stdin:
        case = pickle.loads(base64.b64decode(line))
        begin = time.monotonic()
        try:
            try:
                signal.setitimer(signal.ITIMER_REAL, case["stop_after"])
                call(case)
                outcome = "ok"
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except KeyboardInterrupt:  # ComparisonInterrupted too
            outcome = "interrupted"
        except GolatError as err:
            outcome = type(err).__name__ + ": " + str(err).splitlines()[0][:200]
        except Exception:
            outcome = "BUG " + traceback.format_exc()
        took = time.monotonic() - begin
        # A run an interrupt cut short is stopped and freed before the call returns.
        active = _native.active_runs() if _native.is_loaded() else 0
        print(json.dumps({"outcome": outcome, "s": took, "active_runs": active}), flush=True)


if __name__ == "__main__":
    main()
