"""Bad input on every face: the wire, the configuration, the Python API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coap_peer import (
    DELETE,
    GET,
    POST,
    PUT,
    TLV,
    TLV_RESOURCE,
    CoapPeer,
    ScriptedBootstrapServer,
    tlv,
    tlv_resources,
)
from helpers import FAST, PATIENT, details, kinds, outcome_of
from lwm2m_hil import CoapTiming, Emulator, bootstrap_config

# --- on the wire: device side -------------------------------------------------


def test_unknown_endpoint_is_rejected_with_400_and_no_bootstrap_config(emulator: Emulator) -> None:
    """A device whose name no configuration entry matches gets 4.00 to its
    Request Bootstrap; the server records NO_BOOTSTRAP_CONFIG; the device
    exits "rejected" and, with max_bootstrap_attempts=1, ends "failed"."""
    rs = emulator.registration_server(timing=FAST)
    bs = emulator.bootstrap_server(bootstrap_config(rs.uri, match="sensor-*"), timing=FAST)
    dev = emulator.device("dev-1", bs.uri, timing=FAST, max_bootstrap_attempts=1)
    dev.wait_for("failed", exit="rejected")

    assert ("rx", "4.00") in [(e.kind, e.detail) for e in dev.timeline()]
    assert dev.exit_counts() == {"rejected": 1}
    assert kinds(dev, "commit") == []
    result = outcome_of(bs, "dev-1")
    assert result["outcome"] == "NO_BOOTSTRAP_CONFIG"
    assert "dev-1" in result["reason"]
    assert result["requests_sent"] == 0
    assert rs.registrations() == {}


def test_rejected_device_retries_with_backoff(emulator: Emulator) -> None:
    """A rejected device tries again after its back-off (retry_initial 0.1 s,
    factor 2, no jitter): attempts 1, 2, 3 spaced at least 0.1 s and 0.2 s."""
    bs = emulator.bootstrap_server(bootstrap_config("coap://127.0.0.1:9", match="nobody"), timing=FAST)
    dev = emulator.device(
        "dev-1", bs.uri, timing=FAST, retry_initial=0.1, retry_factor=2, retry_jitter=0.0, max_bootstrap_attempts=3
    )
    dev.wait_for("failed", timeout=15)
    times = [e.time for e in kinds(dev, "bootstrap_request")]
    assert len(times) == 3
    assert times[1] - times[0] >= 0.1 - 0.002
    assert times[2] - times[1] >= 0.2 - 0.002
    assert dev.exit_counts() == {"rejected": 3}
    assert bs.results()["dev-1"]["sessions"] == 3


def test_malformed_tlv_write_is_400_and_staged_config_unchanged(scripted_bs: ScriptedBootstrapServer) -> None:
    """A Write whose TLV is broken (first resource fine, second truncated) is
    answered 4.00 and applies nothing, not even the good resource: the staged
    configuration is exactly what it was. The session goes on: a good Write
    and Finish still work."""
    with Emulator() as emu:
        rs = emu.registration_server(timing=FAST)
        dev = emu.device("dev-1", scripted_bs.uri, timing=PATIENT)
        _, addr, _ = scripted_bs.accept()
        before = dev.objects(staged=True)

        good_then_truncated = tlv(TLV_RESOURCE, 0, b"\x07") + tlv(TLV_RESOURCE, 1, b"\x00\x00\x01\x2c")[:-2]
        resp = scripted_bs.write(addr, "/1/0", good_then_truncated)
        assert resp.code_text == "4.00"
        assert dev.objects(staged=True) == before

        # A resource the Server object does not define, a string where an
        # integer goes, an unknown object: refused, nothing applied.
        assert scripted_bs.write(addr, "/1/0", tlv_resources({0: 1, 1: "sixty"})).code_text == "4.00"
        assert scripted_bs.write(addr, "/99/0", tlv_resources({0: 1})).code_text == "4.04"
        assert scripted_bs.write(addr, "/x/0", tlv_resources({0: 1})).code_text == "4.00"
        assert dev.objects(staged=True) == before
        assert dev.state == "bootstrapping"

        scripted_bs.write_account(addr, rs.uri)
        assert scripted_bs.finish(addr).code_text == "2.04"
        dev.wait_for("registered", exit="finish")
        assert "PUT /1/0 -> 4.00" in details(dev, "bootstrap_command")


def test_write_with_unsupported_content_format_is_415(scripted_bs: ScriptedBootstrapServer) -> None:
    """A Write in a content format the device does not decode (here 9999) is
    answered 4.15 Unsupported Content-Format and applies nothing."""
    with Emulator() as emu:
        dev = emu.device("dev-1", scripted_bs.uri, timing=PATIENT)
        _, addr, _ = scripted_bs.accept()
        before = dev.objects(staged=True)
        resp = scripted_bs.write(addr, "/1/0", tlv_resources({0: 1}), content_format=9999)
        assert resp.code_text == "4.15"
        assert dev.objects(staged=True) == before


def test_bootstrap_commands_from_a_stranger_address_are_not_accepted(scripted_bs: ScriptedBootstrapServer) -> None:
    """Only the bootstrap server may use the bootstrap interface: a Write sent
    to the device from another address does not change the staged config."""
    with Emulator() as emu:
        dev = emu.device("dev-1", scripted_bs.uri, timing=PATIENT)
        _, addr, _ = scripted_bs.accept()
        before = dev.objects(staged=True)
        with CoapPeer() as stranger:
            stranger.send_request(addr, PUT, "/1/0", payload=tlv_resources({0: 1, 1: 60}), content_format=TLV)
            try:
                resp = stranger.receive(timeout=0.5)[0]
                assert resp.code_text[0] != "2", f"a stranger's write was accepted: {resp}"
            except TimeoutError:
                pass  # dropped: the device's session socket only hears its server
        assert dev.objects(staged=True) == before


# --- on the wire: server side (a scripted client) -------------------------------


def test_bootstrap_server_answers_malformed_requests_and_logs_them(emulator: Emulator) -> None:
    """A raw client: POST /bs without ep is 4.00, GET /bs 4.05, POST /other
    4.04; each leaves a "rejected" event and no endpoint result."""
    bs = emulator.bootstrap_server(bootstrap_config("coap://127.0.0.1:9"), timing=FAST)
    host, port = bs.uri.removeprefix("coap://").rsplit(":", 1)
    server = (host, int(port))
    with CoapPeer() as client:
        assert client.call(server, POST, "/bs").code_text == "4.00"
        assert client.call(server, POST, "/bs", query=["ep="]).code_text == "4.00"
        assert client.call(server, GET, "/bs").code_text == "4.05"
        assert client.call(server, POST, "/other", query=["ep=x"]).code_text == "4.04"
    assert bs.results() == {}
    rejected = [e.detail for e in bs.events() if e.kind == "rejected"]
    assert len(rejected) == 4
    assert any("no endpoint name" in d for d in rejected)


def test_registration_server_answers_malformed_requests(emulator: Emulator) -> None:
    """A raw client against the registration server: Register without ep or
    with lt=0 is 4.00, with a non-link-format payload 4.00, Update/DELETE of
    an unknown id 4.04; a good Register is 2.01 with Location-Path rd/<id>,
    and its DELETE 2.02."""
    rs = emulator.registration_server(timing=FAST)
    host, port = rs.uri.removeprefix("coap://").rsplit(":", 1)
    server = (host, int(port))
    with CoapPeer() as client:
        assert client.call(server, POST, "/rd", query=["lt=60"]).code_text == "4.00"
        assert client.call(server, POST, "/rd", query=["ep=a", "lt=0"]).code_text == "4.00"
        assert client.call(server, POST, "/rd", query=["ep=a", "lt=x"]).code_text == "4.00"
        assert client.call(server, POST, "/rd", query=["ep=a"], payload=b"{}", content_format=50).code_text == "4.00"
        assert client.call(server, POST, "/rd/999").code_text == "4.04"
        assert client.call(server, DELETE, "/rd/999").code_text == "4.04"
        assert rs.registrations() == {}

        created = client.call(server, POST, "/rd", query=["ep=raw", "lt=60", "lwm2m=1.1", "b=U"],
                              payload=b"</1/0>,</3/0>", content_format=40)
        assert created.code_text == "2.01"
        assert created.location_path[0] == "rd" and len(created.location_path) == 2
        reg = rs.registrations()["raw"]
        assert (reg["lifetime"], reg["lwm2m_version"], reg["object_links"]) == (60, "1.1", "</1/0>,</3/0>")
        assert client.call(server, DELETE, "/" + "/".join(created.location_path)).code_text == "2.02"
        assert rs.registrations() == {}


# --- configuration ---------------------------------------------------------------

BAD_CONFIGS = [
    (
        {"endpoints": [{"match": "*", "servers": [{"ssid": 1, "uri": "coap://127.0.0.1:1", "lifetime": "abc"}]}]},
        "endpoints[0].servers[0].lifetime",
    ),
    (
        {"endpoints": [{"match": "*", "servers": [{"ssid": 70000, "uri": "coap://127.0.0.1:1"}]}]},
        "endpoints[0].servers[0].ssid",
    ),
    (
        {"endpoints": [{"match": "a"}, {"match": "*", "writes": [{"path": "/x", "value": 1}]}]},
        "endpoints[1].writes[0].path",
    ),
    ({"endpoints": [{"match": "*", "foo": 1}]}, 'endpoints[0]: unknown key "foo"'),
    ({"endpoints": [{"match": "*", "profile": "2.0"}]}, "endpoints[0].profile"),
    ({"endpoints": [{"servers": []}]}, 'endpoints[0]: missing "match"'),
    ({"endpoints": [{"match": "*", "writes": [{"path": "/3/0/4", "value": 1}]}]}, "endpoints[0].writes[0]"),
]


@pytest.mark.parametrize("config,field", BAD_CONFIGS, ids=[f for _, f in BAD_CONFIGS])
def test_invalid_config_dict_raises_valueerror_naming_the_field(
    emulator: Emulator, config: dict, field: str
) -> None:
    """An invalid bootstrap configuration given as a dict is refused at load
    time with a ValueError whose message names the offending field."""
    with pytest.raises(ValueError) as err:
        emulator.bootstrap_server(config)
    assert field in str(err.value)


def test_invalid_config_file_raises_valueerror_naming_the_field(emulator: Emulator, tmp_path: Path) -> None:
    """The same from a JSON file (path or str): the message names the field."""
    path = tmp_path / "bs.json"
    path.write_text(json.dumps(BAD_CONFIGS[0][0]))
    for arg in (path, str(path)):
        with pytest.raises(ValueError, match=r"endpoints\[0\]\.servers\[0\]\.lifetime"):
            emulator.bootstrap_server(arg)


def test_config_that_is_not_json_names_line_and_column(emulator: Emulator, tmp_path: Path) -> None:
    """A file that is not JSON: ValueError saying so, with line and column."""
    path = tmp_path / "bs.json"
    path.write_text('{"endpoints": [\n  {"match": }]}')
    with pytest.raises(ValueError, match="not valid JSON.*line 2"):
        emulator.bootstrap_server(path)


def test_missing_config_file_raises_filenotfounderror(emulator: Emulator, tmp_path: Path) -> None:
    """A path to a file that does not exist is a FileNotFoundError naming it."""
    with pytest.raises(FileNotFoundError, match="nope.json"):
        emulator.bootstrap_server(tmp_path / "nope.json")


# --- Python arguments --------------------------------------------------------------

BS = "coap://127.0.0.1:9"


@pytest.mark.parametrize(
    "kwargs,error,field",
    [
        ({"profile": "2.0"}, ValueError, "profile"),
        ({"profile": 5}, TypeError, "profile"),
        ({"timing": CoapTiming(ack_timeout=-1)}, ValueError, "ack_timeout"),
        ({"timing": CoapTiming(max_retransmit=99)}, ValueError, "max_retransmit"),
        ({"finish_timeout": -1}, ValueError, "finish_timeout"),
        ({"hold_off": -1}, ValueError, "hold_off"),
        ({"retry_jitter": 2.0}, ValueError, "retry_jitter"),
        ({"register_attempts": 0}, ValueError, "register_attempts"),
        ({"server_ssid": 0, "server_uri": "coap://127.0.0.1:9"}, ValueError, "server_ssid"),
        ({"no_such_option": 1}, TypeError, "no_such_option"),
    ],
)
def test_wrong_device_arguments_raise_naming_the_field(
    emulator: Emulator, kwargs: dict, error: type, field: str
) -> None:
    """A wrong device option is a ValueError (bad value) or TypeError (unknown
    option, wrong type) whose message names it; no device is created."""
    with pytest.raises(error, match=field):
        emulator.device("dev-1", BS, **kwargs)
    assert emulator.summary()["devices"] == 0


def test_wrong_server_and_emulator_arguments_raise_naming_the_field(emulator: Emulator) -> None:
    """Servers and the emulator check their arguments the same way."""
    with pytest.raises(ValueError, match="profile"):
        emulator.bootstrap_server(bootstrap_config(BS), profile="2.0")
    with pytest.raises(ValueError, match="ack_timeout"):
        emulator.registration_server(timing=CoapTiming(ack_timeout=-1))
    with pytest.raises(ValueError, match="listen"):
        emulator.registration_server(listen="nowhere")
    with pytest.raises(ValueError, match="count"):
        emulator.fleet(0, BS)
    with pytest.raises(ValueError, match="seed"):
        Emulator(seed=-1)
    with pytest.raises(ValueError, match="threads"):
        Emulator(threads=0)
    with pytest.raises(ValueError, match="state"):
        emulator.device("dev-1", BS, start=False).wait_for("sleeping")


def test_closed_emulator_refuses_use_instead_of_crashing() -> None:
    """After close(), devices and servers raise RuntimeError (their handles
    point into the stopped runtime) instead of reading freed memory."""
    emu = Emulator()
    rs = emu.registration_server(timing=FAST)
    dev = emu.device("dev-1", BS, timing=FAST, start=False)
    emu.close()
    emu.close()  # idempotent
    for use in (lambda: dev.state, dev.timeline, dev.objects, rs.registrations, lambda: emu.device("d", BS)):
        with pytest.raises(RuntimeError, match="closed"):
            use()
    assert rs.uri.startswith("coap://127.0.0.1:")
    assert "closed" in repr(dev)


def test_unknown_resources_in_a_write_are_ignored(scripted_bs: ScriptedBootstrapServer) -> None:
    """Write creates or replaces; resources the object does not define (here
    /1/0/200) are ignored, the known ones are written: 2.04."""
    with Emulator() as emu:
        dev = emu.device("dev-1", scripted_bs.uri, timing=PATIENT)
        _, addr, _ = scripted_bs.accept()
        assert scripted_bs.write(addr, "/1/0", tlv_resources({0: 1, 1: 60, 200: 5})).code_text == "2.04"
        assert dev.objects(staged=True)[1][0] == {0: 1, 1: 60}


def test_unreachable_bootstrap_server_is_not_a_bootstrap_exit(emulator: Emulator) -> None:
    """A bootstrap server that cannot be reached is a failed request, not an
    exit: after max_bootstrap_attempts (2) the device is "failed" with exit
    "none" and no exit counted."""
    from helpers import dead_port

    dev = emulator.device(
        "dev-1", f"coap://127.0.0.1:{dead_port()}", timing=FAST, max_bootstrap_attempts=2, retry_initial=0.05
    )
    dev.wait_for("failed", timeout=15)
    assert dev.bootstrap_exit == "none"
    assert dev.exit_counts() == {}
    assert len(kinds(dev, "bootstrap_request")) == 2
    assert len(kinds(dev, "bootstrap_failed")) == 2


@pytest.mark.parametrize(
    "field,uri",
    [
        ("bootstrap_uri", "garbage"),
        ("bootstrap_uri", "http://127.0.0.1:5683"),
        ("bootstrap_uri", "coap://127.0.0.1"),
        ("bootstrap_uri", "coap://127.0.0.1:99999"),
        ("bootstrap_uri", "coap://some.host:5683"),
        ("bootstrap_uri", "coap://[::1]:5683"),
        ("server_uri", "coap://nohost:1"),
    ],
)
def test_unusable_uri_is_refused_when_the_device_is_created(emulator: Emulator, field: str, uri: str) -> None:
    """A URI a device could never reach (not coap/coaps, no port, a host name,
    IPv6 while devices send from 127.1.x.y) is a ValueError naming the field
    when the device is created, not a failure found later on its timeline."""
    kwargs = {"server_uri": uri} if field == "server_uri" else {}
    bootstrap = uri if field == "bootstrap_uri" else BS
    with pytest.raises(ValueError, match=field):
        emulator.device("dev-1", bootstrap, **kwargs)
    assert emulator.summary()["devices"] == 0


# --- bytes that are not UTF-8 ------------------------------------------------------
# LwM2M strings and endpoint names are UTF-8; a peer may send anything.


def test_non_utf8_endpoint_name_does_not_break_server_inspection(emulator: Emulator) -> None:
    """A raw client that registers and requests bootstrap with ep=b"\\xff" must
    not make the servers unreadable from Python: either the request is refused
    (4.00) or the name comes back escaped; results(), registrations() and
    events() keep working."""
    from coap_peer import CON, URI_PATH, URI_QUERY, Message

    rs = emulator.registration_server(timing=FAST)
    bs = emulator.bootstrap_server(bootstrap_config(rs.uri), timing=FAST)
    with CoapPeer() as client:
        for uri, path in ((rs.uri, b"rd"), (bs.uri, b"bs")):
            host, port = uri.removeprefix("coap://").rsplit(":", 1)
            msg = Message(CON, POST, client.new_mid(), client.new_token(), [(URI_PATH, path), (URI_QUERY, b"ep=\xff")])
            client.send(msg, (host, int(port)))
            client.wait_response(msg)
    rs.registrations()
    rs.events()
    bs.results()
    bs.events()


def test_string_write_that_is_not_utf8_is_refused(scripted_bs: ScriptedBootstrapServer) -> None:
    """A Write of a String resource (/0/1/0, plain text) whose bytes are not
    UTF-8 is answered 4.00, and the device's object tree stays readable."""
    with Emulator() as emu:
        dev = emu.device("dev-1", scripted_bs.uri, timing=PATIENT)
        _, addr, _ = scripted_bs.accept()
        resp = scripted_bs.write(addr, "/0/1/0", b"coap://\xff\xfe", content_format=0)
        dev.objects(staged=True)
        assert resp.code_text == "4.00"
