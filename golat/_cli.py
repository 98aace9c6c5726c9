"""The ``golat`` command: ``golat info``, ``golat run WORKLOAD ...``,
``golat compare [WORKLOAD] ...``.

Bad input exits with status 2 and a one-line reason; Ctrl-C exits 130 after stopping
the run cleanly.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from .errors import GolatError

EPILOG_WORKLOADS = """workloads (KIND[:key=value,...]):
  noop                                    the harness floor
  spin:ns=10us                            busy-wait per request
  alloc:size=1KiB,count=16,live_bytes=256MiB   allocate per request, keep a live heap
  pooled_alloc:size=1KiB,count=16,live_bytes=256MiB   the same from pools, no allocation
  syscall:getpid | syscall:pipe           one system call / a pipe round trip
  timer:interval=200us[,method=go]        wake-up latency (clock_nanosleep or Go timer)
  jitter:threshold=10us                   busy loop recording its own gaps (like oslat)
  memchase:bytes=256MiB[,node=0]          dependent pointer chase over a placed buffer
"""


def _parser() -> Any:
    import argparse

    p = argparse.ArgumentParser(
        prog="golat",
        description="Measure tail latency with golat's Go core: GC policy, thread locking, "
        "CPU pinning and NUMA placement, measured on this machine.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    info = sub.add_parser("info", help="show the environment and the Go runtime's settings")
    info.add_argument("--json", action="store_true", help="print JSON instead of text")

    run = sub.add_parser(
        "run", help="run one workload and print its latency table",
        epilog=EPILOG_WORKLOADS, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    run.add_argument("workload", nargs="?", default="noop", help="workload (default: noop)")
    run.add_argument(
        "--rate",
        type=float,
        default=None,
        help="requests/s, open loop (default: closed loop, back to back)",
    )
    run.add_argument("--duration", default="5s", help="measured time, e.g. 10s (default 5s)")
    run.add_argument("--requests", type=int, default=None, help="stop after N measured requests")
    run.add_argument("--warmup", default="0s", help="time left out of the statistics (e.g. 1s)")
    run.add_argument("--arrivals", choices=("constant", "poisson"), default="constant")
    run.add_argument(
        "--gc",
        default=None,
        help="GC during the run: a percent, 'off', 'default' (100) or 'managed' (GC off, "
        "collected by golat's controller in request gaps past --gc-threshold)",
    )
    run.add_argument("--memory-limit", default=None, help="soft memory limit, e.g. 1GiB")
    run.add_argument(
        "--gc-threshold", default=None, help="--gc managed: heap size that triggers a GC"
    )
    run.add_argument("--timeline", default="1s", help="timeline interval (default 1s; 0 for none)")
    run.add_argument("--plot", metavar="FILE", help="save a PNG of the distribution and timeline")
    run.add_argument(
        "--workers", type=int, default=None, help="request loops (default: one per --cpus, or 1)"
    )
    run.add_argument(
        "--cpus", default=None, help="pin workers: auto, node:K or a CPU list like 2,3 or 2-5"
    )
    run.add_argument(
        "--lock", choices=("yes", "no"), default=None,
        help="lock each worker to its OS thread (default: when pinning or the workload needs it)",
    )  # fmt: skip
    run.add_argument("--policy", default=None, help="real-time policy fifo:P or rr:P (P 1..99)")
    run.add_argument("--numa", default=None, help="memory policy: local, bind:K or interleave")
    run.add_argument("--mlock", action="store_true", help="lock memory (mlockall) for the run")
    run.add_argument("--gomaxprocs", type=int, default=None, help="GOMAXPROCS during the run")
    run.add_argument(
        "--cpu-dma-latency",
        type=int,
        default=None,
        metavar="US",
        help="hold /dev/cpu_dma_latency at US µs during the run (0: no deep idle "
        "states, as cyclictest does; needs root)",
    )
    run.add_argument(
        "--precision",
        type=int,
        choices=(2, 3),
        default=2,
        help="histogram significant digits (default 2: 1%% error)",
    )
    run.add_argument(
        "--stall", default=None, metavar="EVERY:DURATION", help="inject a stall, e.g. 1s:20ms"
    )
    run.add_argument("--json", metavar="FILE", help="write the full result as JSON")
    run.add_argument("--hgrm", metavar="FILE", help="write the latency percentile distribution")
    run.add_argument("--hlog", metavar="FILE",
                     help="write the timeline as an HdrHistogram interval log")  # fmt: skip
    run.add_argument("--slo", default=None, help="bounds to check, e.g. 'p99<=200us,max<=5ms'")
    run.add_argument("--quiet", action="store_true", help="no progress line")

    cmp = sub.add_parser(
        "compare", help="compare tuning stages side by side (baseline, gc, lock, numa)",
        description="Run WORKLOAD under each stage, several trials each, interleaved, every "
        "trial in a fresh process, and print the medians, their spread, the ratio to the "
        "baseline and whether each difference is beyond trial-to-trial noise.",
        epilog=EPILOG_WORKLOADS, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    cmp.add_argument("workload", nargs="?", default=DEFAULT_COMPARE_WORKLOAD,
                     help=f"workload (default: {DEFAULT_COMPARE_WORKLOAD})")  # fmt: skip
    cmp.add_argument("--stages", default=None,
                     help="comma-separated stages (default: baseline,gc,lock,numa)")  # fmt: skip
    cmp.add_argument(
        "--stage", action="append", default=[], metavar="NAME:KEY=VALUE,...",
        help="a stage of your own, after --stages (repeatable): lower-case keys are golat.run "
        "settings (gc=off, workers=2, gc_threshold=512MiB ...), pooled=1 runs the "
        "non-allocating variant, UPPER-CASE keys are start-up environment (GOGC=off, "
        "GOMAXPROCS=1, GODEBUG=asyncpreemptoff=1); e.g. --stage 'off:gc=off'",
    )  # fmt: skip
    cmp.add_argument("--trials", type=int, default=None, help="trials per stage (default 5)")
    cmp.add_argument("--duration", default=None, help="measured time per trial (default 5s)")
    cmp.add_argument("--warmup", default=None, help="warm-up per trial (default 1s)")
    cmp.add_argument("--rate", type=float, default=DEFAULT_COMPARE_RATE,
                     help=f"requests/s, open loop (default {DEFAULT_COMPARE_RATE:g})")  # fmt: skip
    cmp.add_argument("--workers", type=int, default=None, help="request loops (default 1)")
    cmp.add_argument("--quick", action="store_true",
                     help="5 trials of 1 s + 0.3 s warm-up per stage (under a minute for four "
                     "stages on a 2-core machine)")  # fmt: skip
    cmp.add_argument("--baseline", default=None, help="stage to compare with (default: first)")
    cmp.add_argument("--no-trace", action="store_true", help="do not set GODEBUG=gctrace=1")
    cmp.add_argument("--json", metavar="FILE", help="write the whole comparison as JSON")
    cmp.add_argument("--markdown", metavar="FILE", help="write the table as Markdown")
    cmp.add_argument("--plot", metavar="FILE", help="save the plots as a PNG (golat[plot])")
    cmp.add_argument("--slo", default=None, help="bounds on stage medians, e.g. 'p99<=200us'")
    cmp.add_argument("--slo-stage", default=None,
                     help="stage the SLO is for (default: the last that ran; 'all')")  # fmt: skip
    cmp.add_argument("--quiet", action="store_true", help="no per-trial progress")

    serve = sub.add_parser(
        "serve", help="serve HTTP on loopback for wrk, ghz or any client, with /metrics",
        epilog=EPILOG_WORKLOADS + "\n" + SERVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    serve.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="port (default 0: any free port)")
    serve.add_argument("--workload", default="noop", help="handler workload (default noop)")
    serve.add_argument("--path", default="/", help="path that runs the workload (default /)")
    serve.add_argument("--body-bytes", default="0", help="response body size, e.g. 1KiB")
    serve.add_argument(
        "--workers", type=int, default=None,
        help="requests that may run the workload at once (default: CPU count)",
    )  # fmt: skip
    serve.add_argument("--gc", default=None, help="GC percent: a number, 'off' or 'default'")
    serve.add_argument("--memory-limit", default=None, help="soft memory limit, e.g. 1GiB")
    serve.add_argument("--metrics-path", default="/metrics", help="(default /metrics)")
    serve.add_argument("--duration", default=None, help="stop after this long, e.g. 30s")
    serve.add_argument(
        "--allow-remote", action="store_true",
        help="allow a non-loopback --host (the server is then reachable from other machines)",
    )  # fmt: skip
    serve.add_argument("--json", metavar="FILE", help="write the final stats as JSON")
    from ._fleet_cli import register

    register(sub)  # merge, report, fleet: each parser's defaults carry its handler
    return p


SERVE_EPILOG = """The first line printed is the address: `golat: serving http://127.0.0.1:PORT/`.
/status/NNN answers NNN, other paths than --path 404. Ctrl-C or SIGTERM stops the server
cleanly and prints the request-duration table per status code."""


DEFAULT_COMPARE_WORKLOAD = "alloc:size=1KiB,count=16,live_bytes=256MiB"
DEFAULT_COMPARE_RATE = 10_000.0


class _ProgressLine:
    """One status line on stderr, rewritten in place, only on a terminal and past 2 s."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.shown = False

    def __call__(self, served: int, elapsed: float, planned: float) -> None:
        if not self.enabled or (elapsed < 2.0 and not self.shown):
            return
        total = f"/{planned:.0f} s" if planned == planned else " s"
        sys.stderr.write(f"\r  running {elapsed:5.1f}{total}  {served:>12,} requests ")
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r" + " " * 60 + "\r")
            sys.stderr.flush()


