"""Runs a campaign's runs on Dask distributed and merges their results.

By default a LocalCluster of one single-threaded worker process per core
(each run owns a whole process: its emulator, its sockets, its descriptor
budget); with ``scheduler`` an existing cluster (``dask-scheduler`` and
``dask-worker`` processes, on any machines). Workers hand results back as
data, and this process writes every file, so the output is the same
whichever worker ran what.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable

from .execute import run_one
from .progress import Progress
from .results import junit_xml, tally, verdicts, write_jsonl
from .spec import Campaign


def _client(scheduler: str | None, workers: int | None) -> tuple[Any, Any]:
    from distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler), None
    n = workers or os.cpu_count() or 1
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                           host="127.0.0.1", silence_logs=40)
    return Client(cluster), cluster


def merge_shards(shards: list[dict[str, Any]]) -> dict[str, Any]:
    """One run's result from its shards' (in shard order): their devices
    and sequences together, one summary over all devices, the longest wall
    and protocol time, a capture per shard."""
    if len(shards) == 1:
        return shards[0] | {"captures": [shards[0]["capture"]], "workers": [shards[0]["worker"]]}
    devices = [d for s in shards for d in s["devices"]]
    first = shards[0]["summary"]
    summary = tally(devices) | {k: first[k] for k in ("run_id", "seed", "clock")} | {
        "wall_s": max(s["summary"]["wall_s"] for s in shards),
        "virtual_s": max(s["summary"]["virtual_s"] for s in shards), "shards": len(shards)}
    return {"run_id": shards[0]["run_id"], "summary": summary, "devices": devices,
            "sequences": {k: v for s in shards for k, v in s["sequences"].items()},
            "captures": [s["capture"] for s in shards], "workers": [s["worker"] for s in shards]}


def save_run(out: Path, result: dict[str, Any], campaign: Campaign) -> dict[str, Any]:
    """Write one run's files under ``out/runs/RUN_ID/``; returns its entry
    for results.json (without the device records)."""
    run_dir = out / "runs" / result["run_id"]
    run_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(run_dir / "devices.jsonl", result["devices"])
    (run_dir / "sequences.json").write_text(json.dumps(result["sequences"]))
    for i, capture in enumerate(result["captures"]):
        if capture is not None:
            name = "capture.pcapng" if len(result["captures"]) == 1 else f"capture-shard{i}.pcapng"
            (run_dir / name).write_bytes(capture)
    entry = {k: result[k] for k in ("run_id", "summary")}
    entry["cell_id"] = result["cell_id"]
    entry["seed"] = result["summary"]["seed"]
    entry["workers"] = result["workers"]
    entry["verdicts"] = verdicts(campaign.expect, result["devices"])
    (run_dir / "summary.json").write_text(json.dumps(entry, indent=2) + "\n")
    return entry


def run_campaign(
    campaign: Campaign,
    out: str | os.PathLike[str],
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool | None = None,
    shards: int = 1,
    on_run: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run every run (as ``shards`` tasks each), write ``out/`` (runs/, devices.jsonl, results.json,
    junit.xml, report.html); returns results.json's content."""
    from distributed import as_completed

    from .. import __version__
    from .report import write_report

    out = Path(out)
    if (out / "runs").exists():
        shutil.rmtree(out / "runs")
    out.mkdir(parents=True, exist_ok=True)
    runs = campaign.runs()
    cell_of = {r.run_id: r.cell_id for r in runs}
    start = time.monotonic()
    entries: dict[str, dict[str, Any]] = {}
    client, cluster = _client(scheduler, workers)
    try:
        workers_seen = len(client.scheduler_info()["workers"])
        futures = [client.submit(run_one, r.run_id, r.settings, r.seed, shard=(i, shards),
                                 key=f"run-{r.run_id}-shard{i}", pure=False)
                   for r in runs for i in range(shards)]
        done: dict[str, list[dict[str, Any]]] = {}
        with Progress(len(runs), "runs", enabled=progress) as bar:
            for future in as_completed(futures):
                part = future.result()
                parts = done.setdefault(part["run_id"], [])
                parts.append(part)
                if len(parts) < shards:
                    continue
                result = merge_shards(sorted(parts, key=lambda p: int(p["shard"])))
                result["cell_id"] = cell_of[result["run_id"]]
                entries[result["run_id"]] = save_run(out, result, campaign)
                bar.advance()
                if on_run:
                    on_run(entries[result["run_id"]])
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    ordered = [entries[r.run_id] for r in runs]
    results = {
        "campaign": campaign.to_dict(),
        "version": __version__,
        "runs": ordered,
        "workers": workers_seen,
        "shards": shards,
        "scheduler": scheduler or "LocalCluster",
        "wall_s": round(time.monotonic() - start, 3),
    }
    finish(out, results)
    write_report(out)
    return results


def merged_devices(out: Path, results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every run's device records, each with its run and cell."""
    from .results import read_jsonl

    merged = []
    for run in results["runs"]:
        for record in read_jsonl(out / "runs" / run["run_id"] / "devices.jsonl"):
            merged.append({"run_id": run["run_id"], "cell_id": run["cell_id"], "seed": run["seed"]} | record)
    return merged


def finish(out: Path, results: dict[str, Any]) -> None:
    """The campaign-wide files: devices.jsonl, results.json (with a tally
    per cell), junit.xml."""
    devices = merged_devices(out, results)
    write_jsonl(out / "devices.jsonl", devices)
    results["cells"] = {c["cell_id"]: tally([d for d in devices if d["cell_id"] == c["cell_id"]])
                        for c in results["campaign"]["cells"]}
    results["failed_runs"] = [r["run_id"] for r in results["runs"] if r["verdicts"]]
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    junit_xml(out / "junit.xml", results["campaign"]["name"], results["runs"])
