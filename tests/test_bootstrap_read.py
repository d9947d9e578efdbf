"""Bootstrap-Read and -Discover from the embedded bootstrap server (ETS
1.1-int-8), and server-initiated bootstrap (LwM2M 1.0) started from Python.
Real libcoap over real sockets: native devices, and ScriptedClient as a
third-party client that answers by script."""

from __future__ import annotations

from typing import Any

import pytest

from coap_peer import ACCEPT, GET, LINK_FORMAT, PUT, TLV, ScriptedClient, tlv_decode, tlv_instance
from helpers import FAST, dead_port, kinds, outcome_of, wait_until
from lwm2m_hil import Emulator, bootstrap_config


def _looking(server_uri: str, profile: str, discover: list[Any], read: list[Any], ssid: int = 1) -> dict[str, Any]:
    """bootstrap_config() with Discover and Read steps and a fixed profile."""
    config = bootstrap_config(server_uri, ssid=ssid)
    config["endpoints"][0].update(profile=profile, discover=discover, read=read)
    return config


def _fallback_device(emu: Emulator, bs_uri: str, profile: str) -> Any:
    """A device whose factory account (ssid 5, lifetime 77) points where
    nothing listens: one failed Register sends it to the bootstrap server
    (int-7) with /0/1 and /1/0 still there to be discovered and read."""
    return emu.device(
        "dev-1", bs_uri, timing=FAST, profile=profile, server_uri=f"coap://127.0.0.1:{dead_port()}",
        server_ssid=5, server_lifetime=77, register_attempts=1, retry_initial=0.05,
    )


def test_int8_native_11_device_answers_discover_and_read_before_the_writes(emulator: Emulator) -> None:
    """ETS 1.1-int-8 against the embedded server: the configuration's
    discover "/" and read "/1" go first; results() records the answers (link
    format as text with lwm2m="1.1" and the factory account's ssid and uri; TLV as
    hex that decodes to /1/0 with ssid 5 and lifetime 77); reading /2 (no
    ACL instances) answers 2.05 too; the session then writes and finishes."""
    rs = emulator.registration_server(timing=FAST)
    bs = emulator.bootstrap_server(_looking(rs.uri, "1.1", ["/"], ["/1", "/1/0"]), timing=FAST)
    dev = _fallback_device(emulator, bs.uri, "1.1")
    dev.wait_for("registered", exit="finish")

    result = outcome_of(bs, "dev-1")
    assert result["outcome"] == "SUCCESS"
    reads = result["reads"]
    assert [(r["op"], r["path"], r["code"], r["content_format"]) for r in reads] == [
        ("discover", "/", "2.05", LINK_FORMAT),
        ("read", "/1", "2.05", TLV),
        ("read", "/1/0", "2.05", TLV),
    ]
    links = reads[0]["payload"]
    assert links.startswith('</>;lwm2m="1.1"'), links
    assert "</0/1>;ssid=5;uri=\"coap://127.0.0.1:" in links  # 1.1 names the server
    assert "</1/0>;ssid=5" in links and "</3/0>" in links
    ((kind, inst, body),) = tlv_decode(bytes.fromhex(reads[1]["payload"]))
    assert inst == 0
    resources = {ident: value for _, ident, value in tlv_decode(body)}
    assert resources[0] == b"\x05" and resources[1] == b"\x4d"
    assert reads[1]["payload_bytes"] == bytes.fromhex(reads[1]["payload"])
    # The Reads saw what the device held before this session wrote over it.
    assert dev.read("/1/0/0") == 1
    commands = [e.detail for e in kinds(dev, "bootstrap_command")]
    assert commands[:3] == ["GET / -> 2.05", "GET /1 -> 2.05", "GET /1/0 -> 2.05"]


def test_native_10_device_refuses_bootstrap_read_optional_goes_on_required_fails(emulator: Emulator) -> None:
    """LwM2M 1.0 has Bootstrap-Discover but no Bootstrap-Read: the device
    answers Discover 2.05 with lwm2m="1.0" and Read 4.05. Marked optional,
    the 4.05 is recorded and the session succeeds; not optional, the session
    ends READ_REJECTED, naming the Read."""
    rs = emulator.registration_server(timing=FAST)
    config = _looking(rs.uri, "1.0", ["/"], [{"path": "/1", "optional": True}])
    strict = dict(config["endpoints"][0], match="strict-*", read=["/1"])
    config["endpoints"].insert(0, strict)
    bs = emulator.bootstrap_server(config, timing=FAST)
    dev = emulator.device("dev-1", bs.uri, timing=FAST, profile="1.0")
    dev.wait_for("registered", exit="finish")
    result = outcome_of(bs, "dev-1")
    assert result["outcome"] == "SUCCESS"
    assert [(r["op"], r["code"]) for r in result["reads"]] == [("discover", "2.05"), ("read", "4.05")]
    assert result["reads"][0]["payload"].startswith('</>;lwm2m="1.0"')
    assert result["error_responses"] == 1

    emulator.device("strict-1", bs.uri, timing=FAST, profile="1.0")
    strict_result = outcome_of(bs, "strict-1")
    assert strict_result["outcome"] == "READ_REJECTED"
    assert strict_result["reason"] == "GET /1 (accept 11542) answered 4.05"