def _cmd_info(args: Any) -> int:
    import json

    from . import _env, _topology, runtime

    m = runtime.metrics()
    env = _env.collect({"go_version": m.go_version, "gomaxprocs": m.gomaxprocs})
    settings = {"gc_percent": m.gc_percent, "memory_limit": m.memory_limit,
                "gomaxprocs": m.gomaxprocs, "goroutines": m.goroutines}  # fmt: skip
    topo = _topology.topology()
    if args.json:
        print(json.dumps({"environment": env, "runtime": settings, "topology": topo.to_dict()},
                         indent=2))  # fmt: skip
        return 0
    from ._format import table

    rows = [[k, str(v)] for k, v in env.items()]
    rows += [[f"runtime.{k}", str(v)] for k, v in settings.items()]
    print(table(["setting", "value"], rows, align_left=2))
    print()
    print(topo.format())
    return 0


def _cmd_run(args: Any) -> int:
    from . import _units, workloads
    from ._run import Stall, build_run, execute

    wl = workloads.parse(args.workload)
    stall = None
    if args.stall:
        every, sep, dur = args.stall.partition(":")
        if not sep:
            raise GolatError_config(
                f"--stall must be EVERY:DURATION like 1s:20ms, got {args.stall!r}"
            )
        stall = Stall(_units.parse_duration(every, "--stall every"),
                      _units.parse_duration(dur, "--stall duration"))  # fmt: skip
    gc: Any = args.gc
    if gc is not None and gc not in ("off", "default", "managed"):
        try:
            gc = int(gc)
        except ValueError:
            raise GolatError_config(
                f"--gc must be a percent, 'off', 'default' or 'managed', got {gc!r}"
            ) from None
    timeline = _units.parse_duration(args.timeline, "--timeline") or None
    if args.slo:
        from . import _slo

        _slo.parse(args.slo)  # refuse a bad SLO before running
    duration = None if args.requests and args.duration == "5s" else _units.parse_duration(
        args.duration, "--duration")  # fmt: skip
    doc, notes = build_run(
        wl, rate=args.rate, duration=duration, requests=args.requests,
        warmup=_units.parse_duration(args.warmup, "--warmup"), arrivals=args.arrivals,
        stall=stall, gc=gc, memory_limit=args.memory_limit, workers=args.workers,
        cpus=args.cpus, lock_os_thread=None if args.lock is None else args.lock == "yes",
        policy=args.policy, numa=args.numa, mlock=args.mlock, gomaxprocs=args.gomaxprocs,
        precision=args.precision, gc_threshold=args.gc_threshold, timeline=timeline,
        cpu_dma_latency_us=args.cpu_dma_latency,
    )  # fmt: skip
    progress = _ProgressLine(not args.quiet)
    try:
        # Ctrl-C stops the run and still prints what was measured up to then.
        r = execute(doc, progress, notes, keep_on_interrupt=True)
    finally:
        progress.clear()
    print(f"golat run {wl}")
    print(r.table())
    if args.json:
        _write(args.json, r.to_json(indent=1))
    if args.hgrm:
        _write(args.hgrm, r.latency.to_hgrm())
    if args.hlog:
        _write(args.hlog, r.to_hlog())
    if args.plot:
        print(f"plot: {r.plot(args.plot, label=str(wl))}")
    if args.slo:
        broken = r.violations(args.slo)
        if broken:
            print("SLO broken: " + "; ".join(broken), file=sys.stderr)
            return 1
        print(f"SLO met: {args.slo}")
    return 130 if r.interrupted else 0


