"""The embedded bootstrap server against a scripted raw-CoAP client
(PROTOCOL.md, "Bootstrap server behaviour")."""

from __future__ import annotations

import pytest

from coap_peer import (
    CON,
    DELETE,
    NON,
    POST,
    PUT,
    RST,
    TLV,
    TLV_RESOURCE,
    Address,
    CoapPeer,
    Message,
    code,
    request,
    tlv_decode,
    SENML_CBOR,
    SENML_JSON,
    ScriptedClient,
)
from helpers import FAST, outcome_of, wait_until
from lwm2m_hil import BootstrapServer, CoapTiming, Emulator, Psk, bootstrap_config

RS_URI = "coap://127.0.0.1:5999"


def address_of(uri: str) -> Address:
    host, port = uri.removeprefix("coap://").rsplit(":", 1)
    return host, int(port)


def request_bootstrap(client: CoapPeer, bs: BootstrapServer, ep: str, *query: str) -> Message:
    """POST /bs?ep=EP[&query...] from the raw client; the server's answer."""
    return client.call(address_of(bs.uri), POST, "/bs", query=[f"ep={ep}", *query])


def next_command(client: CoapPeer, bs: BootstrapServer) -> tuple[Message, Address]:
    msg, addr = client.wait_request()
    # Wakaama's client accepts commands only from the address it contacted.
    assert addr == address_of(bs.uri)
    assert msg.type == CON
    return msg, addr


def test_server_sends_deletes_writes_then_finish_one_at_a_time(emulator: Emulator) -> None:
    """After 2.04 to Request Bootstrap (piggybacked), the server sends, from
    its own address and one CON at a time: DELETE /, PUT /0/1 (TLV Security:
    URI, bootstrap false, NoSec, ssid), PUT /1/0 (TLV Server: ssid, lifetime),
    then Finish (POST /bs, no payload); all answered: SUCCESS."""
    bs = emulator.bootstrap_server(bootstrap_config(RS_URI, ssid=3, lifetime=77), timing=FAST)
    with CoapPeer() as client:
        ack = request_bootstrap(client, bs, "raw-1", "Finish=true")
        assert (ack.type, ack.code_text) == (2, "2.04")

        seen = []
        answers = {DELETE: "2.02", PUT: "2.04", POST: "2.04"}
        bodies = {}
        while not seen or seen[-1] != "POST /bs":
            msg, addr = next_command(client, bs)
            what = f"{'GET POST PUT DELETE'.split()[msg.code - 1]} {msg.uri_path}"
            seen.append(what)
            if msg.code == PUT:
                assert msg.content_format == TLV
                bodies[msg.uri_path] = {rid: value for kind, rid, value in tlv_decode(msg.payload)
                                        if kind == TLV_RESOURCE}
            # One request in flight: nothing else comes until this is answered.
            client.expect_silence(0.1, lambda m, a: m.is_request and m.mid != msg.mid)
            client.respond(msg, addr, answers[msg.code])
        assert seen == ["DELETE /", "PUT /0/1", "PUT /1/0", "POST /bs"]

    assert bodies["/0/1"][0] == RS_URI.encode()
    assert bodies["/0/1"][1] == b"\x00"  # not a bootstrap server
    assert bodies["/0/1"][2] == b"\x03"  # NoSec
    assert bodies["/0/1"][10] == b"\x03"  # ssid
    assert bodies["/1/0"][0] == b"\x03"
    assert int.from_bytes(bodies["/1/0"][1], "big") == 77
    result = outcome_of(bs, "raw-1")
    assert result["outcome"] == "SUCCESS"
    assert result["requests_sent"] == 4


