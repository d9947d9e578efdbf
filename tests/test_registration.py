"""Registration after bootstrap (PROTOCOL.md, "After bootstrap the client registers")."""

from __future__ import annotations

import time

import pytest

from coap_peer import CON, DELETE, GET, LINK_FORMAT, POST, CoapPeer, Message, ScriptedBootstrapServer
from helpers import FAST, PATIENT, kinds, outcome_of, wait_until
from lwm2m_hil import Emulator, Psk, RegistrationServer, bootstrap_config

KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
DM_KEY = bytes.fromhex("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf")


@pytest.mark.parametrize("profile", ["cr", "1.1"])
def test_register_carries_ep_lt_lwm2m_b_and_links_without_security(profile: str) -> None:
    """After bootstrap the device sends CON POST /rd?ep=&lt=&lwm2m=&b= with the
    lifetime and binding it was given, link format (40) and the object links of
    every object but Security (/0). 2.01 with a Location-Path registers it."""
    with Emulator() as emu, ScriptedBootstrapServer() as server:  # plays the LwM2M server
        bs = emu.bootstrap_server(bootstrap_config(server.uri, lifetime=123, ssid=4), profile=profile, timing=FAST)
        dev = emu.device("dev-1", bs.uri, timing=PATIENT, profile=profile)
        reg, addr = server.wait_request(POST, "/rd")
        assert reg.type == CON
        version = "1.1" if profile == "1.1" else "1.0"
        assert reg.query() == {"ep": "dev-1", "lt": "123", "lwm2m": version, "b": "U"}
        assert reg.content_format == LINK_FORMAT
        links = reg.payload.decode().split(",")
        assert links == ["</1/0>", "</3/0>"]
        assert not any(link.startswith("</0") for link in links)
        dev.wait_for("registering")  # the datagram may leave before the state is published
        server.respond(reg, addr, "2.01", location_path=["rd", "a7"])
        dev.wait_for("registered")


def test_device_answers_its_server_but_never_shows_security(scripted_bs: ScriptedBootstrapServer) -> None:
    """A registered device answers its LwM2M server: GET /3/0 is 2.05, GET of
    the Security object is 4.01 (only the bootstrap server may touch it)."""
    with Emulator() as emu:
        dev = emu.device("dev-1", "coap://127.0.0.1:9", timing=PATIENT, server_uri=scripted_bs.uri)
        reg, addr = scripted_bs.wait_request(POST, "/rd")
        scripted_bs.respond(reg, addr, "2.01", location_path=["rd", "1"])
        dev.wait_for("registered")
        assert scripted_bs.call(addr, GET, "/3/0").code_text == "2.05"
        assert scripted_bs.call(addr, GET, "/0").code_text == "4.01"
        assert scripted_bs.call(addr, GET, "/0/0/0").code_text == "4.01"
        assert len(kinds(dev, "refused")) == 2


def test_registration_update_trigger_sends_update_to_location(scripted_bs: ScriptedBootstrapServer) -> None:
    """Execute /1/0/8 (Registration Update Trigger) makes the device send an
    Update: POST to the Location-Path the server gave."""
    with Emulator() as emu:
        dev = emu.device("dev-1", "coap://127.0.0.1:9", timing=PATIENT, server_uri=scripted_bs.uri)
        reg, addr = scripted_bs.wait_request(POST, "/rd")
        scripted_bs.respond(reg, addr, "2.01", location_path=["rd", "q9"])
        dev.wait_for("registered")
        assert scripted_bs.call(addr, POST, "/1/0/8").code_text == "2.04"
        update, _ = scripted_bs.wait_request(POST, "/rd/q9")
        scripted_bs.respond(update, addr, "2.04")
        assert len(kinds(dev, "update")) == 1
        assert dev.state == "registered"


def test_registration_is_updated_before_its_lifetime_ends(emulator: Emulator) -> None:
    """With a 1 s lifetime the device sends Update well before it runs out:
    the registration server counts updates and never expires it."""
    rs = emulator.registration_server(timing=FAST)
    bs = emulator.bootstrap_server(bootstrap_config(rs.uri, lifetime=1), timing=FAST)
    dev = emulator.device("dev-1", bs.uri, timing=FAST)
    dev.wait_for("registered")
    wait_until(lambda: rs.registrations().get("dev-1", {}).get("updates", 0) >= 2, 10, "two updates")
    assert not any(e.kind == "expired" for e in rs.events())
    assert dev.state == "registered"


