"""Registration after bootstrap (PROTOCOL.md, "After bootstrap the client registers")."""

from __future__ import annotations

import time

import pytest

from coap_peer import CON, DELETE, GET, LINK_FORMAT, POST, ScriptedBootstrapServer
from helpers import FAST, PATIENT, kinds, outcome_of, wait_until
from lwm2m_hil import Emulator, bootstrap_config


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
