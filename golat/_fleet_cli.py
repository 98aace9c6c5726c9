"""The commands for results that travel: ``golat merge``, ``golat report`` and
``golat fleet --scheduler tcp://HOST:8786 run|compare``. :func:`register` adds them to the
``golat`` parser; each parser's defaults carry its handler (``command_handler``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .errors import ConfigError


def register(sub: Any) -> None:
    import argparse

    from ._settings import RUN, THREAD, add_flags

    mg = sub.add_parser(
        "merge",
        help="merge result files losslessly into one (histograms added up)",
        description="Merge golat result JSON files (golat run --json) into one result whose "
        "histograms are the union of theirs, timeline aligned on wall-clock time, each "
        "input kept with its environment.",
    )
    mg.add_argument("files", nargs="+", metavar="FILE", help="golat result JSON files")
    mg.add_argument("-o", "--output", required=True, metavar="FILE", help="merged result JSON")
    mg.add_argument(
        "--label",
        action="append",
        default=None,
        metavar="NAME",
        help="name of each input, in order (default: its hostname)",
    )
    mg.add_argument("--force", action="store_true", help="merge different workloads anyway")
    mg.add_argument("--hlog", metavar="FILE", help="also write the merged interval log")
    mg.set_defaults(command_handler=_cmd_merge)

    rp = sub.add_parser(
        "report",
        help="print the tables of result files: merged and per input, side by side",
    )
    rp.add_argument("files", nargs="+", metavar="FILE", help="golat result JSON files")
    rp.add_argument(
        "--label",
        action="append",
        default=None,
        metavar="NAME",
        help="name of each input, in order (default: its hostname)",
    )
    rp.add_argument("--force", action="store_true", help="merge different workloads anyway")
    rp.set_defaults(command_handler=_cmd_report)

    fl = sub.add_parser(
        "fleet",
        help="run on every worker of a Dask cluster at once (golat[fleet])",
        description="Fleet runs: the total rate split across the Dask workers, one fresh "
        "golat process on each, one agreed wall-clock start, histograms merged with a "
        "per-host breakdown. Every host needs golat[fleet] installed.",
    )
    fl.add_argument(
        "--scheduler", required=True, metavar="tcp://HOST:PORT", help="the Dask scheduler's address"
    )
    fl.add_argument(
        "--hosts",
        default=None,
        metavar="NAME,...",
        help="Dask worker names or addresses to use (default: all)",
    )
    fsub = fl.add_subparsers(dest="fleet_command", metavar="run|compare")
    fsub.required = True
    frun = fsub.add_parser(
        "run",
        help="one run over the hosts, merged",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    frun.add_argument("workload", nargs="?", default="noop", help="workload (default: noop)")
    add_flags(frun, (RUN, THREAD))  # --rate is the total, split across the hosts
    frun.add_argument("--json", metavar="FILE", help="write the merged result as JSON")
    frun.add_argument("--hlog", metavar="FILE", help="write the merged interval log")
    frun.add_argument("--slo", default=None, help="bounds on the merged result, e.g. p99<=1ms")
    frun.set_defaults(command_handler=_cmd_fleet_run)
    fcmp = fsub.add_parser("compare", help="golat compare on every host, hosts side by side")
    fcmp.add_argument(
        "workload",
        nargs="?",
        default=None,
        help="workload (default: golat compare's, with --quick its quick one)",
    )
    fcmp.add_argument(
        "--stages", default=None, help="stages: default names or NAME:key=value (default: all four)"
    )
    fcmp.add_argument("--trials", type=int, default=5, help="trials per stage (default 5)")
    fcmp.add_argument(
        "--quick", action="store_true", help="golat compare --quick's trials and workload"
    )
    add_flags(fcmp, (RUN, THREAD))  # --rate is per host here
    fcmp.add_argument("--json", metavar="FILE", help="write every host's comparison as JSON")
    fcmp.set_defaults(command_handler=_cmd_fleet_compare)


def _read(files: list[str]) -> list[Any]:
    from ._result import Result

    out = []
    for f in files:
        try:
            out.append(Result.from_json(Path(f).read_text()))
        except ConfigError as err:
            raise ConfigError(f"{f}: {err}") from err
    return out


def _merged(args: Any) -> Any:
    from ._merge import merge

    results = _read(args.files)
    labels = args.label
    if labels is None and len(results) > 1:
        # hostnames repeat when the runs came from one machine: use the file names then
        hosts = [r.environment.get("hostname") for r in results]
        if len(set(hosts)) < len(hosts):
            labels = [Path(f).stem for f in args.files]
    return merge(results, labels, force=args.force)


def _cmd_merge(args: Any) -> int:
    merged = _merged(args)
    Path(args.output).write_text(merged.to_json(indent=1))
    if args.hlog:
        Path(args.hlog).write_text(merged.to_hlog())
    print(
        f"golat merge: {len(merged.inputs)} inputs, {merged.requests:,} requests -> {args.output}"
    )
    return 0


def _cmd_report(args: Any) -> int:
    r = _merged(args) if len(args.files) > 1 else _read(args.files)[0]
    print(r.table())
    return 0


def _cmd_fleet_run(args: Any) -> int:
    import warnings

    from . import fleet, workloads
    from ._settings import RUN, THREAD, RunSettings, from_flags

    wl = workloads.parse(args.workload)
    settings = RunSettings(**from_flags(args, (RUN, THREAD)))
    if args.slo:
        from . import _slo

        _slo.parse(args.slo)
    hosts = args.hosts.split(",") if args.hosts else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=fleet.FleetWarning)  # said below instead
        r = fleet.run(wl, settings, scheduler=args.scheduler, hosts=hosts)
    print(f"golat fleet run {wl} on {len(r.extra['fleet']['hosts'])} hosts ({settings})")
    print(r.table())
    if args.json:
        Path(args.json).write_text(r.to_json(indent=1))
    if args.hlog:
        Path(args.hlog).write_text(r.to_hlog())
    status = 0
    missing = fleet.missing_text(r)
    if missing:
        print(f"golat: {missing}", file=sys.stderr)
        status = 1
    if args.slo:
        broken = r.violations(args.slo)
        if broken:
            print("SLO broken: " + "; ".join(broken), file=sys.stderr)
            return 1
        print(f"SLO met: {args.slo}")
    return status


def _cmd_fleet_compare(args: Any) -> int:
    import json
    import warnings

    from . import fleet, workloads
    from ._compare import compare_preset
    from ._settings import RUN, THREAD, from_flags

    preset, default_workload = compare_preset(args.quick)
    wl = workloads.parse(args.workload or default_workload)
    settings = preset.replace(**from_flags(args, (RUN, THREAD)))  # the rate is per host
    hosts = args.hosts.split(",") if args.hosts else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=fleet.FleetWarning)
        fc = fleet.compare(wl, args.stages, args.trials, settings=settings,
                           scheduler=args.scheduler, hosts=hosts)  # fmt: skip
    print(fc.format())
    if args.json:
        docs = {name: json.loads(c.to_json()) for name, c in fc.comparisons.items()}
        Path(args.json).write_text(json.dumps({"hosts": docs, "failed": fc.failed}, indent=1))
    for name, err in fc.failed.items():
        print(f"golat: host {name} gave no comparison: {err}", file=sys.stderr)
    return 1 if fc.failed or any(c.failed for c in fc.comparisons.values()) else 0