def GolatError_config(msg: str) -> GolatError:  # noqa: N802 - reads as a constructor
    from .errors import ConfigError

    return ConfigError(msg)


def _trial_line(done: int, total: int, trial: Any) -> str:
    from ._units import format_ns

    head = f"[{done:>{len(str(total))}}/{total}] {trial.stage:<10} trial {trial.index + 1}"
    if trial.error:
        return f"{head}  FAILED: {trial.error.splitlines()[0]}"
    m = trial.metrics
    p99, p9999, top = (format_ns(m[k]) for k in ("p99_ns", "p99_99_ns", "max_ns"))
    return (f"{head}  P99 {p99:>8}  P99.99 {p9999:>8}  max {top:>8}  GC {m['gc_cycles']:g}  "
            f"({trial.wall_s:.1f} s)")  # fmt: skip


def parse_stage(text: str) -> Any:
    """``NAME:key=value,...`` -> a golat.Stage (see ``golat compare --help``)."""
    from ._compare import Stage
    from .errors import ConfigError

    name, sep, rest = text.partition(":")
    settings: dict[str, Any] = {}
    env: dict[str, str] = {}
    pooled = False
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or not key:
            raise ConfigError(f"--stage {text!r}: write NAME:key=value,...; cannot read {part!r}")
        if key.isupper():
            env[key] = value
        elif key == "pooled":
            pooled = value.lower() in ("1", "true", "yes")
        else:
            settings[key] = _setting_value(value)
    return Stage(name.strip(), settings, env, pooled=pooled, description=rest)


