"""The ``golat`` command: ``golat info``, ``golat run WORKLOAD ...``,
``golat compare [WORKLOAD] ...``, ``golat serve ...``.

The run-setting flags (``--rate``, ``--duration``, ``--gc``, ``--cpus`` ...) are generated
from golat.RunSettings' declarations and read by the same code as ``key=value`` text, so
what golat prints (``golat run spin:ns=10us --rate 20000``) can be pasted back.

Bad input exits with status 2 and a one-line reason; a failed trial or a broken SLO exits
1; Ctrl-C exits 130 after stopping the run cleanly.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from .errors import GolatError

EPILOG_WORKLOADS = """workloads (KIND[:key=value,...]; durations take units, a bare number is
seconds, or ns for `ns`; sizes take KiB/MiB/GiB):
  noop                                    the harness floor
  spin:ns=10us                            busy-wait per request
  alloc:size=1KiB,count=16,live_bytes=256MiB   allocate per request, keep a live heap
  pooled_alloc:size=1KiB,count=16,live_bytes=256MiB   the same from pools, no allocation
  syscall:getpid | syscall:pipe           one system call / a pipe round trip
  timer:interval=200us[,method=go]        wake-up latency (clock_nanosleep or Go timer)
  jitter:threshold=10us                   busy loop recording its own gaps (like oslat)
  memchase:bytes=256MiB[,node=0]          dependent pointer chase over a placed buffer
  http:url=http://127.0.0.1:8080/[,connections=1000]   HTTP to a server (loopback unless
                                          --allow-remote); https with ca_file=PEM
  http:url=/,handler=spin:ns=10us         HTTP to an in-process loopback server
