"""OMA ETS bootstrap test cases (PROTOCOL.md, "OMA ETS bootstrap test cases")."""

from __future__ import annotations

import pytest

from coap_peer import (
    ACCEPT,
    DELETE,
    GET,
    LINK_FORMAT,
    POST,
    TLV,
    TLV_OBJECT_INSTANCE,
    TLV_RESOURCE,
    Message,
    ScriptedBootstrapServer,
    tlv_decode,
    tlv_resources,
    uint_option,
)
from helpers import FAST, PATIENT, dead_port, details, kinds, outcome_of, wait_until
from lwm2m_hil import Emulator, bootstrap_config


def test_int0_client_initiated_bootstrap_request_writes_and_finish_all_succeed(emulator: Emulator) -> None:
    """ETS 1.1-int-0: Request Bootstrap is answered 2.04, every Write 2.04, Finish
    2.04; the device leaves bootstrap by Finish and the server records SUCCESS
    with one session, four requests (Delete, two Writes, Finish), no errors."""
    rs = emulator.registration_server(timing=FAST)
    bs = emulator.bootstrap_server(bootstrap_config(rs.uri), timing=FAST)
    dev = emulator.device("dev-1", bs.uri, timing=FAST)
    dev.wait_for("registered", exit="finish")

    timeline = dev.timeline()
    order = [(e.kind, e.detail) for e in timeline]
    assert ("bootstrap_accepted", "2.04") in order
    commands = details(dev, "bootstrap_command")
    assert commands == ["DELETE / -> 2.02", "PUT /0/1 -> 2.04", "PUT /1/0 -> 2.04", "POST /bs (Finish) -> 2.04"]
    # The request was accepted before the first command, the exit came with Finish.
    assert order.index(("bootstrap_accepted", "2.04")) < order.index(("bootstrap_command", commands[0]))
    assert order.index(("bootstrap_command", commands[-1])) < order.index(("bootstrap_exit", "finish"))
    assert dev.exit_counts() == {"finish": 1}
    assert len(kinds(dev, "commit")) == 1

    result = outcome_of(bs, "dev-1")
    assert result["outcome"] == "SUCCESS"
    assert result["reason"] == ""
    assert result["sessions"] == 1
    assert result["requests_sent"] == 4
    assert result["finish_sent"] == 1
    assert result["error_responses"] == 0
    answers = [e.detail.split(" ")[0] for e in result["events"] if e.kind == "rx"]
    assert answers == ["2.02", "2.04", "2.04", "2.04"]

    # The device holds what was written and registered with it.
    assert dev.read("/0/1/0") == rs.uri
    assert dev.read("/0/1/1") is False
    assert dev.read("/1/0/0") == 1
    assert "dev-1" in rs.registrations()


def _account_writes(uri: str, sec_inst: int, srv_inst: int, ssid: int) -> list[dict]:
    return [
        {"path": f"/0/{sec_inst}", "resources": {"0": uri, "1": False, "2": 3, "10": ssid}},
        {"path": f"/1/{srv_inst}", "resources": {"0": ssid, "1": 300, "7": "U"}},
    ]


@pytest.mark.parametrize("delete", [["/"], ["/0/1", "/1/0"]], ids=["delete-root", "delete-instances"])
def test_int4_bootstrap_delete_removes_instances_but_keeps_bootstrap_account_and_device(
    emulator: Emulator, delete: list[str]
) -> None:
    """ETS 1.1-int-4: a device that had a factory server account (/0/1, /1/0) and
    falls back to bootstrap gets Delete (of "/" or of those instances) then a new
    account at /0/5 and /1/3: the old instances are gone, the bootstrap account
    /0/0 and the Device object /3/0 are exactly as before."""
    rs = emulator.registration_server(timing=FAST)
    config = {
        "endpoints": [
            {"match": "*", "delete": delete, "writes": _account_writes(rs.uri, 5, 3, 9), "finish": True}
        ]
    }
    bs = emulator.bootstrap_server(config, timing=FAST)
    # Its factory account points where nothing listens: one failed Register
    # sends it to the bootstrap server (int-7) with /0/1 and /1/0 still present.
    dev = emulator.device(
        "dev-1", bs.uri, timing=FAST, server_uri=f"coap://127.0.0.1:{dead_port()}", register_attempts=1,
        retry_initial=0.05,
    )
    dev.wait_for("registered", exit="finish")

    assert details(dev, "bootstrap_command")[: len(delete)] == [f"DELETE {p} -> 2.02" for p in delete]
    objects = dev.objects()
    assert sorted(objects[0]) == [0, 5]  # /0/1 deleted, /0/5 written
    assert sorted(objects[1]) == [3]  # /1/0 deleted, /1/3 written
    assert objects[0][0] == {0: bs.uri, 1: True, 2: 3, 11: 0}  # bootstrap account untouched
    assert objects[3][0][2] == "dev-1"  # Device object untouched (serial = endpoint)
    assert set(objects[3][0]) == {0, 1, 2, 3, 16}
    assert objects[1][3][0] == 9
    assert rs.registrations()["dev-1"]["object_links"] == "</1/3>,</3/0>"
    assert outcome_of(bs, "dev-1")["outcome"] == "SUCCESS"


