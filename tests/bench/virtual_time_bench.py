#!/usr/bin/env python3
"""Time compression on the virtual clock: protocol time covered against wall
time, for three scenarios with the RFC 7252 default CoAP timing (ACK_TIMEOUT
2 s, not shortened). A program that prints numbers, not a test.

    PYTHONPATH=build/release/python python3 tests/bench/virtual_time_bench.py [--devices 1000] [--seed 1]

1. finish timeout: the bootstrap server's every Finish is dropped (it gives
   up after MAX_TRANSMIT_WAIT); the device exits "finish_timeout" 247 s after
   the last Write.
2. fleet: N devices (default 1,000) behind links that lose 30 % of the
   datagrams each way, until all are registered.
3. ETS 1.1-int-7: the factory server account answers nothing; after 3 failed
   Registers (each given up after MAX_TRANSMIT_WAIT) the device falls back to
   bootstrap and registers with the server it is given.

With --scale N (default 10,000; 0 skips it): N devices bootstrap and
register on the virtual clock, on one thread (wall time, timeline events
per second of wall time, memory per device), and the same fleet on the real
clock with 1 and then 2 loop threads (the scaling of the real-time runtime).
"""

from __future__ import annotations

import argparse
import os
import socket
import time
from typing import Callable

from lwm2m_hil import Emulator, bootstrap_config


LOSSY_TARGET = 1000.0  # issue 16: virtual / wall time of the lossy fleet


def dead_uri() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return f"coap://127.0.0.1:{s.getsockname()[1]}"


def finish_timeout(emu: Emulator, _devices: int) -> str:
    rs = emu.registration_server()
    bs = emu.bootstrap_server(bootstrap_config(rs.uri))
    dev = emu.device("dev-1", bs.uri, start=False, retry_initial=600)
    dev.add_rule("drop", direction="down", code="POST", path="/bs", count=0, name="drop-finish")
    dev.start()
    dev.run_until(exit="finish_timeout", timeout=600)
    return f"exit {dev.bootstrap_exit}"


def lossy_fleet(emu: Emulator, devices: int) -> str:
    rs = emu.registration_server()
    bs = emu.bootstrap_server(bootstrap_config(rs.uri))
    fleet = emu.fleet(devices, bs.uri, start=False)
    fleet.link(loss=0.3)
    fleet.start()
    fleet.run_until("registered", timeout=7200)
    c = fleet.link_counters()
    return f"{devices} registered, exits {fleet.exits()}, {c['sent']} datagrams, {c['dropped']} dropped"


def int7(emu: Emulator, _devices: int) -> str:
    rs = emu.registration_server()
    bs = emu.bootstrap_server(bootstrap_config(rs.uri))
    dev = emu.device("dev-1", bs.uri, server_uri=dead_uri())
    dev.run_until("registered", exit="finish", timeout=3600)
    failed = sum(1 for e in dev.timeline() if e.kind == "registration_failed")
    return f"{failed} failed Registers, fallback, registered"


def measure(name: str, scenario: Callable[[Emulator, int], str], devices: int, seed: int) -> float:
    """Runs the scenario on the virtual clock, prints and returns virtual / wall time."""
    start = time.perf_counter()
    with Emulator(seed=seed, clock="virtual") as emu:
        what = scenario(emu, devices)
        virtual_s = emu.now()
    wall_s = time.perf_counter() - start
    print(
        f"{name:<16} virtual {virtual_s:9.3f} s   wall {wall_s * 1000:9.1f} ms   "
        f"virtual/wall {virtual_s / wall_s:10.0f}   ({what})",
        flush=True,
    )
    return virtual_s / wall_s


# Opened up front: a 10,000-device fleet holds every descriptor the process
# may have (20,000 here), and then no file can be opened.
_STATM = os.open("/proc/self/statm", os.O_RDONLY)


def rss_kib() -> int:
    resident_pages = int(os.pread(_STATM, 256, 0).split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") // 1024


def scale(devices: int, seed: int, clock: str, threads: int = 2) -> None:
    before = rss_kib()
    start = time.perf_counter()
    with Emulator(seed=seed, clock=clock, threads=threads) as emu:
        rs = emu.registration_server()
        bs = emu.bootstrap_server(bootstrap_config(rs.uri))
        fleet = emu.fleet(devices, bs.uri)
        if clock == "virtual":
            fleet.run_until("registered", timeout=7200)
        else:
            fleet.wait_for("registered", timeout=600)
        wall_s = time.perf_counter() - start
        kib = (rss_kib() - before) / devices
        events = sum(len(d.timeline()) for d in fleet)
        what = f"virtual {emu.now():.3f} s" if clock == "virtual" else f"{threads} loop thread(s)"
    print(
        f"scale {devices} {clock:<7} wall {wall_s:7.2f} s   {what}   "
        f"{events / wall_s:9.0f} timeline events/s ({events} events)   {kib:5.1f} KiB/device RSS",
        flush=True,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--devices", type=int, default=1000, help="fleet size of the lossy fleet")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--scale", type=int, default=10000, help="fleet size of the scale runs; 0 skips them")
    args = p.parse_args()
    print("wall time includes creating the emulator, its servers and devices")
    measure("finish_timeout", finish_timeout, 1, args.seed)
    lossy = measure(f"fleet {args.devices}", lossy_fleet, args.devices, args.seed)
    measure("ets-1.1-int-7", int7, 1, args.seed)
    verdict = "met" if lossy >= LOSSY_TARGET else "missed"
    print(f"target (issue 16, not asserted): the lossy fleet >= {LOSSY_TARGET:.0f}x: {lossy:.0f}x ({verdict})")
    if args.scale:
        scale(args.scale, args.seed, "virtual")
        scale(args.scale, args.seed, "real", threads=1)
        scale(args.scale, args.seed, "real", threads=2)


if __name__ == "__main__":
    main()