def test_non_answer_with_a_garbled_token_neither_ends_nor_wedges_the_command(emulator: Emulator) -> None:
    """A client answers the server's CON DELETE with a NON 2.02 that carries
    the DELETE's message id but another token (what a corrupted type bit and
    token turn an answer into). That answers nothing the server sent: the
    server retransmits the DELETE (same message id); answered properly, the
    session goes on to the Writes and Finish and succeeds. (libcoap 4.3.1
    dropped the DELETE from its retransmission queue on the stray NON and
    kept its one CON slot taken: the session never sent again; patch 0011.)"""
    bs = emulator.bootstrap_server(bootstrap_config(RS_URI), timing=FAST)
    with CoapPeer() as client:
        request_bootstrap(client, bs, "raw-garbled", "Finish=true")
        delete, addr = next_command(client, bs)
        assert delete.code == DELETE
        garbled = bytes(b ^ 0x5A for b in delete.token)
        client.send(Message(NON, code("2.02"), delete.mid, garbled), addr)
        again, _ = client.wait_request(DELETE, dedup=False, timeout=5)
        assert (again.mid, again.token) == (delete.mid, delete.token)
        client.respond(again, addr, "2.02")
        seen = []
        while not seen or seen[-1] != "POST /bs":
            msg, addr = next_command(client, bs)
            seen.append(f"{'GET POST PUT DELETE'.split()[msg.code - 1]} {msg.uri_path}")
            client.respond(msg, addr, "2.04")
        assert seen == ["PUT /0/1", "PUT /1/0", "POST /bs"]
    assert outcome_of(bs, "raw-garbled")["outcome"] == "SUCCESS"


def test_error_answers_to_optional_writes_do_not_stop_the_session(emulator: Emulator) -> None:
    """Writes marked "optional" that a client answers with 4.00 do not stop
    the session: the rest and Finish follow; the errors are counted; a 4.06
    to Finish makes the outcome FINISH_FAILED. (Before issue 17 every
    rejected Write was treated so; now only optional ones are.)"""
    writes = [{"path": "/1/0/2", "value": 10, "optional": True}, {"path": "/1/0/3", "value": 20, "optional": True}]
    bs = emulator.bootstrap_server(bootstrap_config(RS_URI, finish=True, writes=writes), timing=FAST)
    with CoapPeer() as client:
        request_bootstrap(client, bs, "raw-2")
        while True:
            msg, addr = next_command(client, bs)
            if msg.code == POST:
                client.respond(msg, addr, "4.06")
                break
            optional = msg.uri_path in ("/1/0/2", "/1/0/3")
            client.respond(msg, addr, "4.00" if optional else "2.02" if msg.code == DELETE else "2.04")
    result = outcome_of(bs, "raw-2")
    assert result["outcome"] == "FINISH_FAILED"
    assert result["error_responses"] == 2
    assert len([e for e in result["events"] if e.kind == "command_failed"]) == 2


def test_unanswered_command_ends_the_session_with_timeout(emulator: Emulator) -> None:
    """A client that never answers the first command: after the server's
    retransmissions (same message id each time) the outcome is TIMEOUT."""
    timing = CoapTiming(ack_timeout=0.05, max_retransmit=2)
    bs = emulator.bootstrap_server(bootstrap_config(RS_URI), timing=timing)
    with CoapPeer() as client:
        request_bootstrap(client, bs, "raw-3", "Finish=true")
        first, _ = next_command(client, bs)
        again, _ = client.wait_request(DELETE, "/", dedup=False)
        assert again.mid == first.mid and again.token == first.token
        result = outcome_of(bs, "raw-3", timeout=10)
    assert result["outcome"] == "TIMEOUT"
    assert "DELETE /" in result["reason"]


def test_reset_to_a_command_fails_the_session(emulator: Emulator) -> None:
    """A client that answers a command with RST ends the session (it got no
    usable answer): the outcome is a failure, not SUCCESS."""
    bs = emulator.bootstrap_server(bootstrap_config(RS_URI), timing=FAST)
    with CoapPeer() as client:
        request_bootstrap(client, bs, "raw-4", "Finish=true")
        msg, addr = next_command(client, bs)
        client.send(Message(RST, 0, msg.mid), addr)
        result = outcome_of(bs, "raw-4")
    assert result["outcome"] in ("TIMEOUT", "REQUEST_FAILED")


