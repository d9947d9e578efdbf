"""The virtual clock (Emulator(clock="virtual")): one thread, a fixed order of
events, time jumping to the next deadline. Real libcoap over real loopback
sockets, with the RFC 7252 default timing (ACK_TIMEOUT 2 s, not shortened):
minutes of protocol time pass in milliseconds, and a seed gives one run.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from coap_peer import CON, POST, Message
from helpers import dead_port, details, kinds, read_pcapng
from lwm2m_hil import ClockError, CoapTiming, Emulator, Event, bootstrap_config

DEFAULT = CoapTiming()  # ACK_TIMEOUT 2 s, ACK_RANDOM_FACTOR 1.5, MAX_RETRANSMIT 4
# The initial timeouts libcoap can draw with DEFAULT: ACK_TIMEOUT x [1, 1.5]
# in steps of 1/64 (a random byte, 6 fractional bits), rounded to the ms.
LIBCOAP_TIMEOUTS_MS = {int(2000 + 31.25 * k + 0.5) for k in range(33)}
# A capture on the virtual clock starts at 2020-01-01T00:00:00Z.
VIRTUAL_EPOCH = 1577836800.0


def free_port() -> int:
    """A UDP port nothing holds now; both runs of a comparison listen on it,
    so the server URIs in payloads and timelines are the same bytes."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def at(events: list[Event], kind: str, text: str = "") -> list[float]:
    return [e.time for e in events if e.kind == kind and text in e.detail]


# --- determinism ---------------------------------------------------------------


def faulty_fleet_run(seed: int, ports: tuple[int, int], capture: Path) -> dict[str, Any]:
    """200 devices with default CoAP timing behind lossy, duplicating,
    delaying, reordering links, two of them losing their first Finish, until
    all registered: everything a test could compare."""
    with Emulator(seed=seed, clock="virtual") as emu:
        rs = emu.registration_server(listen=f"127.0.0.1:{ports[0]}")
        bs = emu.bootstrap_server(bootstrap_config(rs.uri), listen=f"127.0.0.1:{ports[1]}")
        fleet = emu.fleet(200, bs.uri, start=False, finish_timeout=60)
        fleet.link(loss=0.3, duplicate=0.05, delay=0.02, jitter=0.03, reorder=0.05, reorder_delay=0.1)
        for d in (fleet[3], fleet[150]):
            d.add_rule("drop", direction="down", code="POST", path="/bs", nth=1, count=1, name="drop-finish")
        emu.capture(capture)
        fleet.start()
        fleet.run_until("registered", exit="finish", timeout=3600)
        emu.capture(None)
        return {
            "now": emu.now(),
            "timelines": {d.endpoint: d.timeline() for d in fleet},
            "decisions": {d.endpoint: d.link_decisions() for d in fleet},
            "bootstrap": bs.results(),
            "registrations": rs.registrations(),
            "capture": capture.read_bytes(),
        }


def test_same_seed_same_run_to_the_byte_other_seed_other_faults(tmp_path: Path) -> None:
    """A faulty 200-device fleet (30 % loss, duplicates, delay and jitter,
    reordering, a dropped Finish) on the virtual clock, run twice with the
    same seed, gives the same timeline for every device (times, kinds and
    details), the same link decisions, the same server results and
    registrations, and the same capture, byte for byte. Another seed makes
    other fault decisions."""
    for attempt in range(3):
        ports = (free_port(), free_port())
        try:
            first = faulty_fleet_run(11, ports, tmp_path / "a.pcapng")
            second = faulty_fleet_run(11, ports, tmp_path / "b.pcapng")
            other = faulty_fleet_run(12, ports, tmp_path / "c.pcapng")
            break
        except ValueError as e:  # something took a port between the runs: again
            if "in use" not in str(e) or attempt == 2:
                raise

    assert first["registrations"].keys() == {f"dev-{i}" for i in range(200)}
    assert sum(len(d) for d in first["decisions"].values()) > 2000
    assert any("dropped by rule 'drop-finish'" in e.detail for e in first["timelines"]["dev-3"])
    for key in ("now", "timelines", "decisions", "bootstrap", "registrations"):
        assert first[key] == second[key], key
    assert first["capture"] == second["capture"]
    assert len(read_pcapng(tmp_path / "a.pcapng")) > 2000

    assert other["decisions"] != first["decisions"]
    differing = [ep for ep in first["decisions"] if first["decisions"][ep] != other["decisions"][ep]]
    assert len(differing) > 150  # each link draws from its own seed