def test_deregister_removes_the_registration(emulator: Emulator) -> None:
    """Device.deregister() sends DELETE /rd/<id>: the server drops the
    registration (a "deregistered" event) and the device is "bootstrapped"."""
    rs = emulator.registration_server(timing=FAST)
    bs = emulator.bootstrap_server(bootstrap_config(rs.uri), timing=FAST)
    dev = emulator.device("dev-1", bs.uri, timing=FAST)
    other = emulator.device("dev-2", bs.uri, timing=FAST)
    dev.wait_for("registered")
    other.wait_for("registered")
    reg_id = rs.registrations()["dev-1"]["id"]

    dev.deregister()
    dev.wait_for("bootstrapped")
    assert "dev-1" not in rs.registrations()
    assert "dev-2" in rs.registrations()
    gone = [e for e in rs.events() if e.kind == "deregistered"]
    assert len(gone) == 1 and "dev-1" in gone[0].detail
    assert [e.detail for e in kinds(dev, "tx") if e.detail.startswith("DELETE")] == [f"DELETE /rd/{reg_id}"]


def test_deregister_to_a_raw_server_is_delete_of_location(scripted_bs: ScriptedBootstrapServer) -> None:
    """On the wire, De-register is CON DELETE of exactly the Location-Path."""
    with Emulator() as emu:
        dev = emu.device("dev-1", "coap://127.0.0.1:9", timing=PATIENT, server_uri=scripted_bs.uri)
        reg, addr = scripted_bs.wait_request(POST, "/rd")
        scripted_bs.respond(reg, addr, "2.01", location_path=["rd", "z1"])
        dev.wait_for("registered")
        dev.deregister()
        bye, _ = scripted_bs.wait_request(DELETE)
        assert (bye.type, bye.uri_path) == (CON, "/rd/z1")
        scripted_bs.respond(bye, addr, "2.02")
        dev.wait_for("bootstrapped")


def test_hold_off_delays_the_first_request_bootstrap(scripted_bs: ScriptedBootstrapServer) -> None:
    """Client Hold Off Time (/0/0/11 = 1 s) delays the first Request Bootstrap
    by at least 1 s: the server gets it no sooner than 1 s after the device was
    created, and the timeline shows >= 1 s between start and request."""
    with Emulator() as emu:
        created = time.monotonic()
        dev = emu.device("dev-1", scripted_bs.uri, timing=PATIENT, hold_off=1)
        scripted_bs.accept(timeout=10)
        assert time.monotonic() - created >= 1.0
        (hold,) = kinds(dev, "hold_off")
        assert hold.detail == "1 s"
        (first,) = kinds(dev, "bootstrap_request")
        assert first.time - hold.time >= 1.0
        assert dev.read("/0/0/11") == 1


def test_bootstrap_server_outcome_counts_match_the_device(emulator: Emulator) -> None:
    """The server's counters describe the same exchange the device saw:
    requests_sent equals the bootstrap commands on the device's timeline."""
    rs = emulator.registration_server(timing=FAST)
    config = bootstrap_config(rs.uri, writes=[{"path": "/1/0/2", "value": 10}])
    bs = emulator.bootstrap_server(config, timing=FAST)
    dev = emulator.device("dev-1", bs.uri, timing=FAST)
    dev.wait_for("registered", exit="finish")
    result = outcome_of(bs, "dev-1")
    assert result["requests_sent"] == len(kinds(dev, "bootstrap_command")) == 5
    assert dev.read("/1/0/2") == 10


def test_bootstrap_duration_starts_at_the_first_request_not_at_hold_off(emulator: Emulator) -> None:
    """Device.bootstrap_duration() is documented as "from the first Request
    Bootstrap to the first exit": a 1 s Client Hold Off Time before the
    request is not part of it, so on loopback it is far below 1 s."""
    rs = emulator.registration_server(timing=FAST)
    bs = emulator.bootstrap_server(bootstrap_config(rs.uri), timing=FAST)
    dev = emulator.device("dev-1", bs.uri, timing=FAST, hold_off=1)
    dev.wait_for("registered", exit="finish")
    (request,) = kinds(dev, "bootstrap_request")
    (exit_event,) = kinds(dev, "bootstrap_exit")
    duration = dev.bootstrap_duration()
    assert duration is not None
    assert duration == pytest.approx(exit_event.time - request.time, abs=0.002)


