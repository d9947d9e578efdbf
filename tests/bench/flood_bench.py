"""What floods of bad requests cost the embedded servers, and whether that
cost lasts (tests/bench/README.md, "flood_bench.py").

Three floods from one raw UDP socket, one after the other, against servers
in this process that also serve a few legitimate devices:

- ``bs``: ``POST /bs?ep=flood-N`` for N = 0..count-1; the server starts a
  session for each and the flooder never answers its commands; the results
  expire ``result_ttl`` after their sessions ended.
- ``lt``: ``POST /rd?ep=flood-N&lt=4294967295``: registrations that would
  never expire without ``max_lifetime``.
- ``bad``: ``POST /rd?lt=x``: refused at once (4.00), one event each.

For each it prints the process's RSS and CPU (share of one core) at the
baseline, during the flood, and once the flood's state has expired, and the
legitimate devices' latency (a Read of /3/0/0 through the registration
server) meanwhile. Numbers are printed, never asserted: the machine is
shared and noisy.

    cd tests && PYTHONPATH=../build/release/python /usr/bin/python3 \\
        bench/flood_bench.py [--floods bs,lt,bad] [--count 20000] [--bad 100000]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import struct
import sys
import time
from typing import Any, Callable

from lwm2m_hil import CoapTiming, Emulator, bootstrap_config

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def cpu_seconds() -> float:
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def cpu_share(seconds: float) -> float:
    """Percent of one core this process used over the next ``seconds``."""
    start_cpu, start = cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    return 100.0 * (cpu_seconds() - start_cpu) / (time.monotonic() - start)


def coap_post(mid: int, path: list[str], query: list[str]) -> bytes:
    """A CON POST, encoded by hand (Uri-Path 11, Uri-Query 15)."""
    out = bytearray([0x40, 0x02]) + struct.pack("!H", mid & 0xFFFF)
    last = 0
    for number, value in [(11, p.encode()) for p in path] + [(15, q.encode()) for q in query]:
        delta, length = number - last, len(value)
        last = number
        assert delta < 13 and length < 269
        if length < 13:
            out.append((delta << 4) | length)
        else:
            out += bytes([(delta << 4) | 13, length - 13])
        out += value
    return bytes(out)


def flood(
    target: tuple[str, int], make: Callable[[int], bytes], count: int, latency: Callable[[], float]
) -> dict[str, Any]:
    """Sends ``count`` datagrams in bursts of 100, draining answers (never
    answering the server's requests) and sampling the devices' latency."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    answers, samples, peak_rss = 0, [], rss_mib()
    start_cpu, start = cpu_seconds(), time.monotonic()
    for i in range(count):
        sock.sendto(make(i), target)
        if i % 100 == 99:
            time.sleep(0.002)  # lets the server keep up instead of measuring kernel drops
            while True:
                try:
                    sock.recv(2048)
                    answers += 1
                except BlockingIOError:
                    break
        if i % 2000 == 1999:
            samples.append(latency())
            peak_rss = max(peak_rss, rss_mib())
    cpu = 100.0 * (cpu_seconds() - start_cpu) / (time.monotonic() - start)
    sock.close()
    return {"sent": count, "answers": answers, "cpu": cpu, "rss": max(peak_rss, rss_mib()), "latency": samples}


def wait(what: Callable[[], bool], timeout: float) -> float:
    start = time.monotonic()
    while not what() and time.monotonic() - start < timeout:
        time.sleep(0.2)
    return time.monotonic() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--floods", default="bs,lt,bad", help="comma-separated: bs, lt, bad")
    ap.add_argument("--count", type=int, default=20000, help="datagrams of the bs and lt floods")
    ap.add_argument("--bad", type=int, default=100000, help="datagrams of the bad flood")
    ap.add_argument("--devices", type=int, default=5, help="legitimate devices")
    ap.add_argument("--max-lifetime", type=int, default=5, help="the registration server's max_lifetime, s")
    ap.add_argument("--max-results", type=int, default=1000, help="the bootstrap server's max_results")
    ap.add_argument("--result-ttl", type=int, default=5, help="the bootstrap server's result_ttl, s")
    ap.add_argument("--ack-timeout", type=float, default=0.2,
                    help="the servers' CoAP ACK timeout, s: an unanswered bootstrap session ends after "
                         "about 46.5 times this")
    ap.add_argument("--settle", type=float, default=120.0, help="at most this long for a flood's state to expire, s")
    args = ap.parse_args()

    timing = CoapTiming(ack_timeout=args.ack_timeout)
    with Emulator() as emu:
        rs = emu.registration_server(timing=timing, max_lifetime=args.max_lifetime)
        config = bootstrap_config(rs.uri, lifetime=args.max_lifetime)
        bs = emu.bootstrap_server(config, timing=timing, max_results=args.max_results, result_ttl=args.result_ttl)
        started = time.monotonic()
        fleet = emu.fleet(args.devices, bs.uri, prefix="legit-", timing=CoapTiming(ack_timeout=0.5))
        fleet.wait_for("registered", timeout=60)
        print(f"{args.devices} legitimate devices registered in {1000 * (time.monotonic() - started):.0f} ms")
        names = [d.endpoint for d in fleet]

        def latency() -> float:
            t = time.monotonic()
            for ep in names:
                rs.request(ep, "GET", "/3/0/0", timeout=30)
            return (time.monotonic() - t) / len(names) * 1000

        def address(uri: str) -> tuple[str, int]:
            host, port = uri.removeprefix("coap://").rsplit(":", 1)
            return host, int(port)

        flood_end = [0.0]
        floods = {
            "bs": (address(bs.uri), lambda i: coap_post(i, ["bs"], [f"ep=flood-{i}"]), args.count,
                   # Every result made so far gone (the legitimate devices' expired before the flood's);
                   # the counters, since copying results() would itself grow this process.
                   lambda: sum(bs.counters()[k] for k in ("results_evicted", "results_expired"))
                   >= args.count + args.devices),
            # registrations() of 20,000 would itself grow this process: look once they should be gone.
            "lt": (address(rs.uri), lambda i: coap_post(i, ["rd"], [f"ep=flood-{i}", "lt=4294967295"]), args.count,
                   lambda: time.monotonic() - flood_end[0] > args.max_lifetime + 1
                   and len(rs.registrations()) <= args.devices),
            "bad": (address(rs.uri), lambda i: coap_post(i, ["rd"], [f"lt=x{i}"]), args.bad, lambda: True),
        }
        for name in args.floods.split(","):
            target, make, count, expired = floods[name]
            base_rss, base_cpu, base_lat = rss_mib(), cpu_share(2.0), statistics.median(latency() for _ in range(5))
            during = flood(target, make, count, latency)
            flood_end[0] = time.monotonic()
            settled = wait(expired, args.settle)
            # RSS at the end of the CPU window: the servers trim the heap a second after a sweep.
            after_cpu, after_rss = cpu_share(3.0), rss_mib()
            after_lat = statistics.median(latency() for _ in range(5))
            lat = during["latency"] or [float("nan")]
            print(f"flood {name}: {count} datagrams, {during['answers']} answered")
            print(f"  baseline: RSS {base_rss:.1f} MiB, CPU {base_cpu:.1f} %, Read latency {base_lat:.2f} ms")
            print(f"  during:   RSS {during['rss']:.1f} MiB (peak), CPU {during['cpu']:.1f} %, "
                  f"Read latency median {statistics.median(lat):.2f} ms, max {max(lat):.2f} ms")
            print(f"  after:    state expired in {settled:.1f} s; RSS {after_rss:.1f} MiB "
                  f"({100 * (after_rss - base_rss) / base_rss:+.1f} % of baseline), CPU {after_cpu:.1f} %, "
                  f"Read latency {after_lat:.2f} ms")
            print(f"  servers:  {len(rs.registrations())} registrations, {len(bs.results())} bootstrap results; "
                  f"rs {rs.counters()}, bs {bs.counters()}")
        states = {d.state for d in fleet}
        print(f"legitimate devices at the end: {sorted(states)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