def test_retransmitted_request_bootstrap_is_deduplicated(emulator: Emulator) -> None:
    """A Request Bootstrap sent twice with one message id (its ACK was lost)
    gets the same 2.04 again and does not start a second session: one
    session, no CANCELLED, the commands go on."""
    bs = emulator.bootstrap_server(bootstrap_config(RS_URI), timing=FAST)
    server = address_of(bs.uri)
    with CoapPeer() as client:
        req = request(POST, "/bs", mid=client.new_mid(), token=client.new_token(), query=["ep=raw-5", "Finish=true"])
        client.send(req, server)
        first = client.wait_response(req)
        cmd, addr = next_command(client, bs)
        client.send(req.encode(), server)
        second = client.wait_response(req)
        assert first.encode() == second.encode()
        client.respond(cmd, addr, "2.02")
        next_command(client, bs)  # the session goes on: PUT /0/1
    result = bs.results()["raw-5"]
    assert result["sessions"] == 1
    assert result["outcome"] is None  # still running
    assert not any("CANCELLED" in e.detail for e in result["events"])


def test_new_request_bootstrap_cancels_the_running_session(emulator: Emulator) -> None:
    """A new Request Bootstrap (new message id) from the same endpoint while
    its session runs replaces the old session (a second session, running)
    and starts again from the first command. (The old DELETE is still the transport's outstanding CON,
    NSTART = 1: the new session's DELETE follows once it is answered.)"""
    bs = emulator.bootstrap_server(bootstrap_config(RS_URI), timing=CoapTiming(ack_timeout=2.0))
    with CoapPeer() as client:
        request_bootstrap(client, bs, "raw-6", "Finish=true")
        old, addr = next_command(client, bs)  # DELETE /, not answered yet
        request_bootstrap(client, bs, "raw-6", "Finish=true")
        result = bs.results()["raw-6"]
        assert result["sessions"] == 2
        # results() holds the latest session only: the new one, running.
        assert result["outcome"] is None
        assert [e.kind for e in result["events"]][:2] == ["request", "session"]
        client.respond(old, addr, "2.02")  # a late answer for the cancelled session: ignored
        fresh, _ = client.wait_request(DELETE, "/")
        assert fresh.mid != old.mid
        assert bs.results()["raw-6"]["requests_sent"] == 1  # counted for the new session only


@pytest.mark.parametrize("content_format", ["tlv", "text"])
def test_config_content_format_text_sends_single_resources_as_plain_text(
    emulator: Emulator, content_format: str
) -> None:
    """"content_format": "text" sends a single-resource write (/1/0/2) as plain
    text (format 0, "10"); "tlv" (the default) as TLV."""
    config = bootstrap_config(RS_URI, writes=[{"path": "/1/0/2", "value": 10}])
    config["endpoints"][0]["content_format"] = content_format
    bs = emulator.bootstrap_server(config, timing=FAST)
    with CoapPeer() as client:
        request_bootstrap(client, bs, "raw-7", "Finish=true")
        while True:
            msg, addr = next_command(client, bs)
            if msg.uri_path == "/1/0/2":
                break
            client.respond(msg, addr, "2.02" if msg.code == DELETE else "2.04")
    if content_format == "text":
        assert (msg.content_format, msg.payload) == (0, b"10")
    else:
        assert msg.content_format == TLV
        assert tlv_decode(msg.payload) == [(TLV_RESOURCE, 2, b"\x0a")]


# --- issue 17: third-party clients at the server's defaults ---------------------


def default_config() -> dict:
    """An entry with no profile and no content_format: what a new user writes."""
    config = bootstrap_config(RS_URI, delete=[])
    assert "profile" not in config["endpoints"][0] and "content_format" not in config["endpoints"][0]
    return config