def dtls_fleet_run(ports: tuple[int, ...], capture: Path) -> dict[str, Any]:
    """20 devices bootstrapping and registering over DTLS-PSK behind lossy links."""
    from lwm2m_hil import Psk

    key = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
    with Emulator(seed=9, clock="virtual") as emu:
        dm = Psk("dm", key)
        rs = emu.registration_server(psk=[dm], listen=f"127.0.0.1:{ports[0]}", secure_listen=f"127.0.0.1:{ports[1]}")
        config = bootstrap_config(rs.secure_uri, psk=Psk("{endpoint}", key), server_psk=dm)
        bs = emu.bootstrap_server(config, listen=f"127.0.0.1:{ports[2]}", secure_listen=f"127.0.0.1:{ports[3]}")
        fleet = emu.fleet(20, bs.secure_uri, psk=Psk("{endpoint}", key), start=False)
        fleet.link(loss=0.2)
        emu.capture(capture)
        fleet.start()
        fleet.run_until("registered", exit="finish", timeout=3600)
        emu.capture(None)
        return {"timelines": {d.endpoint: d.timeline() for d in fleet}, "capture": capture.read_bytes()}


def test_dtls_runs_repeat_to_the_byte(tmp_path: Path) -> None:
    """Over DTLS-PSK too, the same seed gives the same timelines and the same
    capture, handshakes included: mbedTLS's randomness comes from the seed,
    its time() from the virtual clock, and the radio's server-facing ports
    (on which DTLS cookies are keyed) from the seed."""
    for attempt in range(3):
        ports = tuple(free_port() for _ in range(4))
        try:
            first = dtls_fleet_run(ports, tmp_path / "a.pcapng")
            second = dtls_fleet_run(ports, tmp_path / "b.pcapng")
            break
        except ValueError as e:  # something took a port between the runs: again
            if "in use" not in str(e) or attempt == 2:
                raise
    assert all(any(e.kind == "dtls_connected" for e in t) for t in first["timelines"].values())
    assert first["timelines"] == second["timelines"]
    assert first["capture"] == second["capture"]
    assert len(read_pcapng(tmp_path / "a.pcapng")) > 400


# One virtual-clock DTLS-PSK run with a capture, as a child process runs it:
# argv[1] is the capture's path. The servers listen on port 0, which on the
# virtual clock means a port drawn from the seed.
PSK_RUN = """
import sys
from lwm2m_hil import Emulator, Psk, bootstrap_config
key = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
# A seed no other test uses: ports are drawn from it, and a port another
# emulator of that seed holds at the time moves on to another one.
with Emulator(seed=58321, clock="virtual") as emu:
    dm = Psk("dm", key)
    rs = emu.registration_server(psk=[dm])
    config = bootstrap_config(rs.secure_uri, psk=Psk("{endpoint}", key), server_psk=dm)
    bs = emu.bootstrap_server(config)
    fleet = emu.fleet(3, bs.secure_uri, psk=Psk("{endpoint}", key), start=False)
    fleet.link(loss=0.2)
    emu.capture(sys.argv[1])
    fleet.start()
    fleet.run_until("registered", exit="finish", timeout=3600)
"""


def client_hello_times(capture: Path) -> list[int]:
    """gmt_unix_time of every DTLS ClientHello in a capture: the first 4
    bytes of its random (record header 13 B, handshake header 12 B, version 2 B)."""
    return [
        int.from_bytes(d.payload[27:31], "big")
        for d in read_pcapng(capture)
        if len(d.payload) > 31 and d.payload[0] == 22 and d.payload[3:5] == b"\0\0" and d.payload[13] == 1
    ]


