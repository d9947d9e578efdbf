"""A campaign on a real Dask cluster: a `dask-scheduler` and two
`dask-worker` processes started here on loopback (ephemeral ports), the
results the same as a LocalCluster's."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from helpers import child_env

CAMPAIGNS = Path(__file__).parent / "campaigns"


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lwm2m_hil", *args], env=env, capture_output=True, text=True,
                          timeout=300)


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


@pytest.fixture(scope="module")
def package_env_m() -> dict[str, str]:
    """package_env, for this module's cluster."""
    return child_env()


@pytest.fixture(scope="module")
def dask_cluster(package_env_m: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A scheduler and two single-threaded workers (no nanny: each worker is
    one process); yields the scheduler's address once both have joined."""
    package_env = package_env_m
    tmp_path = tmp_path_factory.mktemp("dask")
    for tool in ("dask-scheduler", "dask-worker"):
        assert shutil.which(tool), f"{tool} is missing: scripts/lib.sh installs python3-distributed"
    scheduler_file = tmp_path / "scheduler.json"
    procs: list[subprocess.Popen[bytes]] = []
    logs = [open(tmp_path / name, "wb") for name in ("scheduler.log", "worker-0.log", "worker-1.log")]
    try:
        procs.append(subprocess.Popen(
            ["dask-scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(scheduler_file)], env=package_env, stdout=logs[0], stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() or not scheduler_file.read_text().strip():
            assert procs[0].poll() is None, (tmp_path / "scheduler.log").read_text()
            assert time.monotonic() < deadline, "dask-scheduler wrote no scheduler file in 60 s"
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        for i in (1, 2):
            procs.append(subprocess.Popen(
                ["dask-worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny", "--no-dashboard",
                 "--local-directory", str(tmp_path / f"worker-{i}")],
                env=package_env, stdout=logs[i], stderr=subprocess.STDOUT))
        joined = subprocess.run(
            [sys.executable, "-c", "import sys; from distributed import Client; "
             "c = Client(sys.argv[1], timeout=60); c.wait_for_workers(2, timeout=60); c.close()", address],
            env=package_env, capture_output=True, text=True, timeout=120)
        assert joined.returncode == 0, joined.stderr
        yield address
    finally:
        _stop(procs[1:])
        _stop(procs[:1])
        for log in logs:
            log.close()


def _comparable(out: Path) -> tuple[list[str], list[dict]]:
    """What must not depend on who ran the runs: devices.jsonl, and each
    run's summary without its wall time."""
    runs = json.loads((out / "results.json").read_text())["runs"]
    summaries = [{k: v for k, v in r["summary"].items() if k != "wall_s"} for r in runs]
    return (out / "devices.jsonl").read_text().splitlines(), summaries


def test_campaign_on_two_dask_workers_matches_local_cluster(dask_cluster: str, package_env: dict[str, str],
                                                            tmp_path: Path) -> None:
    """`--scheduler tcp://...` runs the runs on both workers (two processes);
    the merged devices.jsonl and summaries equal a one-worker LocalCluster's.
    `--progress on` draws the runs bar even without a terminal; the default
    stays quiet when output is not a terminal."""
    remote, local = tmp_path / "remote", tmp_path / "local"
    r = cli(package_env, "campaign", "run", str(CAMPAIGNS / "small.toml"), "--out", str(remote),
            "--scheduler", dask_cluster, "--progress", "on")
    assert r.returncode == 0, r.stderr
    assert "6 runs on 2 worker(s)" in r.stdout and "runs" in r.stderr and "6/6" in r.stderr
    workers = {w for run in json.loads((remote / "results.json").read_text())["runs"] for w in run["workers"]}
    assert len(workers) == 2 and os.getpid() not in {int(w.rsplit(":", 1)[1]) for w in workers}
    r = cli(package_env, "campaign", "run", str(CAMPAIGNS / "small.toml"), "--out", str(local), "--workers", "1")
    assert r.returncode == 0, r.stderr
    assert "1 worker(s)" in r.stdout and "ETA" not in r.stderr and "6/6" not in r.stderr
    assert _comparable(remote) == _comparable(local)
    assert len(_comparable(local)[0]) == 30


def test_shards_split_one_fleet_over_workers_into_one_result(dask_cluster: str, package_env: dict[str, str],
                                                             tmp_path: Path) -> None:
    """`--shards 2` runs one fleet of 10 as two tasks, one per worker
    process, each with its own device range; the run's devices.jsonl holds
    every device once, its summary all 10, and each device ends as in the
    unsharded run."""
    sharded, whole = tmp_path / "sharded", tmp_path / "whole"
    r = cli(package_env, "campaign", "run", str(CAMPAIGNS / "one_fleet.toml"), "--out", str(sharded),
            "--scheduler", dask_cluster, "--shards", "2")
    assert r.returncode == 0, r.stderr
    (run,) = json.loads((sharded / "results.json").read_text())["runs"]
    assert run["summary"]["shards"] == 2 and run["summary"]["devices"] == run["summary"]["registered"] == 10
    assert len(set(run["workers"])) == 2
    assert sorted(p.name for p in (sharded / "runs" / run["run_id"]).glob("capture*")) == [
        "capture-shard0.pcapng", "capture-shard1.pcapng"]
    r = cli(package_env, "campaign", "run", str(CAMPAIGNS / "one_fleet.toml"), "--out", str(whole),
            "--scheduler", dask_cluster)
    assert r.returncode == 0, r.stderr

    def ends(out: Path) -> dict[str, tuple]:
        lines = [json.loads(line) for line in (out / "devices.jsonl").read_text().splitlines()]
        return {d["endpoint"]: (d["kind"], d["exit"], d["registered"]) for d in lines}

    assert len((sharded / "devices.jsonl").read_text().splitlines()) == 10
    assert ends(sharded) == ends(whole)
    assert sorted(ends(whole)) == sorted([f"dev-legacy-{i}" for i in range(2)] + [f"dev-{i}" for i in range(8)])
