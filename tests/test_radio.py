"""The emulated radio (emulator/radio/README.md): loss, rules, partitions, NAT,
determinism, capture and validation, seen through what devices and servers do.

The tests run real sockets in real time with short CoAP timers (ACK timeout
50 ms) and shortened protocol timers, so that each one takes a few seconds;
one whose partition must fall between two Writes runs on the virtual clock.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from coap_peer import ACK, CON, POST, Message
from helpers import details, kinds, outcome_of, read_pcapng, wait_until
from lwm2m_hil import Burst, CoapTiming, Device, Emulator, bootstrap_config

# Loopback answers in well under a millisecond: 50 ms ACK timeout, and the
# default 4 retransmissions (MAX_TRANSMIT_WAIT 0.05 * 31 * 1.5 = 2.3 s).
QUICK = CoapTiming(ack_timeout=0.05)


def command_seen(dev: Device, text: str) -> bool:
    """True once the device's core handled a bootstrap command containing ``text``."""
    return any(e.kind == "bootstrap_command" and text in e.detail for e in dev.timeline())


def coap(datagram: Any) -> Message:
    return Message.decode(datagram.payload)


def server_events(bs: Any, endpoint: str) -> list[Any]:
    """The bootstrap server's events for ``endpoint`` so far (its latest session)."""
    r = bs.results().get(endpoint)
    return r["events"] if r else []


# --- loss on a fleet ---------------------------------------------------------


def test_30_percent_loss_both_ways_200_devices_all_finish_and_register(emulator: Emulator) -> None:
    """200 devices behind links that lose 30 % of datagrams in each direction,
    independently: every device still leaves bootstrap by Finish and registers
    (CoAP retransmissions carry most exchanges; a device whose server session
    failed gets no Finish, hits the 2 s finish timeout and bootstraps again).
    The counters show the losses: the fleet dropped datagrams, all of them by
    the loss model, at a rate close to 30 %."""
    rs = emulator.registration_server(timing=QUICK)
    bs = emulator.bootstrap_server(bootstrap_config(rs.uri), timing=QUICK)
    fleet = emulator.fleet(
        200, bs.uri, timing=QUICK, start=False, finish_timeout=2, retry_initial=0.3, retry_max=2
    )
    fleet.link(loss=0.3)
    fleet.start()
    fleet.wait_for("registered", exit="finish", timeout=45)

    assert fleet.states() == {"registered": 200}
    assert fleet.exits() == {"finish": 200}
    assert set(rs.registrations()) == {d.endpoint for d in fleet}
    assert all(d.exit_counts()["finish"] == 1 for d in fleet)  # plus any finish_timeout before it

    totals = fleet.link_counters()
    assert totals["dropped"] > 0
    by_cause = totals["dropped_by"]
    assert by_cause["loss"] > 0
    assert by_cause["loss"] == totals["dropped"]  # nothing else drops on this link
    assert totals["sent"] == totals["delivered"] + totals["dropped"]
    assert 0.25 < totals["dropped"] / totals["sent"] < 0.35, totals


# --- rules on the Finish exchange --------------------------------------------


def test_dropped_first_finish_is_retransmitted_and_ends_bootstrap_once(emulator: Emulator) -> None:
    """A rule drops the first Bootstrap-Finish (down, POST /bs, nth 1, count 1):
    the server retransmits it one ACK timeout later, the device answers 2.04 and
    leaves bootstrap exactly once (one Finish command, one commit, exit count 1);
    the drop is on the device's timeline as a "radio" event, before the Finish
    arrived, and the server records SUCCESS."""
    rs = emulator.registration_server(timing=QUICK)
    bs = emulator.bootstrap_server(bootstrap_config(rs.uri), timing=QUICK)
    dev = emulator.device("dev-1", bs.uri, timing=QUICK, start=False)
    dev.add_rule("drop", direction="down", code="POST", path="/bs", nth=1, count=1, name="drop-finish")
    dev.start()
    dev.wait_for("registered", exit="finish")

    assert dev.exit_counts() == {"finish": 1}
    assert len(kinds(dev, "commit")) == 1
    assert details(dev, "bootstrap_command").count("POST /bs (Finish) -> 2.04") == 1
    (drop,) = [e for e in kinds(dev, "radio") if "drop-finish" in e.detail]
    assert drop.detail == "down: dropped by rule 'drop-finish'"
    (finish,) = [e for e in kinds(dev, "bootstrap_command") if "Finish" in e.detail]
    # The retransmission, one ACK timeout later (the timeline has whole ms,
    # and libcoap starts its timer from the loop's time: allow a few ms).
    assert finish.time - drop.time >= 0.8 * QUICK.ack_timeout

    counters = dev.link_counters()
    assert counters["downlink"]["dropped_by"]["rule"] == 1
    assert counters["total"]["dropped"] == 1
    result = outcome_of(bs, "dev-1")
    assert result["outcome"] == "SUCCESS"
    assert result["finish_sent"] == 1  # one Finish request, sent twice by CoAP


