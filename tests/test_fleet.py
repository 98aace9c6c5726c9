"""Fleet runs on a real Dask cluster: a scheduler and two workers, each its own process
started with the dask command-line tools, on 127.0.0.1 only."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import stop_process

import golat
from golat import fleet
from golat.errors import ConfigError, FleetWarning
from golat.workloads import Noop

distributed = pytest.importorskip("distributed", reason="distributed is in the 'test' extra")
DASK = [sys.executable, "-m", "distributed.cli.dask_scheduler"]


def _start(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(args, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip


def _stop(p: subprocess.Popen) -> None:
    stop_process(p)


def _worker(sched_file: Path, name: str, log_dir: Path) -> subprocess.Popen:
    return _start([sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file",
                   str(sched_file), "--name", name, "--nthreads", "1", "--no-nanny",
                   "--no-dashboard", "--host", "127.0.0.1"], log_dir / f"{name}.log")  # fmt: skip


def _wait_workers(client, n: int, timeout: float = 90) -> None:
    client.wait_for_workers(n, timeout=timeout)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """(scheduler address, {name: worker process}): two workers, w1 and w2."""
    d = tmp_path_factory.mktemp("dask")
    sched_file = d / "scheduler.json"
    procs = [_start([*DASK, "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", str(sched_file)], d / "scheduler.log")]  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists():
            assert procs[0].poll() is None, (d / "scheduler.log").read_text()
            assert time.monotonic() < deadline, "the Dask scheduler did not start"
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        workers = {n: _worker(sched_file, n, d) for n in ("w1", "w2")}
        procs += workers.values()
        with distributed.Client(address) as c:
            _wait_workers(c, 2)
        yield address, sched_file, d, workers
    finally:
        for p in reversed(procs):
            _stop(p)


def test_fleet_run_merges_both_hosts(cluster, tmp_path):
    address, _, _, workers = cluster
    with distributed.Client(address) as client:
        r = fleet.run(Noop(), client=client, rate=2000, duration=0.6, warmup=0.1, timeline=0.2)
    f = r.extra["fleet"]
    assert [h["status"] for h in f["hosts"]] == ["ok", "ok"] and f["missing_share"] == 0
    assert sorted(h["name"] for h in f["hosts"]) == ["w1", "w2"]
    assert all(h["rate"] == 1000 for h in f["hosts"])  # the total rate, split
    assert sorted(x.extra["label"] for x in r.inputs) == ["w1", "w2"]
    # counts: the merge is the sum of the parts
    assert r.requests == sum(x.requests for x in r.inputs) > 0
    assert r.latency.count == sum(x.latency.count for x in r.inputs) == r.requests
    assert int(r.timeline.count.sum()) == r.requests
    # the merged P99 is the P99 of the union of every value the hosts recorded
    plain = golat.Histogram()
    for x in r.inputs:
        values, counts = x.latency.nonzero()
        plain.record(np.repeat(values, counts))
    for p in (50, 99, 99.9, 100):
        assert r.latency.percentile(p) == plain.percentile(p)
    # one agreed start: each host's first request at the agreed instant (its clock
    # corrected by the measured offset), never before it
    hosts = {h["name"]: h for h in f["hosts"]}
    for x in r.inputs:
        agreed = f["start_at_unix_ns"] + hosts[x.extra["label"]]["clock_offset_ns"]
        assert x.start_unix_ns >= agreed
    assert f["startup_s"] > 0
    # each host ran in its own fresh process, not in its Dask worker nor here
    pids = {x.extra["pid"] for x in r.inputs}
    assert len(pids) == 2 and not pids & {os.getpid(), *(p.pid for p in workers.values())}
    # the merged result travels: JSON and hlog
    back = golat.Result.from_json(r.to_json())
    assert back.to_json() == r.to_json()
    log = golat.IntervalLog.from_text(r.to_hlog())
    assert log.histogram("latency") == r.latency


def test_fleet_cli_run(cluster, tmp_path, capsys):
    from golat._cli import main

    address, *_ = cluster
    out = tmp_path / "fleet.json"
    code = main(["fleet", "--scheduler", address, "run", "noop", "--rate", "1000",
                 "--duration", "0.3s", "--timeline", "0.1s", "--json", str(out)])  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0, text
    assert "merged (2 inputs)" in text and "w1" in text and "w2" in text
    r = golat.Result.from_json(out.read_text())
    assert r.requests == sum(x.requests for x in r.inputs)


def test_fleet_refuses_bad_settings(cluster):
    address, *_ = cluster
    with pytest.raises(ConfigError, match="unknown setting 'duraton'"):
        fleet.run(Noop(), scheduler=address, duraton=1)
    with pytest.raises(ConfigError, match="gc"):  # refused here, before any host starts
        fleet.run(Noop(), scheduler=address, duration=0.2, gc="sometimes")
    # a setting this machine accepts but a host refuses (no CPU 4095 there)
    with pytest.raises(ConfigError, match="refused the settings.*4095"):
        fleet.run(Noop(), scheduler=address, duration=0.2, cpus=[4095])
    with pytest.raises(ConfigError, match="no Dask worker named"):
        fleet.run(Noop(), scheduler=address, duration=0.2, hosts=["nobody"])
    with pytest.raises(ConfigError, match="cannot reach"):
        fleet.run(Noop(), scheduler="tcp://127.0.0.1:9", duration=0.2)


def _children(pid: int) -> list[int]:
    """Child processes of every thread of pid (a Dask task's thread starts golat's)."""
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def test_killed_worker_is_reported(cluster):
    """A worker killed mid-run is named, with the share of the load that is missing; the
    other host's result is kept; the killed worker's golat process does not outlive it."""
    address, sched_file, d, _ = cluster
    victim = _worker(sched_file, "victim", d)
    try:
        with distributed.Client(address) as client:
            _wait_workers(client, 3)
            seen: list[int] = []

            def kill_when_running() -> None:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline and not seen:
                    seen.extend(_children(victim.pid))  # its golat process
                    time.sleep(0.05)
                time.sleep(1.5)  # past spawning and the start instant: mid-run
                victim.send_signal(signal.SIGKILL)

            killer = threading.Thread(target=kill_when_running)
            killer.start()
            with pytest.warns(FleetWarning, match=r"50\.0 %.*victim .* disconnected"):
                r = fleet.run(Noop(), client=client, rate=1000, duration=4.0,
                              hosts=["w1", "victim"], timeline=0.5)  # fmt: skip
            killer.join()
    finally:
        _stop(victim)
    f = r.extra["fleet"]
    by_name = {h["name"]: h for h in f["hosts"]}
    assert by_name["w1"]["status"] == "ok"
    assert by_name["victim"]["status"] == "disconnected"
    assert "left the cluster" in by_name["victim"]["error"]
    assert f["missing_share"] == 0.5
    assert [x.extra["label"] for x in r.inputs] == ["w1"]
    assert r.requests == r.inputs[0].requests > 0
    assert "MISSING: 50.0 %" in r.table()
    assert "victim" in fleet.missing_text(r)
    # the orphaned golat process saw its stdin close and stopped its run
    assert seen, "the victim never started its golat process"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and os.path.exists(f"/proc/{seen[0]}"):
        if Path(f"/proc/{seen[0]}/stat").read_text().split()[2] == "Z":
            break
        time.sleep(0.1)
    alive = os.path.exists(f"/proc/{seen[0]}") and \
        Path(f"/proc/{seen[0]}/stat").read_text().split()[2] != "Z"  # fmt: skip
    assert not alive, "the killed worker's golat process is still running"


def test_fleet_compare_side_by_side(cluster):
    address, *_ = cluster
    fc = fleet.compare(Noop(), "baseline,gc", 1, scheduler=address, duration=0.2, warmup=0.05,
                       rate=1000)  # fmt: skip
    assert sorted(fc.comparisons) == ["w1", "w2"] and not fc.failed
    text = fc.format()
    assert "P99.99, median across trials" in text
    line = next(x for x in text.splitlines() if x.startswith("baseline"))
    assert len(line.split()) >= 4  # stage, one cell per host, best


def test_ctrl_c_stops_every_host(cluster):
    """Ctrl-C on the client stops each host's golat process, wherever the run is."""
    address, _, _, workers = cluster
    cmd = [sys.executable, "-m", "golat", "fleet", "--scheduler", address, "run", "noop",
           "--rate", "1000", "--duration", "60s"]  # fmt: skip
    client = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        hosts = list(workers.values())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(
            [c for p in hosts for c in _children(p.pid)]
        ) < 2:  # fmt: skip
            time.sleep(0.05)
        kids = [c for p in hosts for c in _children(p.pid)]
        assert len(kids) == 2, "the hosts did not start their golat processes"
        time.sleep(1.0)
        client.send_signal(signal.SIGINT)
        _, err = client.communicate(timeout=20)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    assert client.returncode == 130, err
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(c for p in hosts for c in _children(p.pid)):
        time.sleep(0.1)
    assert not [c for p in hosts for c in _children(p.pid)], "a host's golat process runs on"
