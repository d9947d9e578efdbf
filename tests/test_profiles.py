"""The three dialects: cr (the change request), 1.0 and 1.1 (PROTOCOL.md, "Profiles")."""

from __future__ import annotations

import pytest

from coap_peer import CON, POST, ScriptedBootstrapServer, security_instance, server_instance
from helpers import FAST, PATIENT, details, kinds, outcome_of
from lwm2m_hil import Emulator, bootstrap_config


@pytest.mark.parametrize(
    "options,query",
    [
        ({"profile": "cr", "request_finish": True}, {"ep": "dev-1", "Finish": "true"}),
        ({"profile": "cr", "request_finish": False}, {"ep": "dev-1"}),
        ({"profile": "1.0"}, {"ep": "dev-1"}),
        ({"profile": "1.1"}, {"ep": "dev-1", "pct": "11542"}),
    ],
    ids=["cr-finish", "cr-legacy", "1.0", "1.1"],
)
def test_request_bootstrap_query_per_profile(
    scripted_bs: ScriptedBootstrapServer, options: dict, query: dict
) -> None:
    """Request Bootstrap is a CON POST /bs with exactly the profile's query:
    cr adds Finish=true only when the device wants the indication, 1.0 has no
    Finish query, 1.1 carries pct=11542 (TLV, the preferred format)."""
    with Emulator() as emu:
        emu.device("dev-1", scripted_bs.uri, timing=PATIENT, **options)
        req, _ = scripted_bs.wait_request()
    assert req.type == CON
    assert req.code == POST
    assert req.uri_path == "/bs"
    assert req.query() == query
    assert req.payload == b""


def test_cr_with_request_finish_leaves_bootstrap_on_finish(emulator: Emulator) -> None:
    """Profile cr, request_finish=True: the server (finish "auto") sends Finish
    because the request asked for it, and the device exits by "finish"."""
    rs = emulator.registration_server(timing=FAST)
    bs = emulator.bootstrap_server(bootstrap_config(rs.uri), profile="cr", timing=FAST)
    dev = emulator.device("dev-1", bs.uri, timing=FAST, profile="cr", request_finish=True, idle_timeout=60)
    dev.wait_for("registered", exit="finish")
    assert details(dev, "tx")[0] == "POST /bs?ep=dev-1&Finish=true"
    result = outcome_of(bs, "dev-1")
    assert (result["outcome"], result["finish_sent"]) == ("SUCCESS", 1)


def test_cr_without_request_finish_leaves_bootstrap_by_idle_timer(emulator: Emulator) -> None:
    """Profile cr, request_finish=False (the legacy client): the server sends no
    Finish (finish "auto"), and the device guesses the end of bootstrap with its
    idle timer: exit "idle_timeout", no sooner than idle_timeout after the last
    command, and it still commits and registers."""
    rs = emulator.registration_server(timing=FAST)
    bs = emulator.bootstrap_server(bootstrap_config(rs.uri), profile="cr", timing=FAST)
    dev = emulator.device("dev-1", bs.uri, timing=FAST, profile="cr", request_finish=False, idle_timeout=0.3)
    dev.wait_for("registered", exit="idle_timeout")

    result = outcome_of(bs, "dev-1")
    assert result["outcome"] == "SUCCESS"
    assert result["finish_sent"] == 0
    assert result["requests_sent"] == 3  # Delete, two Writes: no Finish
    assert not any("Finish" in d for d in details(dev, "bootstrap_command"))
    last_command = kinds(dev, "bootstrap_command")[-1].time
    (exit_event,) = kinds(dev, "bootstrap_exit")
    assert exit_event.detail == "idle_timeout"
    assert exit_event.time - last_command >= 0.3 - 0.002  # timeline has ms resolution
    assert dev.exit_counts() == {"idle_timeout": 1}
    assert "dev-1" in rs.registrations()


@pytest.mark.parametrize("profile", ["1.0", "1.1"])
def test_published_profiles_leave_bootstrap_on_finish(emulator: Emulator, profile: str) -> None:
    """Profiles 1.0 and 1.1: the server always sends Finish, the device exits
    by "finish" and registers announcing its version (lwm2m=1.0 / 1.1)."""
    rs = emulator.registration_server(timing=FAST)
    bs = emulator.bootstrap_server(bootstrap_config(rs.uri), profile=profile, timing=FAST)
    dev = emulator.device("dev-1", bs.uri, timing=FAST, profile=profile)
    dev.wait_for("registered", exit="finish")
    first = details(dev, "tx")[0]
    assert "Finish" not in first
    assert ("pct=11542" in first) == (profile == "1.1")
    assert outcome_of(bs, "dev-1")["profile"] == profile
    assert rs.registrations()["dev-1"]["lwm2m_version"] == profile


