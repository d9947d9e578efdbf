"""Observe and Notify (LwM2M 1.0 Information Reporting, RFC 7641): a server
observes a resource of a registered device, the device notifies on change
and on the pmin/pmax it was given with Write-Attributes, and a cancel (GET
with Observe=1, or a reset of a notification) stops it."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import pytest

from coap_peer import ACK, CON, GET, OBSERVE, POST, RST, TEXT, Message, ScriptedBootstrapServer, request, uint_option
from helpers import PATIENT, details, kinds, wait_until
from lwm2m_hil import Device, Emulator, RegistrationServer

NOWHERE = "coap://127.0.0.1:9"  # a bootstrap server the devices never need


def observe_value(m: Message) -> int | None:
    values = m.option_values(OBSERVE)
    return int.from_bytes(values[0], "big") if values else None


def test_notifications_on_the_wire_con_same_token_rising_observe_and_rst_cancels(
    scripted_bs: ScriptedBootstrapServer,
) -> None:
    """A raw-socket server sends GET /3/0/13 with Observe=0 to the device
    (libcoap, real sockets): the answer carries Observe; each change of the
    resource is a CON 2.05 on the same token with a larger Observe value and
    the new value in plain text. A reset of a notification ends the
    observation: the next change sends nothing."""
    with Emulator() as emu:
        dev = emu.device("dev-1", NOWHERE, timing=PATIENT, server_uri=scripted_bs.uri)
        reg, addr = scripted_bs.wait_request(POST, "/rd")
        scripted_bs.respond(reg, addr, "2.01", location_path=["rd", "1"])
        dev.wait_for("registered")
        dev.set_resource("/3/0/13", 1000)
        token = b"\x0b\x5e\x77\xed"
        get = request(GET, "/3/0/13", mid=scripted_bs.new_mid(), token=token)
        get.options += [(OBSERVE, uint_option(0)), (17, uint_option(TEXT))]  # 17: Accept
        scripted_bs.send(get, addr)
        answer = scripted_bs.wait_response(get)
        assert (answer.code_text, answer.payload, answer.token) == ("2.05", b"1000", token)
        seen = [observe_value(answer)]
        assert seen[0] is not None

        def notification(m: Message, _a: Any) -> bool:
            return m.type == CON and m.token == token and not m.is_request

        for value in (1001, 1002):
            dev.set_resource("/3/0/13", value)
            note, _ = scripted_bs.receive(notification)
            assert (note.code_text, note.payload) == ("2.05", str(value).encode())
            seen.append(observe_value(note))
            if value == 1001:
                scripted_bs.send(Message(ACK, 0, note.mid), addr)
        assert seen == sorted(seen) and len(set(seen)) == 3, seen
        scripted_bs.send(Message(RST, 0, note.mid), addr)
        wait_until(lambda: kinds(dev, "observe_cancelled"), what="the reset to end the observation")
        assert "reset by the peer" in details(dev, "observe_cancelled")[0]
        dev.set_resource("/3/0/13", 1003)
        scripted_bs.expect_silence(0.5, notification)
        assert len(kinds(dev, "notify")) == 2


@contextmanager
def registered(seed: int) -> Iterator[tuple[Emulator, RegistrationServer, Device]]:
    """A device registered with the embedded server on the virtual clock,
    its Current Time (/3/0/13) set to 1000."""
    with Emulator(seed=seed, clock="virtual") as emu:
        rs = emu.registration_server()
        dev = emu.device("dev-1", NOWHERE, server_uri=rs.uri)
        dev.run_until("registered", timeout=60)
        dev.set_resource("/3/0/13", 1000)
        yield emu, rs, dev


def times(dev: Device, kind: str) -> list[float]:
    return [e.time for e in kinds(dev, kind)]


def test_registration_server_observes_change_notifies_with_rising_observe() -> None:
    """rs.observe() answers 2.05 with the value; a change on the device
    reaches the registration server (libcoap on both ends, through the
    radio) as a notification: observations() has the new value and a larger
    Observe value, events() a "notify", the device's timeline a "notify"."""
    with registered(seed=1) as (emu, rs, dev):
        assert rs.observe("dev-1", "/3/0/13", accept=0) == ("2.05", b"1000")
        [o] = rs.observations()
        first = o["observe"]
        assert (o["state"], o["path"], o["notifications"]) == ("active", "/3/0/13", 0)
        dev.set_resource("/3/0/13", 1001)
        emu.run_for(1)
        [o] = rs.observations()
        assert (o["payload"], o["notifications"]) == (b"1001", 1)
        assert o["observe"] > first
        dev.set_resource("/3/0/13", 1002)
        emu.run_for(1)
        [o2] = rs.observations()
        assert (o2["payload"], o2["notifications"]) == (b"1002", 2)
        assert o2["observe"] > o["observe"]
        notes = [e.detail for e in rs.events() if e.kind == "notify"]
        assert len(notes) == 2 and notes[-1].endswith(": 1002"), notes
        assert details(dev, "notify")[-1].startswith("/3/0/13 observe ")


