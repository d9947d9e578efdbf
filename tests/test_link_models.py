"""Each radio link model, end to end from Python: a fleet on the virtual
clock (default CoAP timing, seeded, so every run is the same) behind one
model, and what it does to bootstrap and registration. The models' exact
arithmetic is unit-tested in emulator/radio/link_test.cc; here the point is
that the setting reaches every datagram and the devices cope (or, for an MTU
below the Register, cannot)."""

from __future__ import annotations

from typing import Any

import pytest

from lwm2m_hil import Burst, Emulator, Fleet, bootstrap_config

DEVICES = 20


def run_fleet(**settings: Any) -> tuple[Emulator, Fleet, float]:
    """An open emulator, its fleet of DEVICES behind ``settings``, run until
    all registered or 600 virtual s; and how long that took."""
    emu = Emulator(seed=5, clock="virtual")
    rs = emu.registration_server()
    bs = emu.bootstrap_server(bootstrap_config(rs.uri))
    fleet = emu.fleet(DEVICES, bs.uri, start=False, finish_timeout=60)
    fleet.link(**settings)
    start = emu.now()
    fleet.start()
    emu.run_until(lambda: fleet.states().get("registered", 0) == DEVICES, timeout=600)
    return emu, fleet, emu.now() - start


def radio_events(fleet: Fleet) -> list[str]:
    return [e.detail for d in fleet for e in d.timeline() if e.kind == "radio"]


def test_burst_loss_drops_in_runs_and_every_device_still_registers() -> None:
    """Gilbert-Elliott loss (good -> bad 0.1, bad -> good 0.3, all lost while
    bad): every device registers after Finish; the drops are all burst drops
    (no independent loss was set), each on its device's timeline; and lost
    datagrams come in runs: some device lost two in a row."""
    emu, fleet, _ = run_fleet(burst=Burst(p_good_to_bad=0.1, p_bad_to_good=0.3))
    with emu:
        assert fleet.states() == {"registered": DEVICES}
        c = fleet.link_counters()
        assert c["dropped_by"]["burst"] > 0
        assert c["dropped"] == c["dropped_by"]["burst"]
        assert radio_events(fleet).count("up: dropped by burst loss") + radio_events(fleet).count(
            "down: dropped by burst loss") == c["dropped"]
        runs = [
            any("burst" in a and "burst" in b for a, b in zip(log, log[1:]))
            for log in (d.link_decisions() for d in fleet)
        ]
        assert any(runs)


def test_delay_with_jitter_spreads_arrivals_and_slows_bootstrap() -> None:
    """50 ms delay with 40 ms jitter each way: every datagram is delayed, by
    amounts that vary (more than 20 distinct delays over the fleet, all
    within 10..90 ms), and all devices register."""
    emu, fleet, took = run_fleet(delay=0.05, jitter=0.04)
    with emu:
        assert fleet.states() == {"registered": DEVICES}
        c = fleet.link_counters()
        assert c["delayed"] == c["sent"]
        delays = {
            int(part.split("+")[1].rstrip("ms"))
            for d in fleet for line in d.link_decisions() for part in line.split() if part.startswith("delivered+")
        }
        assert len(delays) > 20 and min(delays) >= 10 and max(delays) <= 90, sorted(delays)
        assert took > 0.5  # 12 datagrams in sequence per device, each 10..90 ms late


def test_duplicates_are_answered_once_and_bootstrap_ends_once() -> None:
    """30 % duplication each way: the link counts duplicates, every device
    leaves bootstrap by Finish exactly once (a duplicated Finish or Write is
    answered from the deduplication cache, not run twice) and registers."""
    emu, fleet, _ = run_fleet(duplicate=0.3)
    with emu:
        assert fleet.states() == {"registered": DEVICES}
        assert fleet.link_counters()["duplicated"] > 0
        assert all(d.exit_counts() == {"finish": 1} for d in fleet)


def test_reordering_holds_datagrams_back_and_devices_cope() -> None:
    """30 % of datagrams held back 300 ms: the link counts them as reordered
    (and delayed); devices still bootstrap by Finish once and register."""
    emu, fleet, _ = run_fleet(reorder=0.3, reorder_delay=0.3)
    with emu:
        assert fleet.states() == {"registered": DEVICES}
        c = fleet.link_counters()
        assert c["reordered"] > 0 and c["delayed"] >= c["reordered"]
        assert all(d.exit_counts() == {"finish": 1} for d in fleet)


def test_corruption_flips_bits_on_the_way_and_devices_recover() -> None:
    """5 % corruption: corrupted datagrams are delivered with 1..3 flipped
    bits, counted, and each is a timeline event naming the bits. Endpoints
    drop what no longer parses or matches and retransmit; a flipped header
    bit can turn a CON into a NON with a garbled token, whose NON answer must
    not end (or wedge) the server's CON (libcoap patch 0011). Every device
    registers in the end."""
    emu, fleet, _ = run_fleet(corrupt=0.05)
    with emu:
        c = fleet.link_counters()
        events = [e for e in radio_events(fleet) if "corrupted: bits" in e]
        assert c["corrupted"] > 0 and len(events) == c["corrupted"]
        assert all(1 <= len(e.split("bits ")[1].split(",")) <= 3 for e in events)
        assert fleet.states() == {"registered": DEVICES}