def test_dtls_runs_in_two_processes_repeat_to_the_byte(tmp_path: Path, package_env: dict[str, str]) -> None:
    """The same virtual-clock DTLS-PSK run in two processes, one after the
    other, gives one capture, byte for byte, with servers on port 0.
    mbedTLS's time() (in each ClientHello's gmt_unix_time and in the
    server's cookies) counts from the virtual epoch, 2020-01-01, not from
    the second the process started; the servers' ports (in the Security
    object bootstrap writes, in the capture's headers and its section
    comment), like the radio's, come from the seed, not from the kernel."""
    runs = []
    for name in ("a", "b"):
        time.sleep(1.1)  # each run in a wall-clock second of its own, as time() counts them
        runs.append(subprocess.run([sys.executable, "-c", PSK_RUN, str(tmp_path / f"{name}.pcapng")],
                                   env=package_env, capture_output=True, text=True, timeout=120))
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr + runs[1].stderr
    first, second = (tmp_path / "a.pcapng").read_bytes(), (tmp_path / "b.pcapng").read_bytes()
    hellos = client_hello_times(tmp_path / "a.pcapng")
    assert len(hellos) >= 6  # bootstrap and registration handshakes of 3 devices
    assert all(VIRTUAL_EPOCH <= t < VIRTUAL_EPOCH + 3600 for t in hellos), hellos
    a, b = read_pcapng(tmp_path / "a.pcapng"), read_pcapng(tmp_path / "b.pcapng")
    differ = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None)
    assert first == second, f"{len(a)} and {len(b)} packets; first differing: {differ}, " + (
        f"{a[differ]} / {b[differ]}" if differ is not None else "none (the headers differ)")


# --- RFC 7252 timing, not shortened ----------------------------------------------


def test_dropped_finish_device_leaves_bootstrap_at_the_servers_retransmission(tmp_path: Path) -> None:
    """Default CoAP timing, a rule drops the first Finish. The device stays in
    bootstrap until the server's first retransmission, which RFC 7252 puts
    ACK_TIMEOUT x [1, ACK_RANDOM_FACTOR] = 2 to 3 s after the first
    transmission; it leaves bootstrap at that very instant (the capture and
    the timeline share the virtual clock, to the millisecond), once."""
    pcap = tmp_path / "finish.pcapng"
    with Emulator(seed=5, clock="virtual") as emu:
        rs = emu.registration_server(timing=DEFAULT)
        bs = emu.bootstrap_server(bootstrap_config(rs.uri), timing=DEFAULT)
        dev = emu.device("dev-1", bs.uri, timing=DEFAULT, start=False)
        dev.add_rule("drop", direction="down", code="POST", path="/bs", nth=1, count=1, name="drop-finish")
        dev.capture(pcap)
        dev.start()
        dev.run_until("registered", exit="finish", timeout=60)
        timeline = dev.timeline()
        exits = dev.exit_counts()
        bs_port = int(bs.uri.rsplit(":", 1)[1])

    finishes = []
    for p in read_pcapng(pcap):
        m = Message.decode(p.payload)
        if p.src[1] == bs_port and m.type == CON and m.code == POST and m.uri_path == "/bs":
            finishes.append((round(p.time - VIRTUAL_EPOCH, 3), p.comment, m.encode()))
    assert [c for _, c, _ in finishes] == ["dropped by rule 'drop-finish'", "passed"]
    (first, _, sent), (again, _, resent) = finishes
    assert sent == resent  # a retransmission: same message id and token
    assert round((again - first) * 1000) in LIBCOAP_TIMEOUTS_MS  # 2 to 3 s

    assert at(timeline, "radio", "drop-finish") == [first]
    assert at(timeline, "bootstrap_command", "Finish") == [again]
    assert at(timeline, "commit") == [again]
    assert at(timeline, "bootstrap_exit") == [again]
    assert exits == {"finish": 1}
    states = [(e.time, e.detail) for e in timeline if e.kind == "state"]
    assert states[:2] == [(0.0, "bootstrapping"), (again, "bootstrapped")]


def test_finish_never_sent_finish_timeout_247_s_after_the_last_command_in_no_wall_time() -> None:
    """The server stops after its Delete and Writes (finish: false). With the
    default finish timeout (EXCHANGE_LIFETIME, 247 s) the device exits
    "finish_timeout" exactly 247 s of virtual time after the last bootstrap
    command, and the whole run takes well under a second of wall time."""
    start = time.monotonic()
    with Emulator(seed=1, clock="virtual") as emu:
        rs = emu.registration_server()
        bs = emu.bootstrap_server(bootstrap_config(rs.uri, finish=False))
        dev = emu.device("dev-1", bs.uri, retry_initial=60)
        dev.run_until(exit="finish_timeout", timeout=600)
        timeline = dev.timeline()
        failures = details(dev, "bootstrap_failed")
        state = dev.state
        now = emu.now()
    wall = time.monotonic() - start

    commands = at(timeline, "bootstrap_command")
    assert len(commands) == 3  # DELETE /, PUT /0/1, PUT /1/0
    (exit_at,) = at(timeline, "bootstrap_exit", "finish_timeout")
    assert exit_at == pytest.approx(commands[-1] + 247.0, abs=1e-9)
    assert now == exit_at  # run_until stopped at that instant
    assert failures == ["no Finish 247000 ms after the last bootstrap command"]
    assert state == "bootstrapping"
    assert wall < 1.0, f"{wall:.3f} s of wall time for 247 s of protocol time"