"""


def _version() -> str:
    from ._version import __version__

    return f"golat {__version__}"


def _parser() -> Any:
    import argparse

    from ._compare import compare_preset
    from ._settings import RUN, SERVE, THREAD, add_flags

    p = argparse.ArgumentParser(
        prog="golat",
        description="Measure tail latency with golat's Go core: GC policy, thread locking, "
        "CPU pinning and NUMA placement, measured on this machine.",
    )
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    raw = argparse.RawDescriptionHelpFormatter

    info = sub.add_parser("info", help="show the environment and the Go runtime's settings")
    info.add_argument("--json", action="store_true", help="print JSON instead of text")

    run = sub.add_parser("run", help="run one workload and print its latency table",
                         epilog=EPILOG_WORKLOADS, formatter_class=raw)  # fmt: skip
    run.add_argument("workload", nargs="?", default="noop", help="workload (default: noop)")
    add_flags(run, (RUN, THREAD))
    _workload_flags(run)
    _output_flags(run, hgrm=True)
    run.add_argument("--quiet", action="store_true", help="no progress line")

    cmp = sub.add_parser(
        "compare", help="compare tuning stages side by side (baseline, gc, lock, numa)",
        description="Run WORKLOAD under each stage, several trials each, interleaved, every "
        "trial in a fresh process, and print the medians, their spread, the ratio to the "
        "baseline and whether each difference is beyond trial-to-trial noise.",
        epilog=EPILOG_WORKLOADS, formatter_class=raw,
    )  # fmt: skip
    cmp.add_argument("workload", nargs="?", default=None,
                     help=f"workload (default: {compare_preset(False)[1]}; with --quick "
                     f"{compare_preset(True)[1]}, so that its 1 s windows hold GC "
                     "cycles)")  # fmt: skip
    cmp.add_argument(
        "--stages",
        default=None,
        help="comma-separated default stages (default: baseline,gc,lock,numa)",
    )
    cmp.add_argument(
        "--stage", action="append", default=[], metavar="NAME:KEY=VALUE,...",
        help="a stage of your own, after --stages (repeatable): lower-case keys are run "
        "settings (gc=off, workers=2, gc_threshold=512MiB ...), pooled=1 runs the "
        "non-allocating variant, UPPER_CASE keys are start-up environment (GOGC=off, "
        "GOMAXPROCS=1, GODEBUG=asyncpreemptoff=1); e.g. --stage 'off:gc=off'",
    )  # fmt: skip
    cmp.add_argument("--trials", type=int, default=5, help="trials per stage (default 5)")
    cmp.add_argument("--quick", action="store_true",
                     help="trials of 1 s + 0.3 s warm-up (under a minute for four stages on a "
                     "2-core machine)")  # fmt: skip
    cmp.add_argument("--baseline", default=None, help="stage to compare with (default: first)")
    cmp.add_argument("--no-trace", action="store_true", help="do not set GODEBUG=gctrace=1")
    add_flags(cmp, (RUN, THREAD), defaults=compare_preset(False)[0])
    _workload_flags(cmp)
    _output_flags(cmp, markdown=True)
    cmp.add_argument(
        "--slo-stage", default=None, help="stage the SLO is for (default: the last that ran; 'all')"
    )
    cmp.add_argument("--quiet", action="store_true", help="no per-trial progress")

    serve = sub.add_parser(
        "serve", help="serve HTTP on loopback for wrk, ghz or any client, with /metrics",
        epilog=EPILOG_WORKLOADS + "\n" + SERVE_EPILOG, formatter_class=raw,
    )  # fmt: skip
    serve.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="port (default 0: any free port)")
    serve.add_argument("--workload", default="noop", help="handler workload (default noop)")
    serve.add_argument("--path", default="/", help="path that runs the workload (default /)")
    serve.add_argument("--body-bytes", default="0", help="response body size, e.g. 1KiB")
    serve.add_argument("--metrics-path", default="/metrics", help="(default /metrics)")
    serve.add_argument(
        "--for",
        "--duration",
        dest="serve_for",
        default=None,
        metavar="DURATION",
        help="stop after this long, e.g. 30s (default: until Ctrl-C)",
    )
    serve.add_argument(
        "--allow-remote", action="store_true",
        help="allow a non-loopback --host (the server is then reachable from other machines)",
    )  # fmt: skip
    add_flags(serve, (SERVE,))
    serve.add_argument("--json", metavar="FILE", help="write the final stats as JSON (- for "
                       "standard output)")  # fmt: skip
    from ._fleet_cli import register

    register(sub)  # merge, report, fleet: each parser's defaults carry its handler
    return p


def _workload_flags(p: Any) -> None:
    """One flag per workload parameter declared with ``flag=True`` (``--connections``,
    ``--allow-remote``), set on the workload given (see :func:`_workload`)."""
    from ._params import Flag
    from .workloads import flagged

    g = p.add_argument_group("workload parameters (also written in the workload: "
                             "http:url=...,connections=1000)")  # fmt: skip
    for name, (kind, owners) in flagged().items():
        flag, owner = "--" + name.replace("_", "-"), ", ".join(owners)
        if isinstance(kind, Flag):
            g.add_argument(flag, dest=f"wl_{name}", action="store_const", const=True,
                           default=None, help=f"{owner}: set {name}")  # fmt: skip
        else:
            g.add_argument(flag, dest=f"wl_{name}", default=None, metavar="VALUE",
                           help=f"{owner}: {name} ({kind.describe})")  # fmt: skip


def _workload(args: Any) -> Any:
    """The workload of a run or compare command line, with its flagged parameters set."""
    from .workloads import flagged, parse, with_flags

    wl = parse(args.workload)
    values = {}
    for name, (kind, _) in flagged().items():
        v = getattr(args, f"wl_{name}", None)
        if v is not None:
            values[name] = v if isinstance(v, bool) else kind.from_text(f"--{name}", v)
    return with_flags(wl, values)


def _output_flags(p: Any, hgrm: bool = False, markdown: bool = False) -> None:
    g = p.add_argument_group("output")
    g.add_argument("--json", metavar="FILE", help="write the whole result as JSON (- for "
                   "standard output)")  # fmt: skip
    if hgrm:
        g.add_argument("--hgrm", metavar="FILE", help="write the latency percentile "
                       "distribution (HdrHistogram .hgrm; - for standard output)")  # fmt: skip
        g.add_argument("--hlog", metavar="FILE", help="write the timeline as an HdrHistogram "
                       "interval log (.hlog; - for standard output)")  # fmt: skip
    if markdown:
        g.add_argument("--markdown", metavar="FILE", help="write the table as Markdown")
    g.add_argument("--plot", metavar="FILE", help="save a PNG of the distribution and timeline "
                   "(needs matplotlib: pip install 'golat[plot]')")  # fmt: skip
    g.add_argument("--slo", default=None, help="bounds to check, e.g. 'p99<=200us,max<=5ms'")


SERVE_EPILOG = """The first line printed is the address: `golat: serving http://127.0.0.1:PORT/`.
/status/NNN answers NNN, other paths than --path 404. Ctrl-C or SIGTERM stops the server
cleanly and prints the request-duration table per status code."""


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


def _check_outputs(args: Any) -> None:
    """Refuse what would fail only after the run: a bad SLO, plots without matplotlib."""
    if getattr(args, "slo", None):
        from . import _slo

        _slo.parse(args.slo)
    if getattr(args, "plot", None):
        from ._plot import _pyplot

        _pyplot()  # Unsupported, naming the extra to install, before anything runs


def _shown(v: Any) -> str:
    if v is None:
        return "n/a"
    return str(v)


def _cmd_info(args: Any) -> int:
    import json

    from . import _env, _topology, runtime
    from ._format import table
    from ._units import format_bytes

    m = runtime.metrics()
    env = _env.collect({"go_version": m.go_version, "gomaxprocs": m.gomaxprocs})
    settings = {"gc_percent": m.gc_percent, "memory_limit": m.memory_limit,
                "gomaxprocs": m.gomaxprocs, "goroutines": m.goroutines}  # fmt: skip
    topo = _topology.topology()
    if args.json:
        print(json.dumps({"environment": env, "runtime": settings, "topology": topo.to_dict()},
                         indent=2))  # fmt: skip
        return 0
    shown = dict(settings)
    shown["gc_percent"] = "off" if m.gc_percent < 0 else m.gc_percent
    shown["memory_limit"] = ("none" if m.memory_limit >= (1 << 63) - 1
                             else format_bytes(m.memory_limit))  # fmt: skip
    rows = [[k, _shown(v)] for k, v in env.items()]
    rows += [[f"runtime.{k}", _shown(v)] for k, v in shown.items()]
    print(table(["setting", "value"], rows, align_left=2))
    print()
    print(topo.format())
    return 0


def _warnings_to_stderr() -> Any:
    """Show golat's warnings as ``golat: warning: ...`` lines, not Python's format."""
    import warnings

    from .errors import GolatWarning

    def show(message: Any, category: Any, *rest: Any, **kw: Any) -> None:
        if issubclass(category, GolatWarning):
            print(f"golat: warning: {message}", file=sys.stderr, flush=True)
        else:
            previous(message, category, *rest, **kw)

    previous = warnings.showwarning
    warnings.showwarning = show
    return previous


def _cmd_run(args: Any) -> int:
    import shlex

    from ._run import execute, prepare
    from ._settings import RUN, THREAD, RunSettings, from_flags

    wl = _workload(args)
    settings = RunSettings(**from_flags(args, (RUN, THREAD)))
    _check_outputs(args)
    prep = prepare(wl, settings)
    progress = _ProgressLine(not args.quiet)
    try:
        # Ctrl-C stops the run and still prints what was measured up to then.
        r = execute(prep, progress, keep_on_interrupt=True)
    finally:
        progress.clear()
    print(" ".join(["golat run", shlex.quote(str(wl)), settings.args_text()]).rstrip())
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


def _trial_line(done: int, total: int, trial: Any) -> str:
    from ._units import format_ns

    head = f"[{done:>{len(str(total))}}/{total}] {trial.stage:<10} trial {trial.index + 1}"
    if trial.error:
        return f"{head}  FAILED: {trial.error.splitlines()[0]}"
    m = trial.metrics
    p99, p9999, top = (format_ns(m[k]) for k in ("p99_ns", "p99_99_ns", "max_ns"))
    over = "  OVERLOADED" if trial.result is not None and trial.result.overload else ""
    return (f"{head}  P99 {p99:>8}  P99.99 {p9999:>8}  max {top:>8}  GC {m['gc_cycles']:g}  "
            f"({trial.wall_s:.1f} s){over}")  # fmt: skip


def _cmd_compare(args: Any) -> int:
    from ._compare import compare, compare_preset, resolve_stages
    from ._comparison import Stage
    from ._settings import RUN, THREAD, from_flags
    from .errors import ComparisonInterrupted

    preset, default_workload = compare_preset(args.quick)
    if args.workload is None:
        args.workload = default_workload
    wl = _workload(args)
    _check_outputs(args)
    settings = preset.replace(**from_flags(args, (RUN, THREAD)))
    stages: Any = args.stages
    if args.stage:
        stages = resolve_stages(args.stages) if args.stages else []
        stages += [Stage.parse(t) for t in args.stage]

    def progress(done: int, total: int, trial: Any) -> None:
        if not args.quiet:
            print(_trial_line(done, total, trial), file=sys.stderr, flush=True)

    interrupted = False
    try:
        c = compare(wl, stages, args.trials, settings=settings, baseline=args.baseline,
                    trace=not args.no_trace, progress=progress)  # fmt: skip
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
    status = 0
    if c.failed:
        print(f"golat: {len(c.failed)} of {len(c.trials)} trials failed (see FAILED above)",
              file=sys.stderr)  # fmt: skip
        status = 1
    if args.slo:
        broken = c.violations(args.slo, args.slo_stage)
        if broken:
            print("SLO broken: " + "; ".join(broken), file=sys.stderr)
            return 1
        print(f"SLO met: {args.slo}")
    return status


def _cmd_serve(args: Any) -> int:
    import signal
    import time

    from . import _params, workloads
    from ._serve import Server, server_config
    from ._settings import SERVE, RunSettings, from_flags

    serve_for = None
    if args.serve_for is not None:
        serve_for = _params.Seconds(1, 366 * 86400 * 10**9).from_text("--for", args.serve_for)
    options = dict(
        host=args.host, port=args.port, handler=workloads.parse(args.workload), path=args.path,
        body_bytes=_params.Bytes(0, 64 << 20).from_text("--body-bytes", args.body_bytes),
        allow_remote=args.allow_remote, metrics_path=args.metrics_path,
    )  # fmt: skip
    settings = RunSettings(**from_flags(args, (SERVE,)))
    server_config(settings, **options)  # refuse bad settings before anything starts
    stop: list[str] = []

    def on_signal(signum: int, _frame: Any) -> None:
        stop.append(signal.Signals(signum).name)

    old = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server = Server(settings, **options)
        try:
            if args.allow_remote and not workloads.is_loopback(server.host):
                print(
                    f"golat: WARNING: --allow-remote: serving on {server.address}, reachable "
                    "from other machines; anyone who can reach it can load this one",
                    file=sys.stderr,
                    flush=True,
                )
            print(
                f"golat: serving {server.url}{args.path} (workload {options['handler']}, "
                f"metrics at {server.url}{args.metrics_path}); Ctrl-C or SIGTERM stops",
                flush=True,
            )
            print(f"golat: {server.tuning_text()}", flush=True)
            end = time.monotonic() + serve_for if serve_for is not None else None
            while not stop and (end is None or time.monotonic() < end):
                time.sleep(0.05)
        finally:
            final = server.stop()
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    why = f"stopped by {stop[0]}" if stop else "duration reached"
    from ._format import plural

    print(f"golat: {why}; {plural(final.requests, 'request')} in {final.uptime_s:.1f} s")
    print(final.table())
    if args.json:
        import json

        _write(args.json, json.dumps(final.raw))
    return 0


def _write(path: str, text: str) -> None:
    """Write ``text`` to the file ``path``, or to standard output for ``-``."""
    if path == "-":
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
        return
    with open(path, "w") as f:
        f.write(text)


COMMANDS = {"info": _cmd_info, "run": _cmd_run, "compare": _cmd_compare, "serve": _cmd_serve}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    previous = _warnings_to_stderr()
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
    finally:
        import warnings

        warnings.showwarning = previous
        if argv is None:
            # The program exits next. The interpreter's last collection would walk every
            # object numpy, cffi and golat made (measured: 100-300 ms of a Ctrl-C's exit on
            # a loaded 2-core machine); an exiting program needs none of it.
            import gc

            gc.freeze()


if __name__ == "__main__":
    sys.exit(main())