def test_pmax_forces_a_notification_without_change_pmin_delays_one_virtual_clock() -> None:
    """Write-Attributes PUT /3/0/13?pmin=2&pmax=5: with no change the device
    notifies 5 s after the last notification (pmax); a change 0.5 s after a
    notification waits until 2 s after it (pmin). On the virtual clock, to
    the millisecond."""
    with registered(seed=2) as (emu, rs, dev):
        assert rs.request("dev-1", "PUT", "/3/0/13?pmin=2&pmax=5") == ("2.04", b"")
        rs.observe("dev-1", "/3/0/13", accept=0)
        [t0] = times(dev, "observe")
        emu.run_for(5.5)
        assert times(dev, "notify") == [pytest.approx(t0 + 5.0)]
        assert rs.observations()[0]["notifications"] == 1
        dev.set_resource("/3/0/13", 2000)  # 0.5 s after that notification
        emu.run_for(1)
        assert len(times(dev, "notify")) == 1  # pmin holds it back
        emu.run_for(2)  # past pmin; the next pmax (t0 + 12) is still ahead
        assert times(dev, "notify") == [pytest.approx(t0 + 5.0), pytest.approx(t0 + 7.0)]
        [o] = rs.observations()
        assert (o["payload"], o["notifications"]) == (b"2000", 2)


def test_cancel_observe_answers_and_stops_notifications() -> None:
    """rs.cancel_observe() sends GET with Observe=1 on the observation's
    token: the device answers it and ends the observation, and later
    changes send nothing; the server's state is "cancelled"."""
    with registered(seed=3) as (emu, rs, dev):
        rs.observe("dev-1", "/3/0/13", accept=0)
        dev.set_resource("/3/0/13", 1001)
        emu.run_for(1)
        o = rs.cancel_observe("dev-1", "/3/0/13")
        assert (o["state"], o["reason"]) == ("cancelled", "answered 2.05")
        assert len(kinds(dev, "observe_cancelled")) == 1
        dev.set_resource("/3/0/13", 1002)
        emu.run_for(10)
        assert len(kinds(dev, "notify")) == 1
        assert rs.observations()[0]["notifications"] == 1
        assert [e.kind for e in rs.events() if e.kind.startswith("observe")] == ["observe", "observe_ended"]


def test_observe_errors_say_what_to_change() -> None:
    """Observing an unregistered endpoint, cancelling what is not observed,
    a bad resource path or value, and a bad attribute are clear errors."""
    with registered(seed=4) as (emu, rs, dev):
        with pytest.raises(ValueError, match="dev-9 is not registered here"):
            rs.observe("dev-9", "/3/0/13")
        with pytest.raises(ValueError, match="no observation of /3/0/13 on dev-1"):
            rs.cancel_observe("dev-1", "/3/0/13")
        with pytest.raises(ValueError, match=r"path: /3/0 is not /obj/inst/res"):
            dev.set_resource("/3/0", 1)
        with pytest.raises(ValueError, match="value for /3/0/13"):
            dev.set_resource("/3/0/13", "soon")
        code, why = rs.request("dev-1", "PUT", "/3/0/13?pmin=soon")
        assert code == "4.00" and b"pmin=soon" in why
        assert rs.observe("dev-1", "/3/0/99") == ("4.04", b"")
        assert rs.observations()[0]["state"] == "refused"


def test_deregistration_ends_the_observations_on_both_ends() -> None:
    """Observations belong to a registration: when the device de-registers,
    it ends its own, and the server marks its "ended" ("deregistered")."""
    with registered(seed=5) as (emu, rs, dev):
        rs.observe("dev-1", "/3/0/13", accept=0)
        dev.deregister()
        emu.run_for(5)
        [o] = rs.observations()
        assert (o["state"], o["reason"]) == ("ended", "deregistered")
        assert details(dev, "observe_cancelled") == ["1 observation(s): de-registered"]
        dev.set_resource("/3/0/13", 1001)
        emu.run_for(5)
        assert kinds(dev, "notify") == []
