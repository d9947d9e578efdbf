#!/usr/bin/env python3
"""Certificate mode at scale: N devices (default 5,000) bootstrap and
register over DTLS with X.509 certificates (ECDSA P-256,
TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8), on the real clock. A program that
prints numbers, not a test.

    PYTHONPATH=build/release/python /usr/bin/python3 tests/bench/x509_bench.py [--devices 5000] [--threads 2]

It prints the time to make the bootstrap configuration (a registration
certificate per device, made in Python), the time from starting the fleet
until all are registered (each device mints its own key and factory
certificate when it is created, then runs two ECDHE-ECDSA handshakes),
the CPU time of the process per device (load-independent, unlike wall
time on a shared machine) and memory per device (RSS after minus before,
servers included). A second line runs the same fleet with DTLS-PSK for
comparison (unless --no-psk); each fleet runs in a fresh process.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from lwm2m_hil import CoapTiming, Emulator, Psk, TestCA, bootstrap_config

_STATM = os.open("/proc/self/statm", os.O_RDONLY)
TIMING = CoapTiming(ack_timeout=2.0)


def rss_kib() -> int:
    resident_pages = int(os.pread(_STATM, 256, 0).split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") // 1024


def x509_fleet(emu: Emulator, devices: int) -> tuple[float, object]:
    ca = TestCA()
    names = [f"dev-{i}" for i in range(devices)]
    start = time.perf_counter()
    rs = emu.registration_server(timing=TIMING, x509=ca.server("dm.example"))
    config = bootstrap_config(rs.secure_uri, x509=True, server_x509=ca.issuer(), endpoints=names)
    bs = emu.bootstrap_server(config, timing=TIMING, x509=ca.server("bs.example"))
    config_s = time.perf_counter() - start
    return config_s, (bs, dict(x509=ca.issuer()))


def psk_fleet(emu: Emulator, devices: int) -> tuple[float, object]:
    key = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
    start = time.perf_counter()
    rs = emu.registration_server(timing=TIMING, psk=[Psk("dm", key)])
    bs = emu.bootstrap_server(
        bootstrap_config(rs.secure_uri, psk=Psk("{endpoint}", key), server_psk=Psk("dm", key)), timing=TIMING
    )
    return time.perf_counter() - start, (bs, dict(psk=Psk("{endpoint}", key)))


def run(kind: str, devices: int, threads: int, timeout: float) -> None:
    before = rss_kib()
    cpu = time.process_time()
    with Emulator(seed=1, threads=threads) as emu:
        config_s, (bs, options) = (x509_fleet if kind == "x509" else psk_fleet)(emu, devices)
        start = time.perf_counter()
        fleet = emu.fleet(devices, bs.secure_uri, timing=TIMING, record_messages=False, **options)
        created_s = time.perf_counter() - start
        fleet.wait_for("registered", exit="finish", timeout=timeout)
        wall_s = time.perf_counter() - start
        cpu_ms = (time.process_time() - cpu) * 1000 / devices
        kib = (rss_kib() - before) / devices
        outcomes = set(bs.outcomes().values())
    print(
        f"{kind:4} N={devices}  config {config_s:6.2f} s   fleet created {created_s:6.2f} s   "
        f"all registered after {wall_s:7.2f} s ({devices / wall_s:6.0f} devices/s, "
        f"{wall_s / devices * 1000:5.2f} ms/device)   CPU {cpu_ms:5.1f} ms/device (all threads, from config on)   "
        f"{kib:6.1f} KiB/device RSS   outcomes {sorted(outcomes)}",
        flush=True,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--devices", type=int, default=5000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--timeout", type=float, default=600.0)
    p.add_argument("--no-psk", action="store_true", help="skip the DTLS-PSK comparison")
    p.add_argument("--kind", choices=["x509", "psk"], help=argparse.SUPPRESS)  # one fleet, in this process
    args = p.parse_args()
    if args.kind:
        run(args.kind, args.devices, args.threads, args.timeout)
        return
    # Each fleet in a fresh process: memory one left behind would hide the other's.
    for kind in ["x509"] if args.no_psk else ["x509", "psk"]:
        subprocess.run(
            [sys.executable, __file__, "--kind", kind, "--devices", str(args.devices), "--threads", str(args.threads),
             "--timeout", str(args.timeout)],
            check=True,
        )


if __name__ == "__main__":
    main()