def test_registration_without_update_expires(emulator: Emulator) -> None:
    """A registration (raw client, lt=1) that is never updated expires: the
    server drops it and records an "expired" event."""
    from coap_peer import CoapPeer

    rs = emulator.registration_server(timing=FAST)
    host, port = rs.uri.removeprefix("coap://").rsplit(":", 1)
    with CoapPeer() as client:
        created = client.call((host, int(port)), POST, "/rd", query=["ep=quiet", "lt=1"],
                              payload=b"</3/0>", content_format=LINK_FORMAT)
        assert created.code_text == "2.01"
        assert "quiet" in rs.registrations()
        wait_until(lambda: "quiet" not in rs.registrations(), 10, "the registration to expire")
    expired = [e for e in rs.events() if e.kind == "expired"]
    assert len(expired) == 1 and "quiet" in expired[0].detail


def test_device_source_address_is_its_own_loopback_address(scripted_bs: ScriptedBootstrapServer) -> None:
    """Each device sends from its own 127.1.x.y address, and Device.address
    names that host (what a server sees)."""
    with Emulator() as emu:
        devs = [emu.device(f"dev-{i}", scripted_bs.uri, timing=PATIENT) for i in range(3)]
        hosts = {}
        for _ in devs:
            ep, addr, _ = scripted_bs.accept()
            hosts[ep] = addr[0]
        for d in devs:
            assert d.address.rsplit(":", 1)[0] == hosts[d.endpoint]
            assert hosts[d.endpoint].startswith("127.1.")
        assert len(set(hosts.values())) == 3


def test_update_answered_404_makes_the_device_register_again(scripted_bs: ScriptedBootstrapServer) -> None:
    """A server that forgot the registration answers Update with 4.04: the
    device registers again (a new POST /rd) and is registered at the new
    location."""
    with Emulator() as emu:
        dev = emu.device("dev-1", "coap://127.0.0.1:9", timing=PATIENT, server_uri=scripted_bs.uri)
        reg, addr = scripted_bs.wait_request(POST, "/rd")
        scripted_bs.respond(reg, addr, "2.01", location_path=["rd", "old"])
        dev.wait_for("registered")
        assert scripted_bs.call(addr, POST, "/1/0/8").code_text == "2.04"
        update, _ = scripted_bs.wait_request(POST, "/rd/old")
        scripted_bs.respond(update, addr, "4.04")
        again, _ = scripted_bs.wait_request(POST, "/rd")
        assert again.query()["ep"] == "dev-1"
        scripted_bs.respond(again, addr, "2.01", location_path=["rd", "new"])
        dev.wait_for("registered")
        assert len(kinds(dev, "reregister")) == 1
        assert scripted_bs.call(addr, POST, "/1/0/8").code_text == "2.04"
        scripted_bs.wait_request(POST, "/rd/new")


def test_registration_server_request_reads_a_device_and_reports_what_it_cannot(emulator: Emulator) -> None:
    """RegistrationServer.request() reaches a registered device on its session
    (a Read of /3/0/0 answers 2.05 with the manufacturer, in TLV: resource 0,
    9 bytes); an endpoint that is
    not registered, a bad method and a bad path are clear errors."""
    rs = emulator.registration_server(timing=FAST)
    bs = emulator.bootstrap_server(bootstrap_config(rs.uri), timing=FAST)
    emulator.device("dev-1", bs.uri, timing=FAST).wait_for("registered")
    assert rs.request("dev-1", "GET", "/3/0/0") == ("2.05", b"\xc8\x00\x09lwm2m-hil")
    with pytest.raises(ValueError, match="dev-9 is not registered here"):
        rs.request("dev-9", "GET", "/3/0/0")
    with pytest.raises(ValueError, match="method: 'FETCH' is not GET, POST, PUT or DELETE"):
        rs.request("dev-1", "FETCH", "/3/0/0")
    with pytest.raises(ValueError, match="path: expected /obj/inst/res"):
        rs.request("dev-1", "GET", "3/0/0")