def test_scripted_client_answers_are_recorded_as_text_or_hex() -> None:
    """A third-party client answering by script: the server's Discover
    carries Accept 40, its Read Accept 11542 (TLV, no pct); the answers are
    recorded as sent, link format as text, TLV as hex, an error code too."""
    link = b'</>;lwm2m="1.0",</0/0>,</1/3>;ssid=9'
    body = tlv_instance(3, {0: 9, 1: 60})
    answers = {"/": ("2.05", LINK_FORMAT, link), "/1": ("2.05", TLV, body), "/2": ("4.04", 0, b"")}
    with Emulator() as emu:
        config = _looking("coap://127.0.0.1:9", "1.1", ["/"], ["/1", {"path": "/2", "optional": True}])
        bs = emu.bootstrap_server(config, timing=FAST)
        host, port = bs.uri.removeprefix("coap://").rsplit(":", 1)
        with ScriptedClient("peer-1", answers=answers) as client:
            assert client.bootstrap((host, int(port))) == "finish"
        result = outcome_of(bs, "peer-1")
    gets = [m for m in client.commands if m.code == GET]
    assert [(m.uri_path, int.from_bytes(m.option_values(ACCEPT)[0], "big")) for m in gets] == [
        ("/", LINK_FORMAT), ("/1", TLV), ("/2", TLV),
    ]
    assert result["outcome"] == "SUCCESS"
    assert result["reads"][0]["payload"] == link.decode()
    assert result["reads"][1]["payload"] == body.hex()
    assert (result["reads"][2]["code"], result["reads"][2]["payload"]) == ("4.04", "")


def test_server_initiated_10_native_device_gets_new_account_and_registers_there(emulator: Emulator) -> None:
    """Server-initiated bootstrap (1.0) from Python: after a first bootstrap
    the device is registered; the server, reconfigured with a new account,
    start_session()s it over the device's lingering bootstrap session. No
    Request Bootstrap comes; the device opens bootstrap on the first Write,
    commits on Finish (a second "finish" exit) and registers at the new
    server; the server's second session of dev-1 ends SUCCESS."""
    first = emulator.registration_server(timing=FAST)
    second = emulator.registration_server(timing=FAST)
    bs = emulator.bootstrap_server(bootstrap_config(first.uri), timing=FAST)
    dev = emulator.device("dev-1", bs.uri, timing=FAST, profile="1.0", bootstrap_linger=60)
    dev.wait_for("registered", exit="finish")
    assert outcome_of(bs, "dev-1")["sessions"] == 1

    bs.reconfigure(_looking(second.uri, "1.0", ["/"], [], ssid=2))
    bs.start_session("dev-1")
    result = outcome_of(bs, "dev-1")
    assert result["outcome"] == "SUCCESS", result["reason"]
    assert result["sessions"] == 2
    assert result["events"][0].detail == "server-initiated bootstrap"
    assert result["reads"][0]["payload"].startswith('</>;lwm2m="1.0"')
    assert "</1/0>;ssid=1" in result["reads"][0]["payload"]  # what the first session wrote
    wait_until(lambda: second.registrations().get("dev-1"), what="the registration at the new server")
    assert dev.exit_counts() == {"finish": 2}
    assert len(kinds(dev, "bootstrap_server_initiated")) == 1
    assert len(kinds(dev, "bootstrap_request")) == 1
    assert dev.read("/1/0/0") == 2


def test_server_initiated_10_scripted_client_answers_without_having_asked() -> None:
    """A scripted 1.0 client bootstraps once; start_session() then sends it
    the commands and Finish again with no request in between."""
    with Emulator() as emu:
        bs = emu.bootstrap_server(bootstrap_config("coap://127.0.0.1:9"), timing=FAST)
        host, port = bs.uri.removeprefix("coap://").rsplit(":", 1)
        with ScriptedClient("peer-1") as client:
            assert client.bootstrap((host, int(port))) == "finish"
            assert outcome_of(bs, "peer-1")["outcome"] == "SUCCESS"
            before = len(client.commands)
            bs.start_session("peer-1")
            assert client.serve() == "finish"
            assert [m.code for m in client.commands[before:]].count(PUT) == 2
        result = outcome_of(bs, "peer-1")
    assert (result["outcome"], result["sessions"]) == ("SUCCESS", 2)


def test_start_session_refused_when_the_server_has_no_address_for_the_endpoint(emulator: Emulator) -> None:
    """start_session() of an endpoint that never came, or one whose session
    is still running, raises ValueError saying why; nothing is recorded for
    the stranger."""
    bs = emulator.bootstrap_server(bootstrap_config("coap://127.0.0.1:9"), timing=FAST)
    with pytest.raises(ValueError, match="'nobody' has never come to this bootstrap server"):
        bs.start_session("nobody")
    assert "nobody" not in bs.results()


def test_server_initiated_after_the_device_closed_its_bootstrap_session_times_out(emulator: Emulator) -> None:
    """The server still holds the session, but the device closed its end
    when bootstrap_linger ran out: start_session() starts, nobody answers,
    and the session ends TIMEOUT (or REQUEST_FAILED on an ICMP error),
    naming the unanswered request; the device stays registered and never
    saw a command."""
    rs = emulator.registration_server(timing=FAST)
    bs = emulator.bootstrap_server(bootstrap_config(rs.uri), timing=FAST)
    dev = emulator.device("dev-1", bs.uri, timing=FAST, profile="1.0", bootstrap_linger=0.05)
    dev.wait_for("registered", exit="finish")
    outcome_of(bs, "dev-1")
    wait_until(lambda: kinds(dev, "bootstrap_session_released"), what="the end of the linger")

    bs.start_session("dev-1")
    result = outcome_of(bs, "dev-1", timeout=30)
    assert result["outcome"] in ("TIMEOUT", "REQUEST_FAILED"), result
    assert result["reason"].startswith("DELETE /"), result["reason"]
    assert dev.state == "registered"
    assert kinds(dev, "bootstrap_server_initiated") == []
    assert dev.exit_counts() == {"finish": 1}
