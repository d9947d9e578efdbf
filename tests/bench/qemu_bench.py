"""QEMU devices benchmark (issue 7, "Performance"): prints numbers, asserts
nothing about time.

  PYTHONPATH=build/release/python python3 tests/bench/qemu_bench.py \
      [--image build/firmware/mps2-an385-lwm2m.elf] [--tool .../hil-qemu-run] \
      [--boots 10] [--devices 32] [--idle 5]

1. Boot to registered of one QEMU device, --boots times: from starting
   hil-qemu-run to the firmware's "state registered" line.
2. --devices QEMU devices at once against one bootstrap and one
   registration server: time until all registered, then host CPU of the
   QEMU processes while they sit registered (--idle seconds) and their
   resident memory.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from lwm2m_hil import CoapTiming, Emulator, bootstrap_config  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def children_of(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE


def start(tool: str, image: str, workdir: str, bs_uri: str, endpoint: str) -> subprocess.Popen[str]:
    cmd = [tool, "--image", image, "--dir", workdir, "--timeout", "300", "--",
           f"ep={endpoint}", f"bs={bs_uri}", "ack_timeout_ms=1000"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, bufsize=1)


def wait_registered(p: subprocess.Popen[str]) -> float:
    assert p.stdout is not None
    for line in p.stdout:
        if line.startswith("EV ") and line.split()[2:4] == ["state", "registered"]:
            return time.monotonic()
    raise RuntimeError(f"hil-qemu-run ended (exit {p.wait()}) before registering")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--image", default=str(REPO / "build" / "firmware" / "mps2-an385-lwm2m.elf"))
    ap.add_argument("--tool", default=os.environ.get("HIL_QEMU_RUN", str(REPO / "build" / "release" / "emulator" / "qemu" / "hil-qemu-run")))
    ap.add_argument("--boots", type=int, default=10)
    ap.add_argument("--devices", type=int, default=32)
    ap.add_argument("--idle", type=float, default=5.0)
    a = ap.parse_args()
    fast = CoapTiming(ack_timeout=0.5)
    with Emulator() as emu, tempfile.TemporaryDirectory() as tmp:
        rs = emu.registration_server(timing=fast)
        bs = emu.bootstrap_server(bootstrap_config(rs.uri), timing=fast)

        times = []
        for i in range(a.boots):
            t0 = time.monotonic()
            p = start(a.tool, a.image, f"{tmp}/boot{i}", bs.uri, f"boot-{i}")
            times.append(wait_registered(p) - t0)
            p.terminate()
            p.wait()
            if p.stdout:
                p.stdout.close()
        ms = sorted(t * 1000 for t in times)
        print(f"boot to registered, one device, {a.boots} runs: median {statistics.median(ms):.0f} ms, "
              f"min {ms[0]:.0f} ms, max {ms[-1]:.0f} ms")

        t0 = time.monotonic()
        procs = [start(a.tool, a.image, f"{tmp}/dev{i}", bs.uri, f"fleet-{i}") for i in range(a.devices)]
        done = [wait_registered(p) for p in procs]
        print(f"{a.devices} QEMU devices at once: all registered after {(max(done) - t0) * 1000:.0f} ms "
              f"(first {(min(done) - t0) * 1000:.0f} ms); registration server has "
              f"{sum(1 for e in rs.registrations() if e.startswith('fleet-'))}")
        qemus = [c for p in procs for c in children_of(p.pid)]
        before = sum(cpu_seconds(q) for q in qemus)
        time.sleep(a.idle)
        used = sum(cpu_seconds(q) for q in qemus) - before
        rss = [rss_bytes(q) for q in qemus]
        print(f"while registered and idle for {a.idle:.0f} s: QEMU CPU {used / a.idle * 100:.1f}% of one core "
              f"for {len(qemus)} processes ({used / a.idle / max(1, len(qemus)) * 100:.2f}% each)")
        print(f"QEMU resident memory: {sum(rss) / 2**20:.0f} MiB in all, {statistics.median(rss) / 2**20:.1f} MiB each (median)")
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()
            if p.stdout:
                p.stdout.close()


if __name__ == "__main__":
    main()
