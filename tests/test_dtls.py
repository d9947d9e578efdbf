"""DTLS with a pre-shared key (security mode PSK): bootstrap and registration
over coaps:// through libcoap's mbedTLS backend, refusals of wrong
credentials, and DTLS traffic on the radio and in captures.

Real handshakes over real loopback sockets; short CoAP timers (the DTLS
handshake retransmits on the device's ACK timeout too).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from helpers import FAST, assert_refused_after_handshake, details, kinds, outcome_of, wait_until
from lwm2m_hil import CoapTiming, Device, Emulator, Psk, bootstrap_config

KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
WRONG = bytes.fromhex("ff0102030405060708090a0b0c0d0e0f")
DM_KEY = bytes.fromhex("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf")


def psk_servers(emu: Emulator, **config: Any) -> tuple[Any, Any]:
    """A registration server that wants DTLS from dev-* with DM_KEY, and a
    bootstrap server that wants DTLS from dev-* with KEY, identity = endpoint
    name, and hands out the DM account over coaps."""
    dm = Psk("dm-shared", DM_KEY, match="dev-*")
    rs = emu.registration_server(timing=FAST, psk=[dm])
    bs = emu.bootstrap_server(
        bootstrap_config(
            rs.secure_uri,
            match="dev-*",
            psk=Psk("{endpoint}", KEY),
            server_psk=Psk("dm-shared", DM_KEY),
            **config,
        ),
        timing=FAST,
    )
    return rs, bs


def test_int1_bootstrap_and_registration_both_over_coaps(emulator: Emulator) -> None:
    """ETS 1.1-int-1: the device bootstraps over DTLS-PSK with its factory
    credentials, receives a coaps:// server account with a PSK, and registers
    over DTLS with those credentials; both handshakes are on its timeline."""
    rs = emulator.registration_server(timing=FAST, psk=[Psk("dm-shared", DM_KEY, match="dev-*")])
    bs = emulator.bootstrap_server(
        bootstrap_config(rs.secure_uri, psk=Psk("{endpoint}", KEY), server_psk=Psk("dm-shared", DM_KEY)),
        timing=FAST,
    )
    dev = emulator.device("dev-1", bs.secure_uri, timing=FAST, psk=Psk("{endpoint}", KEY))
    dev.wait_for("registered", timeout=15)
    assert dev.bootstrap_exit == "finish"
    assert outcome_of(bs, "dev-1")["outcome"] == "SUCCESS"
    assert "dev-1" in rs.registrations()
    handshakes = details(dev, "dtls_handshake")
    assert handshakes[0] == f'to {bs.secure_uri} as PSK identity "dev-1"'
    assert handshakes[1] == f'to {rs.secure_uri} as PSK identity "dm-shared"'
    assert len(kinds(dev, "dtls_connected")) == 2
    objects = dev.objects()
    assert objects[0][1][2] == 0  # security mode PSK
    assert objects[0][1][0] == rs.secure_uri


def test_wrong_key_fails_unauthorized_device_retries_and_succeeds_once_corrected(emulator: Emulator) -> None:
    """The server holds a different key than the device: every handshake
    fails, the bootstrap server records UNAUTHORIZED for the endpoint its
    identity names, and the device backs off and tries again, each failure on
    its timeline. Once the server's key is corrected, the next attempt
    bootstraps and the device registers."""
    rs = emulator.registration_server(timing=FAST)

    def config(key: bytes) -> dict[str, Any]:
        return bootstrap_config(rs.uri, psk=Psk("{endpoint}", key))

    bs = emulator.bootstrap_server(config(WRONG), timing=FAST)
    dev = emulator.device(
        "dev-1", bs.secure_uri, timing=FAST, psk=Psk("{endpoint}", KEY), retry_initial=0.2, retry_max=0.4
    )
    r = outcome_of(bs, "dev-1")
    assert r["outcome"] == "UNAUTHORIZED"
    assert r["reason"].startswith('DTLS handshake with PSK identity "dev-1" from 127.1.')
    wait_until(lambda: len(kinds(dev, "dtls_failed")) >= 2, 10, "a second failed handshake")
    assert "handshake ended by an alert from the peer" in details(dev, "dtls_failed")[0]
    assert dev.state == "bootstrapping" and kinds(dev, "retry")
    bs.reconfigure(config(KEY))
    dev.wait_for("registered", exit="finish", timeout=15)
    assert outcome_of(bs, "dev-1")["outcome"] == "SUCCESS"


def test_unknown_identity_is_refused_before_any_endpoint_is_named(emulator: Emulator) -> None:
    """An identity the server has no key for fails the handshake at once; the
    server cannot charge it to an endpoint, so the refusal is a server event
    naming the identity and the client's address."""
    rs, bs = psk_servers(emulator)
    dev = emulator.device("dev-1", bs.secure_uri, timing=FAST, psk=Psk("stranger", KEY), retry_initial=0.2)
    wait_until(lambda: kinds(dev, "dtls_failed"), 10, "a failed handshake")
    refused = wait_until(lambda: [e for e in bs.events() if e.kind == "rejected"], 5, "a server event")
    assert refused[0].detail.startswith('DTLS: unknown PSK identity "stranger" from 127.1.')
    assert "dev-1" not in bs.results()


