"""Servers on other hosts (emulator/radio/README.md, "Egress").

Each test that needs one builds its own "other host" (other_host.py): a
network namespace with a veth pair to this one, addresses from 10.x (random,
so that tests in parallel do not meet), and the standalone registration and
bootstrap servers (``lwm2m-hil registration-server`` / ``bootstrap-server``)
running inside it on the veth's address. Without the egress every device's datagram
to it fails: the kernel does not let 127.1.x.y leave the host.

The namespace, the veth and the processes are removed also when a test
fails. Tests that build namespaces need root (CAP_NET_ADMIN) and skip
without it.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lwm2m_hil import EgressError, Emulator
from helpers import FAST, child_env
from other_host import LWM2M_HIL, ip, other_host, servers_on, stop


def _has_net_admin() -> bool:
    """CAP_NET_ADMIN (bit 12) in this process's effective set."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> 12 & 1)
    return False


needs_net_admin = pytest.mark.skipif(
    not _has_net_admin(),
    reason="needs root (CAP_NET_ADMIN): the test creates a network namespace, a veth pair and the "
    "egress's nftables table",
)


def _egress_tables() -> set[str]:
    out = subprocess.run(["nft", "list", "tables", "ip"], capture_output=True, text=True).stdout
    return {line.split()[-1] for line in out.splitlines() if "hil_egress_" in line}


def _egress_routes() -> str:
    """Our local routes (proto 183), if no other process's egress is open."""
    return subprocess.run(
        ["ip", "-4", "route", "show", "table", "local", "proto", "183"], capture_output=True, text=True
    ).stdout.strip()


