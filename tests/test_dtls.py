"""DTLS with a pre-shared key (security mode PSK): bootstrap and registration
over coaps:// through libcoap's mbedTLS backend, refusals of wrong
credentials, and DTLS traffic on the radio and in captures.

Real handshakes over real loopback sockets; short CoAP timers (the DTLS
handshake retransmits on the device's ACK timeout too).
"""

from __future__ import annotations

from typing import Any

import pytest

from helpers import FAST, details, kinds, outcome_of, wait_until
from lwm2m_hil import Device, Emulator, Psk, bootstrap_config

KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
WRONG = bytes.fromhex("ff0102030405060708090a0b0c0d0e0f")
DM_KEY = bytes.fromhex("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf")


def psk_servers(emu: Emulator, **config: Any) -> tuple[Any, Any]:
    """A registration server that wants DTLS from dev-* with DM_KEY, and a
    bootstrap server that wants DTLS with KEY, identity = endpoint name,
    and hands out the DM account over coaps."""
    dm = Psk("dm-{endpoint}", DM_KEY, match="dev-*")
    rs = emu.registration_server(timing=FAST, psk=[dm])
    bs = emu.bootstrap_server(
        bootstrap_config(
            rs.secure_uri, psk=Psk("{endpoint}", KEY), server_psk=Psk("dm-shared", DM_KEY), **config
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