def test_plain_10_request_gets_finish_at_the_default_profile(emulator: Emulator) -> None:
    """A plain ``POST /bs?ep=..`` (Wakaama 1.0, Anjay: no Finish=true, no pct)
    to a server started with no profile, from an entry with none, is served as
    1.0: TLV writes, then Finish; SUCCESS. (The old default, cr, sent no
    Finish and stranded the client.)"""
    bs = emulator.bootstrap_server(default_config(), timing=FAST)
    with ScriptedClient("wk10-1") as client:
        assert client.bootstrap(address_of(bs.uri)) == "finish"
        assert [(m.uri_path, m.content_format) for m in client.commands] == [
            ("/0/1", TLV), ("/1/0", TLV), ("/bs", None)]
        assert client.server_uri == RS_URI
    result = outcome_of(bs, "wk10-1")
    assert (result["outcome"], result["profile"], result["finish_sent"]) == ("SUCCESS", "1.0", 1)


@pytest.mark.parametrize("pct", [SENML_JSON, SENML_CBOR, TLV])
def test_pct_of_a_11_request_picks_the_write_format(emulator: Emulator, pct: int) -> None:
    """``pct=110`` gets SenML-JSON writes, ``pct=112`` SenML-CBOR (read here
    with cbor2, not our codec), ``pct=11542`` TLV; each carries the account
    (the client finds the server URI in it), then Finish; SUCCESS as 1.1."""
    bs = emulator.bootstrap_server(default_config(), timing=FAST)
    with ScriptedClient(f"wk11-{pct}", pct=pct) as client:
        assert client.bootstrap(address_of(bs.uri)) == "finish"
        writes = [m for m in client.commands if m.code == PUT]
        assert [m.content_format for m in writes] == [pct, pct]
        assert client.server_uri == RS_URI
    result = outcome_of(bs, f"wk11-{pct}")
    assert (result["outcome"], result["profile"], result["content_format"]) == ("SUCCESS", "1.1", pct)


def test_senml_cbor_write_matches_an_independent_encoding(emulator: Emulator) -> None:
    """The Server instance written in SenML-CBOR decodes (cbor2) to records
    with base name /1/0/ and the configured values: ssid 1, lifetime 300,
    notification storing true, binding "U"."""
    import cbor2

    bs = emulator.bootstrap_server(default_config(), timing=FAST)
    with ScriptedClient("cbor-1", pct=SENML_CBOR) as client:
        client.bootstrap(address_of(bs.uri))
        server = next(m for m in client.commands if m.uri_path == "/1/0")
    records = cbor2.loads(server.payload)
    base, values = "", {}
    for rec in records:
        base = rec.get(-2, base)
        value = next(rec[k] for k in (2, 3, 4) if k in rec)
        values[base + rec[0]] = value
    assert values == {"/1/0/0": 1, "/1/0/1": 300, "/1/0/6": True, "/1/0/7": "U"}


def test_client_that_rejects_tlv_fails_the_session_write_rejected(emulator: Emulator) -> None:
    """A client that cannot parse TLV (stock Wakaama 1.1) answers the first
    TLV Write 4.00: the session ends WRITE_REJECTED naming the path and the
    code, no further Write and no Finish go out; never SUCCESS."""
    bs = emulator.bootstrap_server(bootstrap_config(RS_URI, delete=[], finish=True), timing=FAST)
    with ScriptedClient("notlv-1", rejects=[TLV]) as client:
        with pytest.raises(TimeoutError):
            client.bootstrap(address_of(bs.uri), timeout=0.5)
        assert [m.uri_path for m in client.commands] == ["/0/1"]
    result = outcome_of(bs, "notlv-1")
    assert result["outcome"] == "WRITE_REJECTED"
    assert "PUT /0/1" in result["reason"] and "4.00" in result["reason"]
    assert (result["error_responses"], result["finish_sent"]) == (1, 0)


def test_explicit_cr_entry_keeps_the_legacy_no_finish_behaviour(emulator: Emulator) -> None:
    """The legacy idle-timer dialect is still there, by choice:
    ``"profile": "cr"`` and a request without Finish=true get no Finish."""
    config = default_config()
    config["endpoints"][0]["profile"] = "cr"
    bs = emulator.bootstrap_server(config, timing=FAST)
    with ScriptedClient("legacy-1") as client:
        with pytest.raises(TimeoutError):
            client.bootstrap(address_of(bs.uri), timeout=0.5)
        assert [m.uri_path for m in client.commands] == ["/0/1", "/1/0"]
    result = outcome_of(bs, "legacy-1")
    assert (result["outcome"], result["profile"], result["finish_sent"]) == ("SUCCESS", "cr", 0)