def test_dropped_ack_of_finish_is_answered_again_from_deduplication(emulator: Emulator, tmp_path: Path) -> None:
    """A rule drops the device's ACK of the Finish (up, ACK, 2.04, path /bs: the
    radio gives the ACK the path of the request it answers). The server
    retransmits Finish with the same message id; the device answers it again
    from its deduplication state: the capture holds two byte-identical 2.04
    ACKs for the Finish's message id, the first "dropped by rule 'drop-ack'",
    the second "passed". The retransmission never reaches the client core (the
    timeline records core events only, so it shows one Finish command), the
    device leaves bootstrap once, and the server records SUCCESS."""
    rs = emulator.registration_server(timing=QUICK)
    bs = emulator.bootstrap_server(bootstrap_config(rs.uri), timing=QUICK)
    dev = emulator.device("dev-1", bs.uri, timing=QUICK, start=False)
    pcap = tmp_path / "dev-1.pcapng"
    dev.capture(pcap)
    dev.add_rule("drop", direction="up", type="ACK", code="2.04", path="/bs", name="drop-ack")
    dev.start()
    dev.wait_for("registered", exit="finish")
    result = outcome_of(bs, "dev-1")
    assert result["outcome"] == "SUCCESS"
    assert dev.link_counters()["uplink"]["dropped_by"]["rule"] == 1
    dev.capture(None)

    bs_port = int(bs.uri.rsplit(":", 1)[1])
    packets = [(p, coap(p)) for p in read_pcapng(pcap)]
    finishes = [
        (p, m) for p, m in packets
        if p.src[1] == bs_port and m.type == CON and m.code == POST and m.uri_path == "/bs"
    ]
    assert len(finishes) == 2, [(p.comment, str(m)) for p, m in finishes]
    assert finishes[0][1].encode() == finishes[1][1].encode()  # a retransmission: same mid, token
    assert [p.comment for p, _ in finishes] == ["passed", "passed"]
    mid = finishes[0][1].mid
    acks = [(p, m) for p, m in packets if p.dst[1] == bs_port and m.type == ACK and m.mid == mid]
    assert [(m.code_text, p.comment) for p, m in acks] == [
        ("2.04", "dropped by rule 'drop-ack'"),
        ("2.04", "passed"),
    ]
    assert acks[0][0].payload == acks[1][0].payload

    assert details(dev, "bootstrap_command").count("POST /bs (Finish) -> 2.04") == 1
    assert dev.exit_counts() == {"finish": 1}
    assert len(kinds(dev, "commit")) == 1
    assert kinds(dev, "ignored") == []
    server_rx = [e for e in result["events"] if e.kind == "rx" and e.detail == "2.04 for POST /bs"]
    assert len(server_rx) == 1


# --- partitions and NAT ------------------------------------------------------


