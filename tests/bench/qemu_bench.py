"""QEMU devices benchmark (issue 7, "Performance"): prints numbers, asserts
nothing about time.

  PYTHONPATH=build/release/python python3 tests/bench/qemu_bench.py \\
      [--image build/firmware/mps2-an385-lwm2m.elf] [--boots 10] \\
      [--devices 8,32] [--idle 5]

QEMU devices of the runtime (Emulator.device/fleet(firmware=IMAGE)), their
UDP through the emulated radio, against the embedded servers:

1. Boot to registered of one QEMU device, --boots times: from
   Emulator.device() to the device's state "registered" (the image's
   "state registered" line reaching the host).
2. For each count in --devices: that many QEMU devices at once (one fleet):
   time until all registered; then, while they sit registered for --idle
   seconds, the host CPU of the QEMU processes and of this process (the
   runtime's loops, servers and radio), and QEMU's resident memory.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from lwm2m_hil import CoapTiming, Emulator, bootstrap_config  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--image", default=str(REPO / "build" / "firmware" / "mps2-an385-lwm2m.elf"))
    ap.add_argument("--boots", type=int, default=10)
    ap.add_argument("--devices", default="8,32", help="comma-separated fleet sizes")
    ap.add_argument("--idle", type=float, default=5.0)
    a = ap.parse_args()
    timing = CoapTiming(ack_timeout=0.5)
    with Emulator() as emu:
        rs = emu.registration_server(timing=timing)
        bs = emu.bootstrap_server(bootstrap_config(rs.uri), timing=timing)

        times = []
        for i in range(a.boots):
            t0 = time.monotonic()
            dev = emu.device(f"boot-{i}", bs.uri, firmware=a.image, timing=timing)
            dev.wait_for("registered", timeout=60)
            times.append(time.monotonic() - t0)
            dev.power_cut()  # stop it: QEMU killed, not restarted
        ms = sorted(t * 1000 for t in times)
        print(f"boot to registered, one QEMU device, {a.boots} runs: median {statistics.median(ms):.0f} ms, "
              f"min {ms[0]:.0f} ms, max {ms[-1]:.0f} ms")

    for count in (int(n) for n in a.devices.split(",")):
        with Emulator() as emu:
            rs = emu.registration_server(timing=timing)
            bs = emu.bootstrap_server(bootstrap_config(rs.uri), timing=timing)
            t0 = time.monotonic()
            fleet = emu.fleet(count, bs.uri, prefix="fleet-", firmware=a.image, timing=timing,
                              reboot_after_power_cut=-1)
            fleet.wait_for("registered", timeout=300)
            took = time.monotonic() - t0
            boot = sorted(d.bootstrap_duration() or 0.0 for d in fleet)
            print(f"{count} QEMU devices at once: all registered after {took * 1000:.0f} ms; bootstrap "
                  f"median {statistics.median(boot) * 1000:.0f} ms, max {boot[-1] * 1000:.0f} ms; "
                  f"registration server has {len(rs.registrations())}")
            pids = [d.pid for d in fleet if d.pid]
            self_before = cpu_seconds(os.getpid())
            before = sum(cpu_seconds(p) for p in pids)
            time.sleep(a.idle)
            used = sum(cpu_seconds(p) for p in pids) - before
            host = cpu_seconds(os.getpid()) - self_before
            rss = [rss_bytes(p) for p in pids]
            print(f"  while registered and idle for {a.idle:.0f} s: QEMU CPU {used / a.idle * 100:.1f}% of one core "
                  f"for {len(pids)} processes; this process (loops, servers, radio) {host / a.idle * 100:.1f}%")
            print(f"  QEMU resident memory: {sum(rss) / 2**20:.0f} MiB in all, "
                  f"{statistics.median(rss) / 2**20:.1f} MiB each (median)")
            for d in fleet:
                d.power_cut()


if __name__ == "__main__":
    main()