@pytest.mark.parametrize("profile,refusal", [("cr", "4.05"), ("1.0", "4.00")])
def test_int4_delete_of_bootstrap_account_or_device_instance_is_refused_and_other_instances_go(
    scripted_bs: ScriptedBootstrapServer, profile: str, refusal: str
) -> None:
    """ETS 1.1-int-4 with a scripted server: DELETE /1/5 removes that instance
    (2.02), DELETE /0/0 (the bootstrap account) and /3/0 are refused (4.05 in
    profile cr, as the change request's table says; 4.00 in 1.0) and both stay."""
    with Emulator() as emu:
        dev = emu.device("dev-1", scripted_bs.uri, timing=PATIENT, profile=profile)
        _, addr, _ = scripted_bs.accept()
        assert scripted_bs.write(addr, "/1/5", tlv_resources({0: 5})).code_text == "2.04"  # /1/5/0 = 5
        assert 5 in dev.objects(staged=True)[1]

        assert scripted_bs.call(addr, DELETE, "/1/5").code_text == "2.02"
        assert scripted_bs.call(addr, DELETE, "/0/0").code_text == refusal
        assert scripted_bs.call(addr, DELETE, "/3/0").code_text == refusal

        staged = dev.objects(staged=True)
        assert 5 not in staged.get(1, {})
        assert staged[0][0][1] is True  # the bootstrap account is still there
        assert 0 in staged[3]
        assert dev.state == "bootstrapping"


def test_int6_device_with_server_account_registers_without_bootstrap(emulator: Emulator) -> None:
    """ETS 1.1-int-6: a device provisioned with a server account (server_uri)
    registers at once: no Request Bootstrap, nothing at the bootstrap server;
    a device without one bootstraps first, then registers."""
    rs = emulator.registration_server(timing=FAST)
    bs = emulator.bootstrap_server(bootstrap_config(rs.uri), timing=FAST)
    provisioned = emulator.device("configured", bs.uri, timing=FAST, server_uri=rs.uri)
    blank = emulator.device("blank", bs.uri, timing=FAST)
    provisioned.wait_for("registered")
    blank.wait_for("registered")

    assert kinds(provisioned, "bootstrap_request") == []
    assert provisioned.bootstrap_exit == "none"
    assert provisioned.exit_counts() == {}
    assert "bootstrapping" not in details(provisioned, "state")
    assert len(kinds(blank, "bootstrap_request")) == 1
    assert blank.bootstrap_exit == "finish"

    outcome_of(bs, "blank")
    assert set(bs.results()) == {"blank"}
    assert set(rs.registrations()) == {"configured", "blank"}