def test_partition_longer_than_finish_timeout_mid_bootstrap_restarts_bootstrap() -> None:
    """A rule delays the second Write (PUT /1/0) by 0.4 s; once the first Write
    (PUT /0/1) reached the device, a 1.5 s partition cuts both directions. The
    delayed Write still arrives (the radio decided its fate before the
    partition), but the device's ACK and every retransmission are lost, so no
    Finish can come: 0.8 s after that last command the device reports
    "finish_timeout" and discards the staged configuration (right after it,
    neither the live nor the staged objects hold the server account /0/1,
    /1/0). It backs off, asks again, its requests are lost until the
    partition ends, then it bootstraps and ends in "finish". On the virtual
    clock: on the real one a stalled machine moved the partition against
    the Writes, and the run failed now and then."""
    with Emulator(seed=7, clock="virtual") as emu:
        rs = emu.registration_server(timing=QUICK)
        bs = emu.bootstrap_server(bootstrap_config(rs.uri), timing=QUICK)
        dev = emu.device(
            "dev-1", bs.uri, timing=QUICK, start=False,
            finish_timeout=0.8, retry_initial=0.2, retry_max=1, retry_jitter=0.0,
        )
        dev.add_rule("delay", direction="down", code="PUT", nth=2, delay=0.4, name="slow-write")
        dev.start()
        assert emu.run_until(lambda: command_seen(dev, "PUT /0/1"), 5)
        dev.link(partitions=[(0, 1.5, "both")])
        assert not command_seen(dev, "PUT /1/0")  # held by the rule for 0.4 s

        dev.run_until(exit="finish_timeout", timeout=5)
        live, staged = dev.objects(), dev.objects(staged=True)
        # Still inside the partition: the retry cannot have reached the server.
        assert sorted(live[0]) == [0] and 1 not in live  # only the bootstrap-server account
        assert sorted(staged[0]) == [0] and 1 not in staged
        assert kinds(dev, "commit") == []

        dev.run_until("registered", exit="finish", timeout=10)
        assert dev.exit_counts() == {"finish_timeout": 1, "finish": 1}
        timeline = dev.timeline()
        first_partition = next(e.time for e in timeline if e.kind == "radio" and "partition" in e.detail)
        (failed,) = kinds(dev, "bootstrap_failed")
        put_1_0 = next(e.time for e in timeline if e.kind == "bootstrap_command" and "PUT /1/0" in e.detail)
        assert first_partition < put_1_0 < failed.time  # the partition began in the middle of bootstrap
        assert failed.time - put_1_0 >= 0.8 - 0.002
        assert [e.detail for e in kinds(dev, "bootstrap_request")] == ["attempt 1", "attempt 2"]
        assert dev.link_counters()["total"]["dropped_by"]["partition"] > 0
        assert dev.read("/1/0/1") == 300
        assert "dev-1" in rs.registrations()


def test_nat_rebinding_before_finish_loses_the_finish_then_bootstrap_restarts(emulator: Emulator) -> None:
    """The NAT binding expires (rebind_nat) while the server waits for the ACK
    of the last Write (delayed 0.5 s by a rule): the server's Finish, sent to
    the device's old public port, finds no binding and is dropped by the NAT,
    and so are its retransmissions: the device sends nothing on that session
    to open a new binding. Observed outcome: the device reports
    "finish_timeout" 0.8 s after the last Write, requests bootstrap again from
    a new source port (a "NAT rebound" radio event), and ends in "finish";
    the server ran two sessions and the last one succeeded."""
    rs = emulator.registration_server(timing=QUICK)
    bs = emulator.bootstrap_server(bootstrap_config(rs.uri), timing=QUICK)
    dev = emulator.device(
        "dev-1", bs.uri, timing=QUICK, start=False,
        finish_timeout=0.8, retry_initial=0.2, retry_max=1, retry_jitter=0.0,
    )
    dev.add_rule("delay", direction="up", type="ACK", code="2.04", path="/1/0", delay=0.5, name="slow-ack")
    dev.start()
    wait_until(lambda: command_seen(dev, "PUT /1/0"), 5, "the last Write")
    dev.rebind_nat()
    if any(e.kind == "tx" and e.detail == "POST /bs" for e in server_events(bs, "dev-1")):
        pytest.skip("the machine stalled 0.5 s: Finish left before the rebinding")

    dev.wait_for("registered", exit="finish", timeout=10)
    assert dev.exit_counts() == {"finish_timeout": 1, "finish": 1}
    radio = details(dev, "radio")
    assert "down: dropped: NAT binding expired" in radio
    assert "up: NAT rebound to a new source port" in radio
    counters = dev.link_counters()["total"]
    assert counters["dropped_by"]["nat"] > 0
    assert counters["nat_rebinds"] == 1
    # Finish never reached the first attempt: one Finish command, in attempt 2.
    assert details(dev, "bootstrap_command").count("POST /bs (Finish) -> 2.04") == 1
    result = outcome_of(bs, "dev-1")
    assert (result["outcome"], result["sessions"]) == ("SUCCESS", 2)