def test_back_to_back_sessions_are_counted_and_throttled(emulator: Emulator) -> None:
    """A client that restarts bootstrap in a loop (each session rejected):
    the first 5 sessions run and count as back-to-back, the next request is
    answered 5.03 without a session, and a "throttled" notice says so."""
    bs = emulator.bootstrap_server(default_config(), timing=FAST)
    answers = []
    with ScriptedClient("loop-1", rejects=[TLV]) as client:
        for _ in range(6):
            answers.append(client.bootstrap(address_of(bs.uri), stop_on_reject=True))
    assert answers == ["rejected"] * 5 + ["5.03"]
    result = bs.results()["loop-1"]
    assert (result["sessions"], result["throttled"], result["outcome"]) == (5, 1, "WRITE_REJECTED")
    assert result["back_to_back"] >= 1
    assert any(e.kind == "throttled" and "loop-1" in e.detail for e in bs.events())


def test_malformed_requests_become_rate_limited_notices(emulator: Emulator) -> None:
    """Requests without an endpoint name are answered 4.00 and logged as
    "rejected" notices, but a flood leaves at most 20 a second in events()."""
    bs = emulator.bootstrap_server(default_config(), timing=FAST)
    with CoapPeer() as client:
        for _ in range(60):
            assert client.call(address_of(bs.uri), POST, "/bs").code_text == "4.00"
    rejected = [e for e in bs.events() if e.kind == "rejected"]
    assert 1 <= len(rejected) < 60
    assert "no endpoint name" in rejected[0].detail
# --- hardening: refused impostors and what a flood may cost -------------------


def test_a_refused_impostor_does_not_overwrite_the_devices_outcome(emulator: Emulator) -> None:
    """dev-1 bootstraps over DTLS (SUCCESS). A plain-CoAP client then asks
    for bootstrap as dev-1: 4.00, and dev-1's recorded outcome, peer and
    session count stay as the device left them; the refusal is a
    "rejected" event on dev-1's result."""
    key = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
    rs = emulator.registration_server(timing=FAST)
    bs = emulator.bootstrap_server(bootstrap_config(rs.uri, match="dev-*", psk=Psk("{endpoint}", key)), timing=FAST)
    emulator.device("dev-1", bs.secure_uri, timing=FAST, psk=Psk("{endpoint}", key)).wait_for("registered")
    before = outcome_of(bs, "dev-1")
    assert before["outcome"] == "SUCCESS"
    with CoapPeer() as impostor:
        assert request_bootstrap(impostor, bs, "dev-1").code_text == "4.00"
    after = bs.results()["dev-1"]
    assert (after["outcome"], after["sessions"], after["started_ms"]) == (
        "SUCCESS", before["sessions"], before["started_ms"])
    assert after["events"][-1].kind == "rejected"
    assert after["events"][-1].detail == "POST /bs?ep=dev-1: NoSec, but dev-1 must use DTLS with a pre-shared key"


def test_results_beyond_max_results_are_evicted_oldest_first(emulator: Emulator) -> None:
    """Endpoints without a configuration end at once (NO_BOOTSTRAP_CONFIG);
    with max_results=3 only the latest three results stay, and the server
    counts the evicted ones."""
    bs = emulator.bootstrap_server(bootstrap_config(RS_URI, match="dev-*"), timing=FAST, max_results=3)
    with CoapPeer() as client:
        for i in range(6):
            assert request_bootstrap(client, bs, f"flood-{i}").code_text == "4.00"
    assert sorted(bs.results()) == ["flood-3", "flood-4", "flood-5"]
    assert bs.counters()["results_evicted"] == 3