def _setting_value(v: str) -> Any:
    low = v.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for conv in (int, float):
        try:
            return conv(v)
        except ValueError:
            pass
    return v


def _cmd_compare(args: Any) -> int:
    from . import _units, workloads
    from ._compare import compare
    from .errors import ComparisonInterrupted

    wl = workloads.parse(args.workload)
    if args.slo:
        from . import _slo

        _slo.parse(args.slo)  # refuse a bad SLO before running
    quick = args.quick
    trials = args.trials if args.trials is not None else 5
    duration = args.duration or ("1s" if quick else "5s")
    warmup = args.warmup or ("0.3s" if quick else "1s")
    settings: dict[str, Any] = {
        "rate": args.rate or None,
        "duration": _units.parse_duration(duration, "--duration"),
        "warmup": _units.parse_duration(warmup, "--warmup"),
    }
    if args.workers is not None:
        settings["workers"] = args.workers

    def progress(done: int, total: int, trial: Any) -> None:
        if not args.quiet:
            print(_trial_line(done, total, trial), file=sys.stderr, flush=True)

    interrupted = False
    try:
        from ._compare import resolve_stages

        stages = None
        if args.stage:
            stages = resolve_stages(args.stages) if args.stages else []
            stages += [parse_stage(t) for t in args.stage]
        else:
            stages = args.stages
        c = compare(wl, stages, trials, baseline=args.baseline, trace=not args.no_trace,
                    progress=progress, **settings)  # fmt: skip
    except ComparisonInterrupted as stop:
        c = stop.comparison
        interrupted = True
        print("\ngolat: interrupted; the running trial was stopped", file=sys.stderr)
    print(c.format())
    if args.json:
        _write(args.json, c.to_json(indent=1))
    if args.markdown:
        _write(args.markdown, c.markdown())
    if args.plot and c.trials:
        print(f"plot: {c.plot(args.plot)}")
    if interrupted:
        return 130
    if args.slo:
        broken = c.violations(args.slo, args.slo_stage)
        if broken:
            print("SLO broken: " + "; ".join(broken), file=sys.stderr)
            return 1
        print(f"SLO met: {args.slo}")
    return 0