def test_one_endpoints_credentials_never_get_another_endpoints_configuration(emulator: Emulator) -> None:
    """dev-2 presents dev-1's identity and key: the handshake succeeds (the key
    is right for that identity), but its Request Bootstrap for ep=dev-2 is
    refused with 4.00, UNAUTHORIZED, and no command is sent to it."""
    rs, bs = psk_servers(emulator)
    dev = emulator.device("dev-2", bs.secure_uri, timing=FAST, psk=Psk("dev-1", KEY), retry_initial=5)
    assert_refused_after_handshake(bs, dev, "UNAUTHORIZED", 'PSK identity "dev-1" may not act as dev-2')


def test_nosec_request_for_a_psk_endpoint_is_unauthorized(emulator: Emulator) -> None:
    """An endpoint whose entry requires a key may not bootstrap over NoSec."""
    rs, bs = psk_servers(emulator)
    emulator.device("dev-1", bs.uri, timing=FAST, retry_initial=5)
    r = outcome_of(bs, "dev-1")
    assert r["outcome"] == "UNAUTHORIZED"
    assert r["reason"].endswith("NoSec, but dev-1 must use DTLS with a pre-shared key")


def test_bootstrap_over_nosec_then_registration_over_psk(emulator: Emulator) -> None:
    """A common field set-up: the factory account is NoSec, bootstrap hands
    out a coaps:// server account with a PSK, and the device registers over
    DTLS; the registration server refuses the same endpoint over NoSec."""
    rs = emulator.registration_server(timing=FAST, psk=[Psk("dm-{endpoint}", DM_KEY, match="dev-*")])
    bs = emulator.bootstrap_server(bootstrap_config(rs.secure_uri, server_psk=Psk("dm-dev-1", DM_KEY)), timing=FAST)
    dev = emulator.device("dev-1", bs.uri, timing=FAST)
    dev.wait_for("registered", exit="finish", timeout=15)
    assert details(dev, "dtls_handshake") == [f'to {rs.secure_uri} as PSK identity "dm-dev-1"']
    plain = emulator.device("dev-2", bs.uri, timing=FAST, server_uri=rs.uri, start=True)
    wait_until(lambda: [e for e in rs.events() if e.kind == "rejected"], 10, "a refused registration")
    refused = [e.detail for e in rs.events() if e.kind == "rejected"][0]
    assert "4.03" in refused and "NoSec, but dev-2 must use DTLS" in refused
    assert "dev-2" not in rs.registrations()
    assert plain.state != "registered"


SLOW = CoapTiming(ack_timeout=0.2)  # a visible DTLS retransmission timeout


