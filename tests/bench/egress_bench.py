"""What the egress costs (emulator/radio/README.md, "Egress"): the same
fleet bootstraps and registers against the standalone servers
(``lwm2m-hil bootstrap-server`` / ``registration-server``, a process of
their own) on 127.0.0.1, and against the same servers on another host (a
network namespace behind a veth pair, tests/other_host.py) through the
egress. For each it prints the wall time from the fleet's start until every
device registered (or --timeout passed), devices registered per second, the emulator's open descriptors, datagrams
the radio failed to send, and the change in conntrack entries (with the egress, the masquerade's
one per device and server).
It prints once what setting the egress up and removing it take. Numbers
are printed, never asserted: the machine is shared and noisy. Needs root.

    cd tests && PYTHONPATH=../build/release/python /usr/bin/python3 \\
        bench/egress_bench.py [--devices 1000,10000] [--timeout 60]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/: other_host, helpers

from lwm2m_hil import DeviceTimeout, Emulator  # noqa: E402
from other_host import OtherHost, other_host, servers_on  # noqa: E402


def descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def conntrack_count() -> int:
    """Connections the kernel tracks (0 while nothing loaded conntrack)."""
    try:
        return int(Path("/proc/sys/net/netfilter/nf_conntrack_count").read_text())
    except OSError:
        return 0


def run_fleet(count: int, host: OtherHost | None, timeout: float) -> None:
    where = "egress" if host else "loopback"
    with tempfile.TemporaryDirectory() as work, servers_on(host, Path(work)) as bs_uri, Emulator() as emu:
        before, tracked = descriptors(), conntrack_count()
        start = time.monotonic()
        fleet = emu.fleet(count, bs_uri)
        with contextlib.suppress(DeviceTimeout):  # reported below
            fleet.wait_for("registered", timeout=timeout)
        wall = time.monotonic() - start
        summary = emu.summary()
        registered = summary["states"].get("registered", 0)
        print(
            f"N={count:>6,} {where:<8} registered {registered:,} in {wall:6.2f} s  "
            f"{registered / wall:8,.0f} devices/s  "
            f"descriptors +{descriptors() - before}  send_failed {summary['radio']['send_failed']}  "
            f"conntrack {conntrack_count() - tracked:+,}",
            flush=True,
        )


def setup_cost() -> None:
    with Emulator() as emu:
        start = time.monotonic()
        emu.open_egress()
        opened = time.monotonic() - start
        start = time.monotonic()
    closed = time.monotonic() - start
    print(f"egress set-up {opened * 1000:.0f} ms, removal {closed * 1000:.0f} ms (nft and ip, once per process)")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--devices", default="1000,10000", help="fleet sizes, comma-separated")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds a fleet may take to register")
    args = p.parse_args()
    if os.geteuid() != 0:
        print("egress_bench: needs root (a network namespace, a veth pair, an nftables table)", file=sys.stderr)
        return 2
    setup_cost()
    for count in (int(n) for n in args.devices.split(",")):
        run_fleet(count, None, args.timeout)
        with other_host() as host:
            run_fleet(count, host, args.timeout)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