def test_nat_rebinding_after_registration_update_still_reaches_the_server(emulator: Emulator, tmp_path: Path) -> None:
    """After registration (lifetime 2 s) the NAT binding expires. The device's
    Update, sent at half the lifetime (~1 s), leaves from a new public source
    port (the capture shows Register and Update from different ports; the
    radio counts a rebinding), and the registration server accepts it: it keys
    registrations by location (/rd/<id>), not by address, so it counts an
    update of the same registration instead of rejecting an unknown peer. No
    datagram is lost: after a rebinding the first datagram is the device's."""
    rs = emulator.registration_server(timing=QUICK)
    bs = emulator.bootstrap_server(bootstrap_config(rs.uri, lifetime=2), timing=QUICK)
    pcap = tmp_path / "run.pcapng"
    emulator.capture(pcap)
    dev = emulator.device("dev-1", bs.uri, timing=QUICK)
    dev.wait_for("registered", exit="finish")
    registration = wait_until(lambda: rs.registrations().get("dev-1"), 5, "the registration")
    assert registration["updates"] == 0
    dev.rebind_nat()
    updated = wait_until(
        lambda: (r := rs.registrations().get("dev-1")) and r["updates"] >= 1 and r, 6, "an Update after rebinding"
    )
    emulator.capture(None)

    assert updated["id"] == registration["id"]
    assert [e.kind for e in rs.events()][:2] == ["registered", "updated"]
    counters = dev.link_counters()["total"]
    assert counters["nat_rebinds"] == 1
    assert counters["dropped"] == 0
    assert "up: NAT rebound to a new source port" in details(dev, "radio")

    rs_port = int(rs.uri.rsplit(":", 1)[1])
    to_rs = [(p, coap(p)) for p in read_pcapng(pcap) if p.dst[1] == rs_port]
    (register,) = [p for p, m in to_rs if m.code == POST and m.uri_path == "/rd"]
    update = next(p for p, m in to_rs if m.code == POST and m.uri_path == f"/rd/{registration['id']}")
    assert register.src[0] == update.src[0] == dev.address
    assert register.src[1] != update.src[1]


# --- the change request's motivation -----------------------------------------

MOTIVATION_DELAYS = (0.1, 0.2, 0.4, 0.6)
MOTIVATION_DEVICES = 10
IDLE_TIMEOUT = 0.3


def left_before_second_write(dev: Device) -> bool:
    """The device's first bootstrap exit came before the second Write (PUT /1/0)
    reached its core: it committed a configuration without the Server object."""
    timeline = dev.timeline()
    exit_at = next(e.time for e in timeline if e.kind == "bootstrap_exit")
    put = [e.time for e in timeline if e.kind == "bootstrap_command" and e.detail.startswith("PUT /1/0")]
    return not put or put[0] > exit_at