def test_con_retransmissions_of_100_seeded_devices_follow_rfc_7252() -> None:
    """100 devices whose every uplink datagram is dropped (a rule, so each
    transmission shows on the timeline). Each Request Bootstrap goes out 5
    times: at 0, T, 3T, 7T and 15T with T = ACK_TIMEOUT x a random factor in
    [1, ACK_RANDOM_FACTOR], the timeout doubling each time; libcoap gives up
    at 31T (MAX_TRANSMIT_WAIT for this T). Exact to the millisecond on the
    virtual clock. libcoap draws the factor in steps of 1/64 (a random byte,
    6 fractional bits: T = 2000 + 31.25 k ms rounded, k = 0..32); T varies
    from device to device (libcoap's generator, seeded from the emulator's)."""
    with Emulator(seed=3, clock="virtual") as emu:
        fleet = emu.fleet(100, f"coap://127.0.0.1:{dead_port()}", timing=DEFAULT, retry_initial=600, start=False)
        fleet.add_rule("drop", direction="up", count=0, name="drop-up")
        fleet.start()
        emu.run_for(100)
        timelines = [d.timeline() for d in fleet]

    firsts = []
    for timeline in timelines:
        (failed,) = at(timeline, "tx_failed")
        sent = [t for t in at(timeline, "radio", "drop-up") if t <= failed]
        assert len(sent) == 5, sent
        ms = [round((t - sent[0]) * 1000) for t in sent]
        first = ms[1]
        assert first in LIBCOAP_TIMEOUTS_MS  # within [2000, 3000] ms
        assert ms == [0, first, 3 * first, 7 * first, 15 * first]
        assert round((failed - sent[0]) * 1000) == 31 * first
        firsts.append(first)
    assert len(set(firsts)) >= 20
    assert min(firsts) < 2300 and max(firsts) > 2700  # the whole range is drawn from


def test_int7_fallback_to_bootstrap_with_default_timing() -> None:
    """ETS 1.1-int-7 with default CoAP timing: the server account answers
    nothing, so each of the 2 Registers fails after MAX_TRANSMIT_WAIT (libcoap
    gives up at 31 x T, T in [2, 3] s), the device falls back to bootstrap and
    registers with the server bootstrap gave it: minutes of protocol time."""
    with Emulator(seed=4, clock="virtual") as emu:
        rs = emu.registration_server()
        bs = emu.bootstrap_server(bootstrap_config(rs.uri))
        dev = emu.device(
            "dev-1", bs.uri, server_uri=f"coap://127.0.0.1:{dead_port()}", register_attempts=2, retry_jitter=0.0
        )
        dev.run_until("registered", exit="finish", timeout=900)
        timeline = dev.timeline()
        assert dev.read("/0/1/0") == rs.uri
        assert dev.bootstrap_exit == "finish"

    failed = at(timeline, "registration_failed")
    assert len(failed) == 2
    assert 62.0 <= failed[0] <= 93.0  # 31 x [2, 3] s
    (fallback,) = at(timeline, "fallback")
    assert fallback == failed[1]
    assert at(timeline, "bootstrap_request")[0] >= fallback


# --- the Python face -------------------------------------------------------------


def test_run_for_run_until_and_now_on_the_virtual_clock() -> None:
    """now() starts at 0 and moves only when the emulator runs: run_for moves
    it by exactly its argument; run_until stops at the instant the condition
    holds (True), or after its timeout (False, the clock moved by it)."""
    with Emulator(seed=2, clock="virtual") as emu:
        assert emu.clock == "virtual"
        rs = emu.registration_server()
        bs = emu.bootstrap_server(bootstrap_config(rs.uri))
        dev = emu.device("dev-1", bs.uri, hold_off=30)
        assert emu.now() == 0.0
        time.sleep(0.05)
        assert emu.now() == 0.0 and dev.state == "bootstrapping"
        emu.run_for(10)
        assert emu.now() == 10.0
        assert emu.run_until(lambda: dev.state == "registered", timeout=60)
        assert emu.now() == 30.0  # the hold-off, then the whole exchange on loopback at once
        assert at(dev.timeline(), "bootstrap_request") == [30.0]
        assert not emu.run_until(lambda: dev.state == "failed", timeout=5)
        assert emu.now() == 35.0