def test_results_expire_result_ttl_after_their_session_ended(emulator: Emulator) -> None:
    """A flood below max_results leaves nothing for good: with result_ttl=1
    the results of ended sessions go a second or two after they ended, and
    the server counts them as expired (not evicted)."""
    bs = emulator.bootstrap_server(bootstrap_config(RS_URI, match="dev-*"), timing=FAST, result_ttl=1)
    with CoapPeer() as client:
        for i in range(3):
            assert request_bootstrap(client, bs, f"flood-{i}").code_text == "4.00"
    assert sorted(bs.results()) == ["flood-0", "flood-1", "flood-2"]
    wait_until(lambda: not bs.results(), 10, "the results to expire")
    assert bs.counters()["results_expired"] == 3
    assert bs.counters()["results_evicted"] == 0


def test_an_outcome_stays_result_ttl_then_expires_on_the_virtual_clock() -> None:
    """On the virtual clock, to the millisecond: a device's SUCCESS stays
    until result_ttl after its session ended (sweeps run on whole seconds),
    then goes, counted; the device itself stays registered."""
    with Emulator(clock="virtual") as emu:
        rs = emu.registration_server()
        bs = emu.bootstrap_server(bootstrap_config(rs.uri), result_ttl=60)
        dev = emu.device("dev-1", bs.uri)
        dev.run_until("registered", timeout=60)
        ended = bs.results()["dev-1"]["ended_ms"] / 1000
        emu.run_for(ended + 60 - 0.001 - emu.now())
        assert bs.results()["dev-1"]["outcome"] == "SUCCESS"
        emu.run_for(1.002)
        assert "dev-1" not in bs.results()
        assert bs.counters()["results_expired"] == 1
        assert dev.state == "registered"


def test_endpoint_events_keep_the_latest_max_endpoint_events(emulator: Emulator) -> None:
    """A result keeps its latest max_endpoint_events events and counts the
    rest; the server's own events() keep the latest max_events."""
    bs = emulator.bootstrap_server(bootstrap_config(RS_URI, match="dev-*"), timing=FAST,
                                   max_endpoint_events=1, max_events=2)
    with CoapPeer() as client:
        assert request_bootstrap(client, bs, "nobody").code_text == "4.00"  # request, outcome
        for _ in range(3):
            assert client.call(address_of(bs.uri), POST, "/bs").code_text == "4.00"  # no ep
    result = bs.results()["nobody"]
    assert [e.kind for e in result["events"]] == ["outcome"]
    assert result["events_evicted"] == 1
    assert len(bs.events()) == 2
    assert bs.counters() == {"results_evicted": 0, "results_expired": 0, "endpoint_events_evicted": 1,
                             "events_evicted": 1}


def test_a_flood_from_one_client_leaves_one_request_queued_not_one_per_session(emulator: Emulator) -> None:
    """20 Request Bootstraps from one socket that never answers: each cancels
    the one before. Only the first session's DELETE and the last one's go
    out; the 18 cancelled in between never queue a request behind the
    unanswered one (they would keep going out, one per exchange lifetime,
    long after the flood)."""
    bs = emulator.bootstrap_server(bootstrap_config(RS_URI), timing=FAST)
    with CoapPeer() as client:
        assert request_bootstrap(client, bs, "flood-0").code_text == "2.04"
        client.wait_request(DELETE, "/")  # in flight, never answered
        for i in range(1, 20):  # well within its exchange lifetime (MAX_TRANSMIT_WAIT 4.65 s)
            assert request_bootstrap(client, bs, f"flood-{i}").code_text == "2.04"
        assert outcome_of(bs, "flood-19", timeout=20)["outcome"] == "TIMEOUT"
        client.expect_silence(0.5, lambda m, a: False)  # reads (and logs) whatever still comes
    sent = {m.mid: (m.code, m.uri_path) for kind, m, _ in client.log if kind == "rx" and m.is_request}
    assert list(sent.values()) == [(DELETE, "/")] * 2  # retransmissions share their mid
    outcomes = bs.outcomes()
    assert [outcomes[f"flood-{i}"] for i in range(19)] == ["CANCELLED"] * 19