def test_the_change_requests_motivation_idle_timer_exits_early_finish_never(emulator: Emulator) -> None:
    """Profile cr. The default bootstrap configuration is Delete /, Write /0/1
    (Security), Write /1/0 (Server), Finish; a rule delays the second Write by
    0.1 .. 0.6 s. Legacy devices (request_finish=False, idle timer 0.3 s)
    whose Write comes later than the idle timer leave bootstrap early by
    "idle_timeout": they commit a configuration without /1/0, cannot register
    ("no complete server account") and the late Write is refused 4.05 outside
    bootstrap. Devices that asked for Finish wait for it and never leave early.
    The bootstrap server's ACK timeout (1 s) is longer than every delay, as
    RFC 7252's 2 s is on a real network, so the delayed Write is not overtaken
    by its own retransmission; an early device retries bootstrap 1 s after
    its failed registration, after the late Write. Printed: {delay: (early
    without Finish, early with Finish)} over 10 devices each."""
    rs = emulator.registration_server(timing=QUICK)
    bs = emulator.bootstrap_server(bootstrap_config(rs.uri), profile="cr", timing=CoapTiming(ack_timeout=1.0))
    fleets = {}
    for delay in MOTIVATION_DELAYS:
        for finish in (False, True):
            fleet = emulator.fleet(
                MOTIVATION_DEVICES, bs.uri, prefix=f"d{int(delay * 1000)}-{'fin' if finish else 'legacy'}-",
                timing=QUICK, start=False, profile="cr", request_finish=finish,
                idle_timeout=IDLE_TIMEOUT, retry_initial=1.0, retry_jitter=0.0,
            )
            fleet.add_rule("delay", direction="down", code="PUT", nth=2, delay=delay, name="slow-2nd-write")
            fleets[delay, finish] = fleet
    for fleet in fleets.values():
        fleet.start()
    for (_delay, finish), fleet in fleets.items():
        # Early legacy devices bootstrap again (the rule fired once) and register.
        fleet.wait_for("registered", exit="finish" if finish else "idle_timeout", timeout=20)

    table = {
        delay: tuple(sum(left_before_second_write(d) for d in fleets[delay, finish]) for finish in (False, True))
        for delay in MOTIVATION_DELAYS
    }
    print(f"\n{MOTIVATION_DEVICES} devices per cell, idle timer {IDLE_TIMEOUT} s: delay of the 2nd Write -> "
          "(early exits without Finish, early exits with Finish)")
    for delay, (legacy, finish) in table.items():
        print(f"  {delay:.1f} s: ({legacy}, {finish})")

    assert all(finish == 0 for _legacy, finish in table.values()), table
    assert all(table[d][0] > 0 for d in MOTIVATION_DELAYS if d > IDLE_TIMEOUT), table
    assert all(table[d][0] == 0 for d in MOTIVATION_DELAYS if d < IDLE_TIMEOUT - 0.05), table
    for delay in MOTIVATION_DELAYS:
        for dev in fleets[delay, True]:
            assert dev.exit_counts() == {"finish": 1}
            assert dev.read("/1/0/1") == 300
        for dev in fleets[delay, False]:
            if left_before_second_write(dev):
                assert "no complete server account to register with" in details(dev, "error")
                assert "PUT /1/0 from the bootstrap server outside bootstrap" in details(dev, "ignored")
                assert dev.exit_counts() == {"idle_timeout": 2}


# --- determinism -------------------------------------------------------------


def fates(seed: int, extra_device: bool = False) -> dict[str, list[str]]:
    """Per device, the fate of each datagram its link carried so far ("loss"
    or "delivered+0ms"), once each device's link carried at least 12, for a
    20-device fleet with 30 % loss both ways."""
    with Emulator(seed=seed) as emu:
        rs = emu.registration_server(timing=QUICK)
        bs = emu.bootstrap_server(bootstrap_config(rs.uri), timing=QUICK)
        options = dict(timing=QUICK, start=False, finish_timeout=1, retry_initial=0.2, retry_max=1)
        fleets = [emu.fleet(20, bs.uri, **options)]
        if extra_device:
            fleets.append(emu.fleet(1, bs.uri, prefix="extra-", **options))
        for fleet in fleets:
            fleet.link(loss=0.3)
        for fleet in fleets:
            fleet.start()
        # Runs are compared on a prefix: the first 12 datagrams of each device
        # are enough (a loss-free bootstrap and registration take 12).
        devices = [d for fleet in fleets for d in fleet]
        wait_until(lambda: all(len(d.link_decisions()) >= 12 for d in devices), 20, "12 datagrams per device")
        # "1234 up 45B delivered+0ms": time, direction, size, fate.
        return {d.endpoint: [line.split()[3] for line in d.link_decisions()] for d in fleets[0]}


def test_same_seed_gives_each_device_the_same_fault_decisions() -> None:
    """Emulator(seed=5) twice, 20 devices, 30 % loss each way: every device's
    links draw the same loss verdicts. What is compared is the fate of the
    n-th datagram (timestamps stripped; n up to the shorter run), not the
    datagram itself: in real time, a retransmission and a concurrent message
    of another exchange (e.g. the server's repeated Finish and the device's
    Register) can leave in either order, and each run is read at a different
    moment (12 datagrams or more per device). With only the loss model on, the link draws one
    number per datagram whatever it carries, so its verdict sequence is
    exactly reproducible. The second run adds a device: the others' faults do
    not change (each link's seed comes from the run's seed and the device's
    name). Seed 6 gives different decisions, and so do two devices of one run."""
    first = fates(5)
    second = fates(5, extra_device=True)
    other = fates(6)
    assert set(first) == set(second) == set(other)
    for ep in first:
        n = min(len(first[ep]), len(second[ep]))
        assert n >= 12, (ep, first[ep], second[ep])
        assert first[ep][:n] == second[ep][:n], ep
    assert sum(f.count("loss") for f in first.values()) > 0

    def differ(a: list[str], b: list[str]) -> bool:
        n = min(len(a), len(b))
        return a[:n] != b[:n]

    assert sum(differ(first[ep], other[ep]) for ep in first) >= 18
    prefixes = {tuple(f[:12]) for f in first.values()}
    assert len(prefixes) >= 15  # devices do not share one sequence


