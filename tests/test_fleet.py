"""Fleets: many devices against one bootstrap and one registration server."""

from __future__ import annotations

import os
import socket

from helpers import FAST, wait_until
from lwm2m_hil import Device, Emulator, bootstrap_config


def test_500_devices_all_finish_and_register(emulator: Emulator) -> None:
    """500 devices bootstrap at once: every one leaves bootstrap by Finish and
    registers; the bootstrap server records 500 SUCCESS outcomes and the
    registration server lists all 500 endpoints; the summary agrees."""
    rs = emulator.registration_server(timing=FAST)
    bs = emulator.bootstrap_server(bootstrap_config(rs.uri), timing=FAST)
    fleet = emulator.fleet(500, bs.uri, prefix="node-", timing=FAST)
    fleet.wait_for("registered", exit="finish", timeout=60)

    assert len(fleet) == 500
    assert fleet.exits() == {"finish": 500}
    assert fleet.states() == {"registered": 500}
    assert all(d.exit_counts() == {"finish": 1} for d in fleet)
    names = {d.endpoint for d in fleet}
    assert names == {f"node-{i}" for i in range(500)}
    assert set(rs.registrations()) == names
    outcomes = wait_until(
        lambda: (o := bs.outcomes()) and list(o.values()).count("SUCCESS") == 500 and o, 30, "500 outcomes"
    )
    assert set(outcomes) == names

    summary = emulator.summary()
    assert summary["devices"] == 500
    assert summary["exits"] == {"finish": 500}
    assert len(summary["bootstrap_ms"]) == 500
    # Each device its own source address, as a server sees it.
    assert len({d.address.rsplit(":", 1)[0] for d in fleet}) == 500


def test_fleet_of_legacy_and_finish_devices_side_by_side(emulator: Emulator) -> None:
    """Two fleets on one cr server: the ones asking for Finish exit "finish",
    the legacy ones exit "idle_timeout"; Fleet.exits() counts each. (The
    server is cr by choice: by default it would send the legacy ones Finish.)"""
    rs = emulator.registration_server(timing=FAST)
    bs = emulator.bootstrap_server(bootstrap_config(rs.uri), profile="cr", timing=FAST)
    modern = emulator.fleet(20, bs.uri, prefix="new-", timing=FAST)
    legacy = emulator.fleet(20, bs.uri, prefix="old-", timing=FAST, request_finish=False, idle_timeout=0.3)
    modern.wait_for("registered")
    legacy.wait_for("registered")
    assert modern.exits() == {"finish": 20}
    assert legacy.exits() == {"idle_timeout": 20}
    assert emulator.summary()["exits"] == {"finish": 20, "idle_timeout": 20}
    assert len(rs.registrations()) == 40


def test_same_seed_gives_same_device_behaviour() -> None:
    """Two emulators with one seed and one scenario end the same way, device
    by device (state, exit, commands seen)."""

    def commands_of(device: Device) -> list[str]:
        return [e.detail for e in device.timeline() if e.kind == "bootstrap_command"]

    def run(seed: int) -> list[tuple[str, str, str, list[str]]]:
        with Emulator(seed=seed) as emu:
            rs = emu.registration_server(timing=FAST)
            bs = emu.bootstrap_server(bootstrap_config(rs.uri), timing=FAST)
            fleet = emu.fleet(10, bs.uri, timing=FAST)
            fleet.wait_for("registered")
            return [(d.endpoint, d.state, d.bootstrap_exit, commands_of(d)) for d in fleet]

    assert run(7) == run(7)


def _udp_sockets_on_port(port: int) -> int:
    """Sockets of this process bound to UDP `port` on 127.0.0.1, each asked
    for its address. (/proc/net/udp, read while another process's sockets
    come and go, listed some of ours twice.)"""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if not os.readlink(f"/proc/self/fd/{fd}").startswith("socket:["):
                continue
            with socket.socket(fileno=os.dup(int(fd))) as s:
                inet_udp = s.type == socket.SOCK_DGRAM and s.family == socket.AF_INET
                if inet_udp and s.getsockname() == ("127.0.0.1", port):
                    count += 1
        except OSError:  # closed meanwhile
            continue
    return count


def test_server_contexts_put_that_many_contexts_behind_each_server_port() -> None:
    """Emulator(server_contexts=3): each embedded server listens with 3
    sockets on its one port (a libcoap context each, plus the socket that
    holds the group's steering program), and a fleet spread over them by
    source address bootstraps and registers. By default 64 on the real
    clock, 128 on the virtual one; 0 is refused, naming the option."""
    for clock, contexts in (("real", 64), ("virtual", 128)):
        with Emulator(clock=clock) as emu:
            uri = emu.registration_server(timing=FAST).uri
            assert _udp_sockets_on_port(int(uri.rsplit(":", 1)[1])) == contexts + 1, clock
    with Emulator(server_contexts=3) as emu:
        rs = emu.registration_server(timing=FAST)
        bs = emu.bootstrap_server(bootstrap_config(rs.uri), timing=FAST)
        for uri in (rs.uri, bs.uri):
            assert _udp_sockets_on_port(int(uri.rsplit(":", 1)[1])) == 3 + 1
        fleet = emu.fleet(30, bs.uri, timing=FAST)
        fleet.wait_for("registered", exit="finish", timeout=60)
        assert set(rs.registrations()) == {d.endpoint for d in fleet}
    try:
        Emulator(server_contexts=0)
    except ValueError as e:
        assert "server_contexts" in str(e)
    else:
        raise AssertionError("server_contexts=0 was accepted")
