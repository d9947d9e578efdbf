"""Self-tests of the raw CoAP/TLV helper the scripted peers are built on."""

from __future__ import annotations

from coap_peer import (
    CON,
    GET,
    LOCATION_PATH,
    TLV_RESOURCE,
    URI_PATH,
    URI_QUERY,
    Message,
    request,
    tlv,
    tlv_decode,
    tlv_value,
)


def test_rfc7252_example_message_encodes_to_known_bytes() -> None:
    """RFC 7252 appendix A: CON GET, MID 0x7d34, Uri-Path "temperature"."""
    msg = request(GET, "/temperature", mid=0x7D34)
    assert msg.encode() == bytes.fromhex("40017d34bb") + b"temperature"
    back = Message.decode(msg.encode())
    assert (back.type, back.code, back.mid, back.uri_path) == (CON, GET, 0x7D34, "/temperature")


def test_extended_option_deltas_and_lengths_round_trip() -> None:
    """Option deltas and lengths of 13..268 and >= 269 use the extended forms."""
    long_value = b"x" * 300
    msg = Message(CON, GET, 1, b"\x01\x02", [(URI_PATH, b"a" * 20), (URI_QUERY, long_value), (2048, b"\x05")],
                  b"payload")
    back = Message.decode(msg.encode())
    assert back == msg
    assert back.uri_query == ["x" * 300]


def test_repeated_options_keep_their_order() -> None:
    msg = Message(2, 65, 7, b"", [(LOCATION_PATH, b"rd"), (LOCATION_PATH, b"42")])
    assert Message.decode(msg.encode()).location_path == ["rd", "42"]


def test_tlv_matches_the_lwm2m_specification_example() -> None:
    """OMA-TS-LightweightM2M 1.0, TLV example: /3/0/0 = "Open Mobile Alliance"
    is C8 00 14 followed by the 20 bytes."""
    encoded = tlv(TLV_RESOURCE, 0, tlv_value("Open Mobile Alliance"))
    assert encoded[:3] == bytes.fromhex("c80014")
    assert tlv_decode(encoded) == [(TLV_RESOURCE, 0, b"Open Mobile Alliance")]


def test_tlv_integers_use_the_smallest_width_and_16_bit_ids() -> None:
    assert tlv_value(5) == b"\x05"
    assert tlv_value(300) == b"\x01\x2c"
    assert tlv_value(-1) == b"\xff"
    assert tlv_value(1 << 40) == (1 << 40).to_bytes(8, "big")
    entry = tlv(TLV_RESOURCE, 1000, b"\x01")
    assert entry[0] & 0x20 and tlv_decode(entry) == [(TLV_RESOURCE, 1000, b"\x01")]