# --- capture -----------------------------------------------------------------


def coap_code(number: str) -> str:
    value = int(number)
    return f"{value >> 5}.{value & 31:02d}"


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_capture_of_a_bootstrap_reads_in_tshark_with_radio_comments(emulator: Emulator, tmp_path: Path) -> None:
    """Emulator.capture() around one device's bootstrap, with a rule dropping
    the first Finish, read back with tshark (decode-as CoAP on the servers'
    ports): Request Bootstrap (POST bs), Delete (2.02), the Writes (PUT 0/1,
    PUT 1/0, each 2.04), Finish dropped ("dropped by rule 'drop-finish'") then
    retransmitted ("passed") and answered 2.04, then Register (POST rd, 2.01);
    every other packet is commented "passed". The Writes' TLV payloads are
    decoded as LwM2M-TLV, named after the Security and Server objects."""
    rs = emulator.registration_server(timing=QUICK)
    bs = emulator.bootstrap_server(bootstrap_config(rs.uri), timing=QUICK)
    pcap = tmp_path / "bootstrap.pcapng"
    emulator.capture(pcap)
    dev = emulator.device("dev-1", bs.uri, timing=QUICK, start=False)
    dev.add_rule("drop", direction="down", code="POST", path="/bs", name="drop-finish")
    dev.start()
    dev.wait_for("registered", exit="finish")
    outcome_of(bs, "dev-1")
    emulator.capture(None)

    bs_port, rs_port = (uri.rsplit(":", 1)[1] for uri in (bs.uri, rs.uri))
    fields = ["udp.srcport", "coap.type", "coap.code", "coap.opt.uri_path", "frame.comment", "lwm2mtlv.object_name"]
    cmd = ["tshark", "-r", str(pcap), "-d", f"udp.port=={bs_port},coap", "-d", f"udp.port=={rs_port},coap",
           "-T", "fields", "-E", "separator=|"]
    for f in fields:
        cmd += ["-e", f]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True)
    rows = [line.split("|") for line in run.stdout.splitlines() if line]
    # (from, code, uri path, comment, TLV object name)
    seen = [
        ("bs" if src == bs_port else "rs" if src == rs_port else "dev", coap_code(code), path, comment, obj)
        for src, _type, code, path, comment, obj in rows
    ]
    assert seen == [
        ("dev", "0.02", "bs", "passed", ""),
        ("bs", "2.04", "", "passed", ""),
        ("bs", "0.04", "", "passed", ""),
        ("dev", "2.02", "", "passed", ""),
        ("bs", "0.03", "0,1", "passed", "LwM2M Security"),
        ("dev", "2.04", "", "passed", ""),
        ("bs", "0.03", "1,0", "passed", "LwM2M Server"),
        ("dev", "2.04", "", "passed", ""),
        ("bs", "0.02", "bs", "dropped by rule 'drop-finish'", ""),
        ("bs", "0.02", "bs", "passed", ""),
        ("dev", "2.04", "", "passed", ""),
        ("dev", "0.02", "rd", "passed", ""),
        ("rs", "2.01", "", "passed", ""),
    ], run.stdout
    # The Server object's Write carries the lifetime, decoded as a typed TLV field.
    lifetimes = subprocess.run(
        ["tshark", "-r", str(pcap), "-d", f"udp.port=={bs_port},coap", "-T", "fields",
         "-e", "lwm2mtlv.resource.lifetime", "-Y", "lwm2mtlv"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.split()
    assert lifetimes == ["300"]


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_device_capture_switches_on_and_off_on_an_open_session(emulator: Emulator, tmp_path: Path) -> None:
    """Device.capture() applies to the sessions a device already has open: a
    registered device's capture, started after registration, holds the
    server's Read and its answer on the open session; after capture(None) a
    second Read adds nothing, and a new file started then holds the third."""
    rs = emulator.registration_server(timing=QUICK)
    bs = emulator.bootstrap_server(bootstrap_config(rs.uri), timing=QUICK)
    dev = emulator.device("dev-1", bs.uri, timing=QUICK)
    dev.wait_for("registered", exit="finish")
    rs_port = rs.uri.rsplit(":", 1)[1]

    def codes(pcap: Path) -> list[str]:
        out = subprocess.run(["tshark", "-r", str(pcap), "-d", f"udp.port=={rs_port},coap", "-T", "fields",
                              "-e", "coap.code"], capture_output=True, text=True, timeout=60, check=True).stdout
        return [coap_code(c) for c in out.split()]

    first, second = tmp_path / "first.pcapng", tmp_path / "second.pcapng"
    dev.capture(first)
    assert rs.request("dev-1", "GET", "/3/0/0")[0] == "2.05"
    dev.capture(None)
    assert rs.request("dev-1", "GET", "/3/0/0")[0] == "2.05"
    dev.capture(second)
    assert rs.request("dev-1", "GET", "/3/0/0")[0] == "2.05"
    dev.capture(None)
    assert codes(first) == ["0.01", "2.05"]
    assert codes(second) == ["0.01", "2.05"]


# --- validation --------------------------------------------------------------


@pytest.mark.parametrize(
    "settings,error,message",
    [
        ({"loss": 1.5}, ValueError, "loss: must be a probability 0..1, got 1.5"),
        ({"delay": -1}, ValueError, "delay: must be >= 0 seconds, got -1"),
        ({"duplicate": -0.1}, ValueError, "duplicate: must be a probability 0..1, got -0.1"),
        ({"burst": Burst(1.2, 0.5)}, ValueError, "burst.p_good_to_bad: must be a probability 0..1, got 1.2"),
        ({"mtu": -1}, ValueError, "mtu: must be >= 0 (0: unlimited), got -1"),
        ({"partitions": [(0, 1, "sideways")]}, ValueError, "direction 'sideways' is not one of both, up, down"),
        ({"bogus": 1}, TypeError, "unknown link setting(s) ['bogus']; allowed: ['bandwidth_bps', 'burst'"),
    ],
    ids=["loss", "delay", "duplicate", "burst", "mtu", "partition-direction", "unknown"],
)
def test_invalid_link_settings_name_the_field_and_range(
    emulator: Emulator, settings: dict, error: type, message: str
) -> None:
    """Device.link() rejects an out-of-range or unknown setting with an
    exception that names the field and the allowed range (or the allowed
    names), and leaves the link as it was."""
    dev = emulator.device("dev-1", "coap://127.0.0.1:9", start=False)
    with pytest.raises(error) as info:
        dev.link(**settings)
    assert message in str(info.value)
    assert dev.link_counters()["total"]["sent"] == 0


@pytest.mark.parametrize(
    "action,match,message",
    [
        ("drop", {"colour": "red"}, "unknown key 'colour'; allowed: name, direction, type, code, path, dtls,"),
        ("drop", {"nth": 0}, "nth: must be >= 1, got 0"),
        ("drop", {"probability": 2}, "probability: must be 0..1, got 2"),
        ("explode", {}, 'action: must be one of drop, delay, duplicate, corrupt, got "explode"'),
        ("drop", {"direction": "sideways"}, "direction: must be one of up, down, uplink, downlink"),
        ("drop", {"code": "9.99"}, 'code: must be GET, POST, PUT, DELETE or "c.dd"'),
        ("drop", {"type": "FOO"}, "type: must be one of CON, NON, ACK, RST"),
        ("delay", {}, "delay: required (seconds) for action 'delay'"),
    ],
    ids=["unknown-key", "nth-0", "probability-2", "action", "direction", "code", "type", "delay-missing"],
)
def test_invalid_rules_name_the_field_and_range(emulator: Emulator, action: str, match: dict, message: str) -> None:
    """Device.add_rule() rejects a rule with an unknown key (listing the
    allowed ones) or an out-of-range value (naming field and range) with
    ValueError; Fleet.add_rule() does the same."""
    dev = emulator.device("dev-1", "coap://127.0.0.1:9", start=False)
    with pytest.raises(ValueError) as info:
        dev.add_rule(action, **match)
    assert message in str(info.value)
    fleet = emulator.fleet(2, "coap://127.0.0.1:9", prefix="fleet-", start=False)
    with pytest.raises(ValueError, match="probability: must be 0..1"):
        fleet.add_rule("drop", probability=2)
