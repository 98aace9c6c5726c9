"""A comparison trial in its own process (started by golat._compare.child_command): reads
one job (JSON) on stdin, runs it with :func:`golat.run` and writes the outcome (JSON) to
the job's ``out`` file. The parent captures this process's stderr, where the Go runtime
writes its trace lines (GODEBUG=gctrace=1, schedtrace=...).

Job: ``{"workload": workload document, "settings": RunSettings.to_dict(), "out": path}``.
Outcome: ``{"result": Result.to_dict(), "rusage": {...}}`` or ``{"error": text,
"error_type": name}``. Exit status 0, 1 on an error, 130 on Ctrl-C.
"""

from __future__ import annotations

import json
import resource
import sys
from typing import Any


def _rusage() -> dict[str, int]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return {"nivcsw": r.ru_nivcsw, "nvcsw": r.ru_nvcsw, "minflt": r.ru_minflt,
            "majflt": r.ru_majflt, "maxrss_kib": r.ru_maxrss}  # fmt: skip


def main() -> int:
    job = json.loads(sys.stdin.read())
    out_path = job["out"]

    def write(doc: dict[str, Any]) -> None:
        with open(out_path, "w") as f:
            json.dump(doc, f, default=str)

    try:
        from . import workloads
        from ._run import run
        from ._settings import RunSettings

        wl = workloads.from_spec(job["workload"])
        settings = RunSettings.from_dict(job["settings"])
        before = _rusage()
        result = run(wl, settings)
        after = _rusage()
        usage = {k: after[k] - before[k] for k in after if k != "maxrss_kib"}
        usage["maxrss_kib"] = after["maxrss_kib"]
        write({"result": json.loads(result.to_json()), "rusage": usage})
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # reported to the parent, which decides
        write({"error": f"{err}", "error_type": type(err).__name__})
        return 1


if __name__ == "__main__":
    sys.exit(main())
