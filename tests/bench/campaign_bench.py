#!/usr/bin/env python3
"""A campaign's wall time on 1 and on 2 Dask workers (a LocalCluster): by
default 50 runs of 1,000 devices each on the virtual clock (NoSec, 5 %
loss each way, 100 ms delay, no capture), report included. A program that
prints numbers, not a test.

    PYTHONPATH=build/release/python python3 tests/bench/campaign_bench.py [--runs 50] [--devices 1000] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CAMPAIGN = """name = "bench"
seeds = "1..{runs}"
clock = "virtual"
capture = false

[fleet]
devices = {devices}
legacy = {legacy}
security = "nosec"

[link]
loss = 0.05
delay = 0.1

[expect]
registered = "all"
"""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--devices", type=int, default=1000)
    p.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="campaign-bench-") as tmp:
        spec = Path(tmp) / "bench.toml"
        spec.write_text(CAMPAIGN.format(runs=args.runs, devices=args.devices, legacy=args.devices // 10))
        for workers in (int(w) for w in args.workers.split(",")):
            out = Path(tmp) / f"out-{workers}"
            start = time.monotonic()
            r = subprocess.run([sys.executable, "-m", "lwm2m_hil", "campaign", "run", str(spec), "--out", str(out),
                                "--workers", str(workers), "--progress", "off"], capture_output=True, text=True)
            wall = time.monotonic() - start
            if r.returncode not in (0, 1):
                print(r.stderr, file=sys.stderr)
                return 1
            devices = (out / "devices.jsonl").read_text().count("\n")
            print(f"campaign {args.runs} runs x {args.devices} devices, {workers} worker(s): {wall:.1f} s wall "
                  f"(cluster start and report included), {devices / wall:.0f} devices/s; {r.stdout.splitlines()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
