"""The `campaign run` and `report` subcommands (cli.py only wires them in)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add(sub: Any) -> None:
    """Add ``campaign run FILE --out DIR`` and ``report DIR`` to the CLI."""
    campaign = sub.add_parser("campaign", help="run a campaign file: many seeded runs over a matrix")
    csub = campaign.add_subparsers(dest="campaign_command", required=True)
    run = csub.add_parser("run", help="run every cell x seed of a campaign file on Dask")
    run.add_argument("file", help="the campaign (TOML; README.md: Campaigns)")
    run.add_argument("--out", required=True, metavar="DIR",
                     help="results: report.html, junit.xml, devices.jsonl, results.json, runs/")
    run.add_argument("--scheduler", metavar="tcp://HOST:8786",
                     help="a running Dask scheduler; default: a LocalCluster of one process per core")
    run.add_argument("--workers", type=int, default=None, metavar="N",
                     help="LocalCluster worker processes (default: the machine's cores)")
    run.add_argument("--shards", type=int, default=1, metavar="N",
                     help="split each run's fleet over N tasks (processes), each with its own emulator, "
                          "servers and descriptor budget; merged into one summary and devices.jsonl")
    run.add_argument("--progress", choices=["auto", "on", "off"], default="auto",
                     help="a progress bar: auto shows it only on a terminal")
    run.set_defaults(func=cmd_campaign_run)
    report = sub.add_parser("report", help="rebuild DIR/report.html from a campaign's results")
    report.add_argument("dir", metavar="DIR")
    report.set_defaults(func=cmd_report)


def cmd_campaign_run(args: argparse.Namespace) -> int:
    from .runner import run_campaign
    from .spec import load

    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers: must be >= 1, got {args.workers}")
    if args.scheduler and args.workers is not None:
        raise ValueError("--workers: sizes the LocalCluster; with --scheduler the cluster has its own workers")
    if args.shards < 1:
        raise ValueError(f"--shards: must be >= 1, got {args.shards}")
    campaign = load(args.file)  # validated before any worker starts
    progress = {"auto": None, "on": True, "off": False}[args.progress]
    results = run_campaign(campaign, args.out, scheduler=args.scheduler, workers=args.workers, progress=progress,
                           shards=args.shards)
    out = Path(args.out)
    runs = results["runs"]
    broken = [r for r in runs if r["verdicts"]]
    print(f"campaign {campaign.name}: {len(runs)} runs on {results['workers']} worker(s), {results['wall_s']:.2f} s; "
          f"{len(runs) - len(broken)} passed, {len(broken)} failed")
    for r in broken:
        for line in r["verdicts"]:
            print(f"  {r['run_id']}: {line}", file=sys.stderr)
    print(f"report: {out / 'report.html'}\njunit: {out / 'junit.xml'}\ndevices: {out / 'devices.jsonl'}")
    return 1 if broken else 0


def cmd_report(args: argparse.Namespace) -> int:
    from .report import write_report

    out = Path(args.dir)
    if not (out / "results.json").exists():
        raise ValueError(f"report: {out} holds no results.json (the --out DIR of `campaign run`)")
    print(write_report(out))
    return 0