def test_profile_1_0_device_never_leaves_without_finish(emulator: Emulator) -> None:
    """A 1.0 device against a cr server that sends no Finish (the request had no
    Finish=true) does not guess: it waits finish_timeout, exits
    "finish_timeout", and does not register."""
    rs = emulator.registration_server(timing=FAST)
    bs = emulator.bootstrap_server(bootstrap_config(rs.uri), profile="cr", timing=FAST)
    dev = emulator.device(
        "dev-1", bs.uri, timing=FAST, profile="1.0", finish_timeout=0.4, idle_timeout=0.05, retry_initial=30
    )
    dev.wait_for(exit="finish_timeout")
    assert outcome_of(bs, "dev-1")["finish_sent"] == 0
    assert dev.exit_counts() == {"finish_timeout": 1}
    assert dev.state == "bootstrapping"  # waiting to retry
    assert rs.registrations() == {}


def test_per_endpoint_profile_in_config_overrides_server_profile(emulator: Emulator) -> None:
    """A configuration entry's "profile" wins over the server's: entry 1.0 on a
    cr server sends Finish to a 1.0 device that never asked for it."""
    rs = emulator.registration_server(timing=FAST)
    config = bootstrap_config(rs.uri)
    config["endpoints"][0]["profile"] = "1.0"
    bs = emulator.bootstrap_server(config, profile="cr", timing=FAST)
    dev = emulator.device("dev-1", bs.uri, timing=FAST, profile="1.0")
    dev.wait_for("registered", exit="finish")
    result = outcome_of(bs, "dev-1")
    assert (result["profile"], result["finish_sent"]) == ("1.0", 1)


@pytest.mark.parametrize("finish,exit", [(True, "finish"), (False, "idle_timeout")])
def test_server_finish_policy_true_and_false(emulator: Emulator, finish: bool, exit: str) -> None:
    """The config's "finish" policy overrides "auto": true sends Finish even to a
    legacy cr client that did not ask (it exits by "finish"), false never sends
    it (the legacy client exits by its idle timer)."""
    rs = emulator.registration_server(timing=FAST)
    bs = emulator.bootstrap_server(bootstrap_config(rs.uri, finish=finish), timing=FAST)
    dev = emulator.device("dev-1", bs.uri, timing=FAST, request_finish=False, idle_timeout=0.3)
    dev.wait_for("registered", exit=exit)
    assert outcome_of(bs, "dev-1")["finish_sent"] == (1 if finish else 0)


def test_legacy_idle_timer_exits_too_early_when_the_server_is_slow(
    scripted_bs: ScriptedBootstrapServer,
) -> None:
    """The change request's point: a legacy client (idle_timeout 0.3 s) facing
    a server that pauses longer than that between two Writes leaves bootstrap
    in the pause, commits half a configuration (a Security instance, no Server
    instance), refuses the late Write (4.05) and has to bootstrap again."""
    with Emulator() as emu:
        dev = emu.device("dev-1", scripted_bs.uri, timing=PATIENT, request_finish=False, idle_timeout=0.3,
                         retry_initial=30)
        _, addr, _ = scripted_bs.accept()
        assert scripted_bs.write(addr, "/0/1", security_instance("coap://127.0.0.1:9", 1)).code_text == "2.04"
        dev.wait_for(exit="idle_timeout")  # at least 0.3 s after that Write
        assert scripted_bs.write(addr, "/1/0", server_instance(1)).code_text == "4.05"

        assert dev.exit_counts() == {"idle_timeout": 1}
        assert len(kinds(dev, "commit")) == 1
        assert any("no complete server account" in e.detail for e in kinds(dev, "error"))
        assert dev.state == "bootstrapping"  # waiting to try again


def test_finish_client_waits_for_a_slow_server(scripted_bs: ScriptedBootstrapServer) -> None:
    """The same slow server with a client that asked for Finish: the pause
    changes nothing, both Writes land and Finish ends bootstrap."""
    with Emulator() as emu:
        rs = emu.registration_server(timing=FAST)
        dev = emu.device("dev-1", scripted_bs.uri, timing=PATIENT, request_finish=True, idle_timeout=0.3)
        _, addr, _ = scripted_bs.accept()
        assert scripted_bs.write(addr, "/0/1", security_instance(rs.uri, 1)).code_text == "2.04"
        scripted_bs.expect_silence(0.6)
        assert dev.bootstrap_exit == "none"
        assert scripted_bs.write(addr, "/1/0", server_instance(1)).code_text == "2.04"
        assert scripted_bs.finish(addr).code_text == "2.04"
        dev.wait_for("registered", exit="finish")


def test_profile_1_1_accepts_senml_json_writes(scripted_bs: ScriptedBootstrapServer) -> None:
    """Profile 1.1: a bootstrap Write in SenML-JSON (110) is decoded: 2.04 and
    the value lands in the staged configuration."""
    with Emulator() as emu:
        dev = emu.device("dev-1", scripted_bs.uri, timing=PATIENT, profile="1.1")
        _, addr, _ = scripted_bs.accept()
        body = b'[{"bn":"/1/0/","n":"0","v":1},{"n":"1","v":70}]'
        assert scripted_bs.write(addr, "/1/0", body, content_format=110).code_text == "2.04"
        assert dev.objects(staged=True)[1][0] == {0: 1, 1: 70}