def test_registration_server_request_sends_accept_and_senml_writes(emulator: Emulator) -> None:
    """``request(..., accept=112)`` carries Accept 112 to the device, and a
    Write with ``content_format=112`` carries a SenML-CBOR payload built by
    cbor2 (an independent encoder) unchanged, with its Content-Format; the
    scripted client's answers come back as sent."""
    import threading

    import cbor2

    from coap_peer import ACCEPT, PUT, SENML_CBOR, ScriptedClient

    rs = emulator.registration_server(timing=FAST)
    with ScriptedClient("senml-1", pct=SENML_CBOR) as client:
        client.server_uri = rs.uri
        assert client.register().code_text == "2.01"
        got: list[object] = []
        reading = cbor2.dumps([{-2: "/3/0/", 0: "0", 3: "lwm2m-hil"}])
        t = threading.Thread(target=lambda: got.append(rs.request("senml-1", "GET", "/3/0", accept=SENML_CBOR)))
        t.start()
        req, addr = client.wait_request(GET, "/3/0")
        client.respond(req, addr, "2.05", payload=reading, content_format=SENML_CBOR)
        t.join(timeout=10)
        assert [int.from_bytes(v, "big") for v in req.option_values(ACCEPT)] == [SENML_CBOR]
        assert got == [("2.05", reading)]

        body = cbor2.dumps([{-2: "/1/0/", 0: "1", 2: 60}])
        t = threading.Thread(target=lambda: got.append(rs.request("senml-1", "PUT", "/1/0", body,
                                                                  content_format=SENML_CBOR)))
        t.start()
        req, addr = client.wait_request(PUT, "/1/0")
        client.respond(req, addr, "2.04")
        t.join(timeout=10)
        assert (req.content_format, cbor2.loads(req.payload)) == (SENML_CBOR, [{-2: "/1/0/", 0: "1", 2: 60}])
        assert got[-1] == ("2.04", b"")
# --- hardening: who may Update or De-register, and what a flood may cost ----


def rd_address(uri: str) -> tuple[str, int]:
    host, port = uri.removeprefix("coap://").rsplit(":", 1)
    return host, int(port)


def register(client: CoapPeer, rs: RegistrationServer, ep: str, lt: str = "300") -> Message:
    return client.call(rd_address(rs.uri), POST, "/rd", query=[f"ep={ep}", f"lt={lt}"],
                       payload=b"</3/0>", content_format=LINK_FORMAT)


def test_a_stranger_cannot_update_or_deregister_a_nosec_registration(emulator: Emulator) -> None:
    """A NoSec registration belongs to its host: a client on another host
    that knows the id gets 4.03 for Update and De-register, and nothing
    changes. The same host from a new port (a NAT rebinding) is the same
    client: its Update is accepted and moves the registration there."""
    rs = emulator.registration_server(timing=FAST)
    with CoapPeer("127.0.0.7") as owner, CoapPeer("127.0.0.8") as stranger, CoapPeer("127.0.0.7") as rebound:
        created = register(owner, rs, "nosec-1")
        assert created.code_text == "2.01"
        reg_id = created.location_path[1]
        path = f"/rd/{reg_id}"
        assert stranger.call(rd_address(rs.uri), POST, path, query=["lt=1"]).code_text == "4.03"
        assert stranger.call(rd_address(rs.uri), DELETE, path).code_text == "4.03"
        reg = rs.registrations()["nosec-1"]
        assert (reg["lifetime"], reg["updates"]) == (300, 0)
        refused = [e.detail for e in rs.events() if e.kind == "rejected"]
        assert len(refused) == 2
        assert all("host:127.0.0.8 is not the client that registered nosec-1" in d for d in refused)
        assert rs.counters()["refused_principal"] == 2

        assert rebound.call(rd_address(rs.uri), POST, path, query=["lt=60"]).code_text == "2.04"
        assert rs.registrations()["nosec-1"]["lifetime"] == 60
        assert rebound.call(rd_address(rs.uri), DELETE, path).code_text == "2.02"
        assert "nosec-1" not in rs.registrations()