def _cmd_serve(args: Any) -> int:
    import signal
    import time

    from . import _units, workloads
    from ._serve import Server, server_config

    gc: Any = args.gc
    if gc is not None and gc not in ("off", "default"):
        try:
            gc = int(gc)
        except ValueError:
            raise GolatError_config(
                f"--gc must be a percent, 'off' or 'default', got {gc!r}"
            ) from None
    duration = None
    if args.duration is not None:
        duration = _units.parse_duration(args.duration, "--duration")
        _units.number("--duration (s)", duration, maximum=366 * 86400)
    settings = dict(
        host=args.host, port=args.port, handler=workloads.parse(args.workload), path=args.path,
        body_bytes=_units.parse_size(args.body_bytes, "--body-bytes"), workers=args.workers,
        gc=gc, memory_limit=args.memory_limit, allow_remote=args.allow_remote,
        metrics_path=args.metrics_path,
    )  # fmt: skip
    server_config(**settings)  # refuse bad settings before anything starts
    stop: list[str] = []

    def on_signal(signum: int, _frame: Any) -> None:
        stop.append(signal.Signals(signum).name)

    old = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server = Server(**settings)
        try:
            if args.allow_remote and not workloads.is_loopback(server.host):
                print(
                    f"golat: WARNING: --allow-remote: serving on {server.address}, reachable "
                    "from other machines; anyone who can reach it can load this one",
                    file=sys.stderr,
                    flush=True,
                )
            print(
                f"golat: serving {server.url}{args.path} (workload {settings['handler']}, "
                f"metrics at {server.url}{args.metrics_path}); Ctrl-C or SIGTERM stops",
                flush=True,
            )
            end = time.monotonic() + duration if duration is not None else None
            while not stop and (end is None or time.monotonic() < end):
                time.sleep(0.05)
        finally:
            final = server.stop()
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    why = f"stopped by {stop[0]}" if stop else "duration reached"
    print(f"golat: {why}; {final.requests:,} requests in {final.uptime_s:.1f} s")
    print(final.table())
    if args.json:
        import json

        with open(args.json, "w") as f:
            json.dump(final.raw, f)
    return 0


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


COMMANDS = {"info": _cmd_info, "run": _cmd_run, "compare": _cmd_compare, "serve": _cmd_serve}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        handler = getattr(args, "command_handler", None) or COMMANDS[args.command]
        return handler(args)
    except KeyboardInterrupt:
        print("\ngolat: interrupted; the run was stopped", file=sys.stderr)
        return 130
    except GolatError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"golat: error: {first}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `golat run ... | head`: the reader left; say nothing more (as other tools do).
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as err:
        print(f"golat: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
