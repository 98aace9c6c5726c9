"""How fast a run stops while the core is inside one of its long waits.

Two figures per case, each over --reps repetitions (median, min-max):

- core: in one process, the run is started, left ``--settle`` s to reach its wait, then
  ``run_stop(wait=True)`` is timed: the core's own stop, the 200 ms bound of the design.
- cli: ``golat run`` in a child process gets SIGINT once it is in its run; the time to its
  exit (130), interpreter shutdown included: what a user sees after Ctrl-C.

The reference, measured in the same session, is the core stop of a closed-loop Noop run
(no wait at all): what stopping costs when there is nothing to cut short.

    python benchmarks/bench_stop.py [--reps 7] [--no-cli] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import golat
from golat import _native, _run
from golat._settings import RunSettings


@contextmanager
def silent_server():
    """A listening socket that completes TCP handshakes (the kernel does) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        yield f"http://127.0.0.1:{s.getsockname()[1]}/"


def cases(url: str) -> dict[str, tuple[str, list[str]]]:
    """name -> (workload text, CLI settings flags)."""
    return {
        "reference: closed loop": ("noop", ["--duration", "60s"]),
        "arrival gap (rate 0.1/s)": ("noop", ["--rate", "0.1", "--requests", "3"]),
        "timer 10s clock_nanosleep": ("timer:interval=10s", ["--duration", "60s"]),
        "timer 10s go": ("timer:interval=10s,method=go", ["--duration", "60s"]),
        "stall 60s": ("noop", ["--rate", "100", "--duration", "120s", "--stall", "1ms:60s"]),
        "spin 60s (one request)": ("spin:ns=60s", ["--requests", "2"]),
        "http never answered, blocking": (f"http:url={url},timeout=60s,engine=blocking",
                                          ["--rate", "1", "--duration", "60s"]),
        "http never answered, epoll": (f"http:url={url},timeout=60s,engine=epoll",
                                       ["--rate", "1", "--duration", "60s"]),
        "http never answered, netpoll": (f"http:url={url},timeout=60s,engine=netpoll",
                                         ["--rate", "1", "--duration", "60s"]),
        "managed GC, gap 10s": ("noop", ["--rate", "0.1", "--requests", "3", "--gc", "managed"]),
    }  # fmt: skip


def core_stop_s(text: str, flags: list[str], settle: float) -> float:
    from golat._cli import _parser
    from golat._settings import RUN, THREAD, from_flags

    args = _parser().parse_args(["run", text, *flags])
    settings = RunSettings(**from_flags(args, (RUN, THREAD)))
    prep = _run.prepare(golat.workloads.parse(text), settings)
    h = _native.run_start(prep.doc)
    try:
        time.sleep(settle)
        assert not _native.run_poll(h)[0], "the run ended before the stop"
        t = time.perf_counter()
        _native.run_stop(h, wait=True)
        return time.perf_counter() - t
    finally:
        _native.run_free(h)


def cli_stop_s(text: str, flags: list[str], settle: float) -> float:
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "r.json"
        p = subprocess.Popen(
            [sys.executable, "-m", "golat", "run", text, *flags, "--quiet", "--json", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )  # fmt: skip
        while p.poll() is None:  # in its run once the core is loaded and settle has passed
            if "_golat" in Path(f"/proc/{p.pid}/maps").read_text():
                break
            time.sleep(0.02)
        time.sleep(settle)
        t = time.perf_counter()
        p.send_signal(signal.SIGINT)
        rc = p.wait(60)
        took = time.perf_counter() - t
        err = p.stderr.read().decode()
        if rc != 130 or not json.loads(out.read_text())["interrupted"]:
            raise RuntimeError(f"golat run {text}: exit {rc}, not an interrupted run: {err}")
        return took


def summary_ms(xs: list[float]) -> str:
    ms = [x * 1e3 for x in xs]
    return f"{statistics.median(ms):8.1f} ms (min {min(ms):.1f}, max {max(ms):.1f}, n={len(ms)})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--settle", type=float, default=0.5, help="s in the run before the stop")
    ap.add_argument("--no-cli", action="store_true", help="core figures only")
    ap.add_argument("--json", help="write the raw figures here")
    a = ap.parse_args()
    raw: dict[str, dict[str, list[float]]] = {}
    with silent_server() as url:
        for name, (text, flags) in cases(url).items():
            raw[name] = {"core_s": [], "cli_s": []}
            for _ in range(a.reps):  # core and CLI alternate
                raw[name]["core_s"].append(core_stop_s(text, flags, a.settle))
                if not a.no_cli:
                    raw[name]["cli_s"].append(cli_stop_s(text, flags, a.settle))
            line = f"{name:32} core {summary_ms(raw[name]['core_s'])}"
            if raw[name]["cli_s"]:
                line += f"   cli {summary_ms(raw[name]['cli_s'])}"
            print(line, flush=True)
    worst = max(statistics.median(v["core_s"]) for v in raw.values())
    ref = statistics.median(raw["reference: closed loop"]["core_s"])
    print(f"slowest core stop (median) {worst * 1e3:.1f} ms; reference {ref * 1e3:.1f} ms; "
          f"bound 200 ms")  # fmt: skip
    if a.json:
        Path(a.json).write_text(json.dumps(raw, indent=1))


if __name__ == "__main__":
    main()