def test_bandwidth_serializes_datagrams_and_costs_time() -> None:
    """2,400 bit/s each way: every datagram waits for its serialization
    time (delayed), and bootstrap plus registration take longer than the
    same fleet without a bandwidth limit, which takes no virtual time."""
    emu, fleet, took = run_fleet(bandwidth_bps=2400)
    with emu:
        assert fleet.states() == {"registered": DEVICES}
        c = fleet.link_counters()
        assert c["delayed"] == c["sent"]
    free, free_fleet, free_took = run_fleet()
    with free:
        assert free_fleet.states() == {"registered": DEVICES}
        assert free_took < 0.01 < 0.5 < took


def test_mtu_below_the_register_drops_it_and_the_device_falls_back_to_bootstrap() -> None:
    """An MTU of 60 bytes: bootstrap's small messages pass, but the Register
    (query and link-format payload) is longer, dropped and counted every
    time; after three failed registrations each device falls back to
    bootstrap (ETS 1.1-int-7) and never registers."""
    emu, fleet, _ = run_fleet(mtu=60)
    with emu:
        assert "registered" not in fleet.states()
        c = fleet.link_counters()
        assert c["dropped_by"]["mtu"] > 0 and c["dropped"] == c["dropped_by"]["mtu"]
        for d in fleet:
            kinds = [e.kind for e in d.timeline()]
            assert d.exit_counts()["finish"] >= 2, d.exit_counts()
            assert kinds.count("registration_failed") >= 3
            assert "fallback" in kinds


def test_a_sleeping_device_misses_downlink_until_it_wakes() -> None:
    """Asleep for the first 20 s: the device's Request Bootstrap leaves, but
    every answer is dropped while it sleeps ("asleep"); it registers only
    after it woke, and nothing else was dropped, no uplink at all."""
    emu, fleet, took = run_fleet(sleeps=[(0, 20)])
    with emu:
        assert fleet.states() == {"registered": DEVICES}
        c = fleet.link_counters()
        assert c["dropped_by"]["asleep"] > 0 and c["dropped"] == c["dropped_by"]["asleep"]
        assert took > 20
        assert sum(d.link_counters()["uplink"]["dropped"] for d in fleet) == 0


@pytest.mark.parametrize("idle", [1.0])
def test_nat_idle_timeout_rebinds_and_the_update_still_arrives(idle: float) -> None:
    """A NAT binding that expires after 1 s of silence, lifetime 4 s: the
    registration Update (at half the lifetime) finds the binding gone, leaves
    from a new public port (the link counts a rebinding) and the registration
    server counts an update of the same registration."""
    with Emulator(seed=5, clock="virtual") as emu:
        rs = emu.registration_server()
        bs = emu.bootstrap_server(bootstrap_config(rs.uri, lifetime=4))
        dev = emu.device("dev-1", bs.uri, start=False)
        dev.link(nat_idle=idle)
        dev.start()
        dev.run_until("registered", exit="finish", timeout=60)
        first = rs.registrations()["dev-1"]
        assert emu.run_until(lambda: rs.registrations()["dev-1"]["updates"] >= 1, timeout=10)
        assert rs.registrations()["dev-1"]["id"] == first["id"]
        assert dev.link_counters()["total"]["nat_rebinds"] >= 1


def test_fleet_link_set_while_running_reaches_every_device_and_can_be_lifted() -> None:
    """A registered fleet (lifetime 20 s: an Update every 10 s) gets a
    30 s partition of both directions while running (Fleet.link): every
    device's Update is lost to it (each link counts partition drops, and
    nothing else), so the server lets every registration expire. Once the
    fleet's link is set back to a clean one, every device registers again."""
    with Emulator(seed=6, clock="virtual") as emu:
        rs = emu.registration_server()
        bs = emu.bootstrap_server(bootstrap_config(rs.uri, lifetime=20))
        fleet = emu.fleet(10, bs.uri)
        fleet.run_until("registered", exit="finish", timeout=60)
        assert len(rs.registrations()) == 10
        fleet.link(partitions=[(0, 30, "both")])
        emu.run_for(30)
        for d in fleet:
            by = d.link_counters()["total"]["dropped_by"]
            assert by["partition"] > 0, d.endpoint
            assert sum(by.values()) == by["partition"], d.endpoint
        assert rs.registrations() == {}
        fleet.link()
        assert emu.run_until(
            lambda: fleet.states() == {"registered": 10} and len(rs.registrations()) == 10, timeout=120
        )