def connected_after_ms(dev: Device) -> int:
    """How long the device's first handshake took, from its timeline."""
    detail = details(dev, "dtls_connected")[0]
    return int(detail.rsplit(" in ", 1)[1].split()[0])


@pytest.mark.parametrize(
    "rule",
    [
        pytest.param(dict(direction="up", dtls="handshake", name="lose-clienthello"), id="clienthello"),
        pytest.param(dict(direction="down", dtls="change_cipher_spec", name="lose-finished"), id="finished"),
    ],
)
def test_lost_handshake_flight_is_retransmitted_and_costs_one_timeout(
    emulator: Emulator, rule: dict[str, Any]
) -> None:
    """The radio drops the first ClientHello, or the server's last flight
    (ChangeCipherSpec + Finished): the handshake recovers by retransmission
    on the device's ACK timeout (200 ms), the drop is on the device's
    timeline, and the handshake's duration there shows what it cost."""
    rs, bs = psk_servers(emulator)
    dev = emulator.device("dev-1", bs.secure_uri, timing=SLOW, psk=Psk("{endpoint}", KEY), start=False)
    dev.add_rule("drop", **rule)
    dev.start()
    dev.wait_for("registered", exit="finish", timeout=15)
    drops = [e for e in dev.timeline() if rule["name"] in e.detail]
    assert len(drops) == 1, dev.timeline()
    took = connected_after_ms(dev)
    assert 200 <= took < 2000, took
    assert kinds(dev, "dtls_failed") == []