def test_real_time_waits_on_the_virtual_clock_raise_at_once() -> None:
    """wait_for waits in real time: on the virtual clock nothing would move,
    so it raises ClockError at once instead of hanging, and says what to use.
    The virtual-time calls refuse a real-time emulator the same way."""
    with Emulator(clock="virtual") as emu:
        dev = emu.device("dev-1", f"coap://127.0.0.1:{dead_port()}")
        start = time.monotonic()
        with pytest.raises(ClockError, match="run_until"):
            dev.wait_for("registered", timeout=30)
        with pytest.raises(ClockError, match="run_until"):
            emu.fleet(2, f"coap://127.0.0.1:{dead_port()}", prefix="more-").wait_for("registered", timeout=30)
        assert time.monotonic() - start < 1.0
    with Emulator() as emu:
        assert emu.clock == "real"
        with pytest.raises(ClockError, match="clock='virtual'"):
            emu.run_for(1)
        with pytest.raises(ClockError, match="wait_for"):
            emu.device("dev-1", f"coap://127.0.0.1:{dead_port()}").run_until("registered")
    with pytest.raises(ValueError, match="clock"):
        Emulator(clock="simulated")


def test_real_and_virtual_emulators_share_a_process() -> None:
    """The clock is per thread, not per process: a real-time emulator keeps
    running on its own threads while a virtual one runs on this one."""
    fast = CoapTiming(ack_timeout=0.1)
    with Emulator(seed=1) as real, Emulator(seed=1, clock="virtual") as sim:
        real_rs = real.registration_server(timing=fast)
        real_bs = real.bootstrap_server(bootstrap_config(real_rs.uri), timing=fast)
        sim_rs = sim.registration_server()
        sim_bs = sim.bootstrap_server(bootstrap_config(sim_rs.uri, finish=False))
        real_dev = real.device("real-1", real_bs.uri, timing=fast)
        sim_dev = sim.device("sim-1", sim_bs.uri)
        sim_dev.run_until(exit="finish_timeout", timeout=600)
        real_dev.wait_for("registered", exit="finish", timeout=10)
        assert sim.now() == pytest.approx(247.0, abs=0.001)
        assert real.now() < 60.0
        assert 0 < kinds(real_dev, "state")[-1].time < 10.0
        assert kinds(sim_dev, "bootstrap_exit")[0].time == pytest.approx(247.0, abs=0.001)


def test_dtls_psk_on_the_virtual_clock_lost_clienthello_resent_after_ack_timeout() -> None:
    """DTLS handshakes run on the virtual clock too (mbedTLS's retransmission
    timer and time() are redirected): with default timing (ACK_TIMEOUT 2 s,
    which the handshake follows) a dropped first ClientHello is resent 2 s
    later, the handshake completes at once after it, and the device
    bootstraps and registers over coaps, all in no wall time to speak of."""
    from lwm2m_hil import Psk

    key = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
    with Emulator(seed=8, clock="virtual") as emu:
        rs = emu.registration_server(timing=DEFAULT)
        config = bootstrap_config(rs.uri, psk=Psk("{endpoint}", key))
        bs = emu.bootstrap_server(config, timing=DEFAULT)
        dev = emu.device("dev-1", bs.secure_uri, timing=DEFAULT, psk=Psk("{endpoint}", key), start=False)
        dev.add_rule("drop", direction="up", dtls="handshake", nth=1, count=1, name="lose-hello")
        dev.start()
        started = time.monotonic()
        dev.run_until("registered", exit="finish", timeout=60)
        wall = time.monotonic() - started
        timeline = dev.timeline()
    drop = at(timeline, "radio", "lose-hello")
    connected = [e for e in timeline if e.kind == "dtls_connected"]
    assert drop == [0.0]
    assert connected[0].detail.endswith(" in 2000 ms")  # one ACK_TIMEOUT, to the millisecond
    assert wall < 5