def test_int7_unreachable_server_falls_back_to_bootstrap_then_registers(emulator: Emulator) -> None:
    """ETS 1.1-int-7: a device whose server does not answer gives up after
    register_attempts (2) failed Registers, falls back to bootstrap (a
    "fallback" event), bootstraps and registers with the server it got."""
    rs = emulator.registration_server(timing=FAST)
    bs = emulator.bootstrap_server(bootstrap_config(rs.uri), timing=FAST)
    dev = emulator.device(
        "dev-1", bs.uri, timing=FAST, server_uri=f"coap://127.0.0.1:{dead_port()}",
        register_attempts=2, retry_initial=0.05, retry_jitter=0.0,
    )
    dev.wait_for("registered", exit="finish", timeout=15)

    kinds_in_order = [e.kind for e in dev.timeline()]
    assert len(kinds(dev, "registration_failed")) == 2
    assert len(kinds(dev, "fallback")) == 1
    fallback = kinds_in_order.index("fallback")
    assert kinds_in_order.index("bootstrap_request") > fallback
    assert max(i for i, k in enumerate(kinds_in_order) if k == "registration_failed") < fallback
    assert dev.read("/0/1/0") == rs.uri
    assert outcome_of(bs, "dev-1")["outcome"] == "SUCCESS"
    assert "dev-1" in rs.registrations()


def test_int9_finish_with_inconsistent_configuration_is_answered_406_and_device_stays(
    emulator: Emulator,
) -> None:
    """ETS 1.1-int-9: after Delete / and a Write of only /1/0/5, Finish is
    answered 4.06 Not Acceptable; the server records FINISH_FAILED; the device
    stays in bootstrap with no exit, nothing committed, the write still staged."""
    config = {
        "endpoints": [
            {"match": "*", "delete": ["/"], "writes": [{"path": "/1/0/5", "value": 60}], "finish": True}
        ]
    }
    bs = emulator.bootstrap_server(config, timing=FAST)
    dev = emulator.device("dev-1", bs.uri, timing=FAST)

    result = outcome_of(bs, "dev-1")
    assert result["outcome"] == "FINISH_FAILED"
    assert "4.06" in result["reason"]
    assert result["finish_sent"] == 1

    assert len(kinds(dev, "finish_rejected")) == 1
    assert dev.state == "bootstrapping"
    assert dev.bootstrap_exit == "none"
    assert dev.exit_counts() == {}
    assert kinds(dev, "commit") == []
    assert dev.objects(staged=True)[1][0] == {5: 60}
    assert 1 not in dev.objects()  # nothing reached the live configuration


def test_int9_server_may_correct_an_inconsistent_configuration_and_finish_again(
    scripted_bs: ScriptedBootstrapServer,
) -> None:
    """ETS 1.1-int-9, second half: after a 4.06 the device is still in bootstrap,
    so the server can write the missing account and send Finish again: 2.04,
    exactly one exit, and the device registers."""
    with Emulator() as emu:
        rs = emu.registration_server(timing=FAST)
        dev = emu.device("dev-1", scripted_bs.uri, timing=PATIENT)
        _, addr, _ = scripted_bs.accept()
        assert scripted_bs.call(addr, DELETE, "/").code_text == "2.02"
        assert scripted_bs.write(addr, "/1/0/5", b"60", content_format=0).code_text == "2.04"
        assert scripted_bs.finish(addr).code_text == "4.06"
        assert dev.state == "bootstrapping"

        scripted_bs.write_account(addr, rs.uri, ssid=1)
        assert scripted_bs.finish(addr).code_text == "2.04"
        dev.wait_for("registered", exit="finish")
        assert dev.exit_counts() == {"finish": 1}
        assert dev.read("/1/0/5") == 60


def test_int5_server_initiated_bootstrap_via_execute_1_x_9(emulator: Emulator) -> None:
    """ETS 1.1-int-5: a registered device's server executes /1/0/9 (Bootstrap-
    Request Trigger): the device answers 2.04, requests bootstrap, gets a new
    account from the bootstrap server and registers there."""
    rs = emulator.registration_server(timing=FAST)
    bs = emulator.bootstrap_server(bootstrap_config(rs.uri, ssid=7), timing=FAST)
    with ScriptedBootstrapServer() as old_server:  # plays the device's first LwM2M server
        dev = emulator.device("dev-1", bs.uri, timing=PATIENT, server_uri=old_server.uri)
        reg, addr = old_server.wait_request(POST, "/rd")
        old_server.respond(reg, addr, "2.01", location_path=["rd", "x"])
        dev.wait_for("registered")
        assert kinds(dev, "bootstrap_request") == []

        assert old_server.call(addr, POST, "/1/0/9").code_text == "2.04"
        dev.wait_for("registered", exit="finish")

    assert len(kinds(dev, "bootstrap_trigger")) == 1
    assert len(kinds(dev, "bootstrap_request")) == 1
    assert dev.read("/1/0/0") == 7
    assert outcome_of(bs, "dev-1")["outcome"] == "SUCCESS"
    assert "dev-1" in rs.registrations()