def _assert_left_clean(pid: int) -> None:
    """The process's table is gone, and our route too unless another
    process (a parallel test) still has an egress open. Under the egress's
    lock, so that no other process is halfway through its set-up or
    tear-down."""
    with open("/run/lwm2m-hil-egress.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        tables = _egress_tables()
        assert f"hil_egress_{pid}" not in tables
        if not tables:
            assert _egress_routes() == ""


@needs_net_admin
def test_run_bootstraps_and_registers_every_device_via_a_server_on_another_host(tmp_path: Path) -> None:
    """``lwm2m-hil run --bootstrap-uri coap://<another host>:<port>``: every
    device bootstraps there and registers with the registration server the
    bootstrap configuration names on that host."""
    with other_host() as host, servers_on(host, tmp_path) as bs_uri:
        out = tmp_path / "summary.json"
        proc = subprocess.Popen(
            [*LWM2M_HIL, "run", "--devices", "20", "--bootstrap-uri", bs_uri, "--ack-timeout", "0.5",
             "--timeout", "60", "--json", str(out)],
            env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        try:
            _, stderr = proc.communicate(timeout=120)
        finally:
            stop(proc)
        assert proc.returncode == 0, stderr
        summary = json.loads(out.read_text())
        assert summary["states"]["registered"] == 20, summary["states"]
        assert summary["exits"]["finish"] == 20, summary["exits"]
    _assert_left_clean(proc.pid)


@needs_net_admin
def test_python_api_reaches_a_server_on_another_host_and_cleans_up(tmp_path: Path) -> None:
    """The Python API: a fleet given a bootstrap URI off loopback opens the
    egress by itself; every device registers; closing the emulator removes
    its nftables table (and the route, when no other process uses it)."""
    with other_host() as host, servers_on(host, tmp_path) as bs_uri:
        with Emulator() as emu:
            fleet = emu.fleet(20, bs_uri, timing=FAST)
            assert f"hil_egress_{os.getpid()}" in _egress_tables()
            fleet.wait_for("registered", timeout=60)
            assert {d.bootstrap_exit for d in fleet} == {"finish"}
            assert emu.summary()["states"]["registered"] == 20
        _assert_left_clean(os.getpid())


@needs_net_admin
def test_no_route_to_the_server_fails_fast_and_says_what_to_do() -> None:
    """On a host with no route to the server (a namespace with only lo),
    ``run`` stops before starting any device, naming the flag and the fix."""
    with other_host(linked=False) as lonely:
        done = subprocess.run(
            lonely.exec(*LWM2M_HIL, "run", "--devices", "2", "--bootstrap-uri", "coap://10.200.0.2:5683"),
            env=child_env(), capture_output=True, text=True, timeout=60,
        )
    assert done.returncode == 2, done.stderr
    assert "--bootstrap-uri: coap://10.200.0.2:5683: no route from this host to 10.200.0.2" in done.stderr
    assert "ip route get 10.200.0.2" in done.stderr
    with other_host(linked=False) as lonely:
        api = subprocess.run(lonely.exec(sys.executable, "-c", _API_NO_ROUTE), env=child_env(),
                             capture_output=True, text=True, timeout=60)
    assert "EgressError: bootstrap_uri: coap://10.200.0.2:5683: no route from this host" in api.stderr


# The Python API's equivalent, run inside the namespace.
_API_NO_ROUTE = """
import sys
from lwm2m_hil import EgressError, Emulator
try:
    with Emulator() as emu:
        emu.fleet(2, "coap://10.200.0.2:5683")
except EgressError as e:
    sys.exit(f"EgressError: {e}")
"""


def test_without_net_admin_fails_fast_and_says_what_to_do() -> None:
    """Without CAP_NET_ADMIN (dropped here if this is root) a server off
    loopback is refused before any device starts, saying what to do."""
    if os.geteuid() == 0:
        with other_host() as host:  # a route to the server, as root
            done = _run_without_net_admin(
                ["setpriv", "--inh-caps=-net_admin", "--bounding-set=-net_admin"], host.server_ip)
    else:
        done = _run_without_net_admin([], "192.0.2.10")  # routed if there is a default route
        if "no route" in done.stderr:
            pytest.skip("not root, and no route to 192.0.2.10: the route check answers first")
    assert done.returncode == 2, done.stderr
    assert "needs CAP_NET_ADMIN: run as root" in done.stderr


def _run_without_net_admin(prefix: list[str], server_ip: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, *LWM2M_HIL, "run", "--devices", "2", "--bootstrap-uri", f"coap://{server_ip}:5683"],
        env=child_env(), capture_output=True, text=True, timeout=60,
    )


@needs_net_admin
def test_sigterm_removes_the_egress(tmp_path: Path) -> None:
    """A run stopped by SIGTERM while its devices still try a server that
    does not answer removes its nftables table on the way out."""
    with other_host() as host:
        proc = subprocess.Popen(
            [*LWM2M_HIL, "run", "--devices", "3", "--bootstrap-uri", f"coap://{host.server_ip}:5683",
             "--timeout", "120"],
            env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while f"hil_egress_{proc.pid}" not in _egress_tables():
                assert proc.poll() is None and time.monotonic() < deadline, "the egress never opened"
                time.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
        finally:
            stop(proc)
        _assert_left_clean(proc.pid)


@needs_net_admin
def test_what_a_killed_process_left_behind_is_removed_by_the_next() -> None:
    """A process killed with SIGKILL cannot clean up: the next egress
    removes its table and its route (its pid is gone)."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    table = f"hil_egress_{dead.pid}"
    stale = "198.19.0.0/16"
    try:
        rules = (f"table ip {table} {{\n chain postrouting {{\n"
                 f"  type nat hook postrouting priority srcnat;\n  ip saddr {stale} masquerade\n }}\n}}\n")
        subprocess.run(["nft", "-f", "-"], check=True, text=True, input=rules)
        ip("route", "add", "local", stale, "dev", "lo", "table", "local", "proto", "183")
        with Emulator() as emu:
            assert emu.open_egress()
            assert table not in _egress_tables()
            assert stale not in _egress_routes()
    finally:
        subprocess.run(["nft", "delete", "table", "ip", table], capture_output=True)
        subprocess.run(["ip", "route", "del", "local", stale, "dev", "lo", "table", "local", "proto", "183"],
                       capture_output=True)


@needs_net_admin
def test_a_prefix_the_host_already_routes_is_refused_naming_the_option() -> None:
    """An egress prefix that overlaps one of the host's routes (here the
    veth's /30) would steal its traffic: refused, naming the option."""
    with other_host() as host:
        taken = ".".join(host.host_ip.split(".")[:2]) + ".0.0/16"
        with Emulator(egress_prefix=taken) as emu:
            refused = rf"egress_prefix: {taken} overlaps this host's route .*--egress-prefix"
            with pytest.raises(EgressError, match=refused):
                emu.open_egress()
        assert f"hil_egress_{os.getpid()}" not in _egress_tables()


def test_a_bad_egress_prefix_is_refused_before_anything_starts(package_env: dict[str, str]) -> None:
    done = subprocess.run([*LWM2M_HIL, "run", "--egress-prefix", "10.0.0.0/24"], env=package_env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "argument --egress-prefix: '10.0.0.0/24' must be /8 to /16" in done.stderr
    with pytest.raises(ValueError, match=r"egress_prefix: '127\.2\.0\.0/16' is not usable"):
        Emulator(egress_prefix="127.2.0.0/16")
