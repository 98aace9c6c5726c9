"""One host's part of a fleet run, in a fresh process: ``python -m golat._fleet_child``.

Protocol, one JSON document per line:

1. stdin -> ``{"workload": spec, "settings": RunSettings.to_dict()}``
   (see :func:`golat.fleet.encode_job`).
2. The child validates the settings, loads the Go core and answers on stdout
   ``{"ready": true, "unix_ns": its wall clock, "golat": version}``, or
   ``{"error": text, "error_type": name}``.
3. stdin -> ``{"start_at_unix_ns": N}`` (this host's clock) or ``{"abort": reason}``.
4. The run starts at that instant (the core document's ``start_at_unix_ns``, which only a
   fleet sets); stdout <- ``{"result": Result.to_dict()}`` or an error.

When stdin closes early (the Dask worker that started this process died) the run is
stopped as by Ctrl-C and the process exits: a fleet leaves no orphan behind.
"""

from __future__ import annotations

import _thread
import json
import os
import sys
import threading
import time
from typing import Any


def _say(doc: dict[str, Any]) -> None:
    try:
        sys.stdout.write(json.dumps(doc) + "\n")
        sys.stdout.flush()
    except OSError:  # the fleet went away (its Dask worker died): nobody to tell
        pass


def _watch_stdin(done: threading.Event) -> None:
    """Interrupt the run when the parent goes away (stdin reaches EOF)."""
    sys.stdin.readline()
    if not done.is_set():
        _thread.interrupt_main()


def main() -> int:
    done = threading.Event()
    try:
        from . import _native, fleet
        from ._run import execute, prepare
        from ._version import __version__

        job = json.loads(sys.stdin.readline() or "null")
        workload, settings = fleet.decode_job(job)
        prep = prepare(workload, settings)
        _native.version()  # load the core now: the start instant is not spent loading it
        _say({"ready": True, "unix_ns": time.time_ns(), "golat": __version__})
        go = json.loads(sys.stdin.readline() or '{"abort": "the fleet went away"}')
        if "abort" in go:
            return 1
        prep.doc["start_at_unix_ns"] = int(go["start_at_unix_ns"])
        threading.Thread(target=_watch_stdin, args=(done,), daemon=True).start()
        # stopped (SIGINT from the fleet, or stdin closed): still report what was measured
        result = execute(prep, keep_on_interrupt=True)
        done.set()
        result.extra["pid"] = os.getpid()  # a fresh process per host, as the fleet promises
        _say({"result": json.loads(result.to_json())})
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # reported to the fleet, which names this host
        done.set()
        _say({"error": f"{err}", "error_type": type(err).__name__})
        return 1


if __name__ == "__main__":
    sys.exit(main())