def test_int8_bootstrap_read_and_discover_in_profile_1_1(scripted_bs: ScriptedBootstrapServer) -> None:
    """ETS 1.1-int-8: in profile 1.1 the bootstrap server may read /1 (2.05, TLV)
    and discover / (2.05, link format with lwm2m="1.1"); reading the Device
    object is not a Bootstrap-Read (4.05)."""
    with Emulator() as emu:
        emu.device("dev-1", scripted_bs.uri, timing=PATIENT, profile="1.1")
        _, addr, _ = scripted_bs.accept()
        assert scripted_bs.write(addr, "/1/0", tlv_resources({0: 7, 1: 60})).code_text == "2.04"

        read = scripted_bs.call(addr, GET, "/1")
        assert read.code_text == "2.05"
        assert read.content_format == TLV
        ((kind, inst, body),) = tlv_decode(read.payload)
        assert (kind, inst) == (TLV_OBJECT_INSTANCE, 0)
        assert tlv_decode(body) == [(TLV_RESOURCE, 0, b"\x07"), (TLV_RESOURCE, 1, b"\x3c")]

        disc = scripted_bs.call(addr, GET, "/")
        assert disc.code_text == "2.05"
        assert disc.content_format == LINK_FORMAT
        links = disc.payload.decode()
        assert links.startswith('</>;lwm2m="1.1"') or links.startswith("</>;lwm2m=1.1")
        assert "</1/0>;ssid=7" in links
        assert "</3/0>" in links

        assert scripted_bs.call(addr, GET, "/3").code_text == "4.05"


def test_bootstrap_read_is_refused_in_profile_cr(scripted_bs: ScriptedBootstrapServer) -> None:
    """Profile cr predates Bootstrap-Read and -Discover: GET from the bootstrap
    server is answered 4.05 Method Not Allowed."""
    with Emulator() as emu:
        emu.device("dev-1", scripted_bs.uri, timing=PATIENT)
        _, addr, _ = scripted_bs.accept()
        req = Message(0, GET, scripted_bs.new_mid(), scripted_bs.new_token(), [(ACCEPT, uint_option(LINK_FORMAT))])
        scripted_bs.send(req, addr)
        assert scripted_bs.wait_response(req).code_text == "4.05"
        assert scripted_bs.call(addr, GET, "/1").code_text == "4.05"


def test_10_server_initiated_bootstrap_writes_without_a_request_then_finish(
    scripted_bs: ScriptedBootstrapServer,
) -> None:
    """Profile 1.0, server-initiated bootstrap (PROTOCOL.md): after a first
    bootstrap the device is registered; the bootstrap server then writes a
    new account to it without any Request Bootstrap and sends Finish. The
    device opens bootstrap on that Write, commits on Finish, leaves with a
    second "finish" exit and registers at the new server."""
    with Emulator() as emu:
        first = emu.registration_server(timing=FAST)
        second = emu.registration_server(timing=FAST)
        dev = emu.device("dev-1", scripted_bs.uri, timing=PATIENT, profile="1.0", bootstrap_linger=30)
        _, addr, _ = scripted_bs.accept()
        scripted_bs.write_account(addr, first.uri)
        assert scripted_bs.finish(addr).code_text == "2.04"
        dev.wait_for("registered", exit="finish")
        wait_until(lambda: first.registrations().get("dev-1"), what="the first registration")

        scripted_bs.write_account(addr, second.uri)  # no request came before it
        assert scripted_bs.finish(addr).code_text == "2.04"
        wait_until(lambda: second.registrations().get("dev-1"), what="the registration at the new server")
        assert dev.exit_counts() == {"finish": 2}
        assert len(kinds(dev, "commit")) == 2
        assert len(kinds(dev, "bootstrap_server_initiated")) == 1
        assert len(kinds(dev, "bootstrap_request")) == 1
        assert dev.read("/0/1/0") == second.uri