def test_a_dtls_registration_cannot_be_updated_or_deregistered_over_plain_coap(emulator: Emulator) -> None:
    """A registration made over DTLS belongs to its PSK identity: plain CoAP
    with its id gets 4.03 for Update and De-register, the registration stays,
    and the server still reaches the device on its own session (an accepted
    Update would have re-pointed it at the stranger)."""
    dm = Psk("dm-shared", DM_KEY, match="dev-*")
    rs = emulator.registration_server(timing=FAST, psk=[dm])
    config = bootstrap_config(rs.secure_uri, match="dev-*", psk=Psk("{endpoint}", KEY), server_psk=dm)
    bs = emulator.bootstrap_server(config, timing=FAST)
    dev = emulator.device("dev-1", bs.secure_uri, timing=FAST, psk=Psk("{endpoint}", KEY))
    dev.wait_for("registered")
    reg = rs.registrations()["dev-1"]
    path = f"/rd/{reg['id']}"
    with CoapPeer() as stranger:
        assert stranger.call(rd_address(rs.uri), POST, path, query=["lt=1"]).code_text == "4.03"
        assert stranger.call(rd_address(rs.uri), DELETE, path).code_text == "4.03"
    after = rs.registrations()["dev-1"]
    assert (after["id"], after["lifetime"]) == (reg["id"], reg["lifetime"])
    assert rs.request("dev-1", "GET", "/3/0/0", timeout=5)[0] == "2.05"
    assert rs.counters()["refused_principal"] == 2
    assert dev.state == "registered"


def test_registration_ids_are_128_random_bits(emulator: Emulator) -> None:
    """Location ids are 32 hex digits of randomness, not a counter: a
    stranger cannot guess the id of someone else's registration."""
    rs = emulator.registration_server(timing=FAST)
    with CoapPeer() as client:
        ids = [register(client, rs, f"ep-{i}").location_path[1] for i in range(3)]
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert len(set(ids)) == 3
    assert not {"1", "2", "3"} & set(ids)


def test_lifetime_beyond_max_lifetime_is_cut_and_expires(emulator: Emulator) -> None:
    """lt=4294967295 would never expire: with max_lifetime=1 the server keeps
    the registration for 1 s, says so in its event, and drops it."""
    rs = emulator.registration_server(timing=FAST, max_lifetime=1)
    with CoapPeer() as client:
        assert register(client, rs, "forever", lt="4294967295").code_text == "2.01"
    assert rs.registrations()["forever"]["lifetime"] == 1
    (event,) = [e for e in rs.events() if e.kind == "registered"]
    assert "lt 4294967295 cut to max_lifetime 1" in event.detail
    wait_until(lambda: "forever" not in rs.registrations(), 10, "the capped registration to expire")
    assert rs.counters()["lifetimes_capped"] == 1


def test_registrations_beyond_max_registrations_get_503(emulator: Emulator) -> None:
    """At max_registrations a Register of a new endpoint is answered 5.03
    and counted; an endpoint already registered may still register again."""
    rs = emulator.registration_server(timing=FAST, max_registrations=2)
    with CoapPeer() as client:
        assert [register(client, rs, ep).code_text for ep in ("a", "b", "c", "a")] == ["2.01", "2.01", "5.03", "2.01"]
    assert sorted(rs.registrations()) == ["a", "b"]
    assert rs.counters()["refused_full"] == 1


def test_registration_server_events_keep_the_latest_max_events(emulator: Emulator) -> None:
    """A flood of bad requests costs at most max_events events: the oldest
    go first, and how many went is counted."""
    rs = emulator.registration_server(timing=FAST, max_events=3)
    with CoapPeer() as client:
        for i in range(5):
            assert client.call(rd_address(rs.uri), POST, "/rd", query=[f"lt=x{i}"]).code_text == "4.00"
    events = rs.events()
    assert len(events) == 3 and "x2" in events[0].detail
    assert rs.counters()["events_evicted"] == 2
    # A follower numbers events from 0 and misses only what the cap evicted.
    assert [e.detail for e in rs.events_since(0)[1]] == [e.detail for e in events]
    next_index, tail = rs.events_since(4)
    assert next_index == 5 and len(tail) == 1 and "x4" in tail[0].detail
    assert rs.events_since(5) == (5, [])


@pytest.mark.parametrize("kwargs, message", [
    ({"max_lifetime": 0}, "max_lifetime: must be 1..4294967295 seconds, got 0"),
    ({"max_registrations": 0}, "max_registrations: must be >= 1, got 0"),
    ({"max_events": -1}, "max_events: must be >= 1, got -1"),
])
def test_registration_server_limits_are_checked(emulator: Emulator, kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        emulator.registration_server(**kwargs)