def test_fleet_of_1000_bootstraps_and_registers_over_dtls_psk() -> None:
    """1,000 devices, each with its own identity (its endpoint name), bootstrap
    over DTLS-PSK and register over DTLS with the account they received; all
    leave bootstrap on Finish. Device handshakes go at most 64 per loop thread
    at a time, so the servers never refuse one for lack of room."""
    with Emulator(seed=7) as emu:
        rs, bs = psk_servers(emu)
        fleet = emu.fleet(1000, bs.secure_uri, timing=FAST, psk=Psk("{endpoint}", KEY), record_messages=False)
        fleet.wait_for("registered", exit="finish", timeout=120)
        assert len(rs.registrations()) == 1000
        assert set(bs.outcomes().values()) == {"SUCCESS"}
        assert all(len(kinds(fleet[i], "dtls_connected")) == 2 for i in range(20))


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_capture_of_dtls_decrypts_in_tshark_with_the_psk(emulator: Emulator, tmp_path: Path) -> None:
    """A capture of one device's bootstrap over DTLS: tshark, given the PSK
    (-o dtls.psk:HEX), decode-as DTLS on the server's UDP port and CoAP on its
    DTLS port, decrypts the records (TLS_PSK_WITH_AES_128_CCM_8) and finds the
    CoAP bootstrap exchange inside: Request Bootstrap, the Delete, the Writes
    with LwM2M-TLV payloads, Finish."""
    rs = emulator.registration_server(timing=FAST)
    bs = emulator.bootstrap_server(bootstrap_config(rs.uri, psk=Psk("{endpoint}", KEY)), timing=FAST)
    pcap = tmp_path / "dtls.pcapng"
    emulator.capture(pcap)
    dev = emulator.device("dev-1", bs.secure_uri, timing=FAST, psk=Psk("{endpoint}", KEY))
    dev.wait_for("registered", exit="finish")
    emulator.capture(None)
    port = bs.secure_uri.rsplit(":", 1)[1]
    base = ["tshark", "-r", str(pcap), "-d", f"udp.port=={port},dtls", "-d", f"dtls.port=={port},coap"]
    suites = subprocess.run(
        base + ["-Y", "dtls.handshake.type == 2", "-T", "fields", "-e", "dtls.handshake.ciphersuite"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.split()
    assert suites == ["0xc0a8"]  # ServerHello: TLS_PSK_WITH_AES_128_CCM_8
    run = subprocess.run(
        base + ["-o", f"dtls.psk:{KEY.hex()}", "-Y", "coap", "-T", "fields", "-E", "separator=|",
                "-e", "coap.code", "-e", "coap.opt.uri_path", "-e", "lwm2mtlv.object_name"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    rows = [tuple(line.split("|")) for line in run.stdout.splitlines() if line]
    requests = [r for r in rows if int(r[0]) < 32]  # codes 0.xx: methods
    assert requests == [
        ("2", "bs", ""),  # POST /bs: Request Bootstrap
        ("4", "", ""),  # DELETE /
        ("3", "0,1", "LwM2M Security"),  # PUT /0/1
        ("3", "1,0", "LwM2M Server"),  # PUT /1/0
        ("2", "bs", ""),  # POST /bs: Finish
    ]
    assert [r[0] for r in rows if int(r[0]) >= 32] == ["68", "66", "68", "68", "68"]  # 2.04 2.02 ...


def test_registration_server_over_dtls_cannot_touch_security_or_run_bootstrap_operations(
    emulator: Emulator,
) -> None:
    """After int-1, the registration server reaches the device over its DTLS
    session: a Read of the Device object works (2.05), but a Write to the
    Security object, a Delete and a Bootstrap-Finish are refused with 4.01,
    the device's credentials stay as bootstrap wrote them, and each refusal
    is a "refused" event on the device's timeline."""
    rs, bs = psk_servers(emulator)
    dev = emulator.device("dev-1", bs.secure_uri, timing=FAST, psk=Psk("{endpoint}", KEY))
    dev.wait_for("registered", exit="finish", timeout=15)
    code, payload = rs.request("dev-1", "GET", "/3/0/0")
    assert code == "2.05" and payload
    assert rs.request("dev-1", "PUT", "/0/1/3", b"evil", content_format=0)[0] == "4.01"
    assert rs.request("dev-1", "DELETE", "/1/0")[0] == "4.01"
    assert rs.request("dev-1", "POST", "/bs")[0] == "4.01"
    refused = details(dev, "refused")
    assert len(refused) == 3
    assert refused[1].endswith("DELETE /1/0: a bootstrap operation outside the bootstrap-server session")
    assert dev.objects()[0][1][3] == b"dm-shared"
    assert dev.state == "registered"


def test_nat_rebinding_over_dtls_update_times_out_then_a_new_handshake_registers() -> None:
    """DTLS and a NAT rebinding after registration (virtual clock, default
    CoAP timing, lifetime 20 s): the Update leaves from a new public port,
    where the server has no DTLS session, so its records go unanswered. When
    libcoap gives up on the Update (MAX_TRANSMIT_WAIT), the device drops the
    session ("dtls_session_dropped") and its next Register handshakes anew
    from the new port and succeeds: one new handshake to the registration
    server, no fallback to bootstrap. (Reusing the dead session instead
    failed two more Registers and fell back to bootstrap after 248 s.)"""
    with Emulator(seed=3, clock="virtual") as emu:
        rs, bs = psk_servers(emu, lifetime=20)
        rs_uri = rs.secure_uri
        dev = emu.device("dev-1", bs.secure_uri, psk=Psk("dev-1", KEY))
        dev.run_until("registered", exit="finish", timeout=60)
        first = rs.registrations()["dev-1"]["id"]
        dev.rebind_nat()
        assert emu.run_until(
            lambda: bool(kinds(dev, "dtls_session_dropped")) and dev.state == "registered", timeout=200
        )
        handshakes = [d for d in details(dev, "dtls_handshake") if rs_uri in d]
        assert len(handshakes) == 2
        assert not kinds(dev, "fallback")
        assert len(kinds(dev, "bootstrap_request")) == 1
        again = rs.registrations()["dev-1"]
        assert again["id"] != first  # a new registration, over the new session
        assert dev.link_counters()["total"]["nat_rebinds"] == 1
