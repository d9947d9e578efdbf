"""How tshark and Wireshark decode a capture.

The embedded servers listen on ephemeral ports, which Wireshark does not
know as CoAP (5683) or CoAP over DTLS (5684): without a hint it shows "UDP
data". These are the hints, as tshark arguments, for the servers a capture
saw, plus the pre-shared key that decrypts DTLS.
"""

from __future__ import annotations

import shlex
from typing import Iterable
from urllib.parse import urlsplit


def server_ports(uris: Iterable[str]) -> tuple[list[int], list[int]]:
    """The ports of ``coap://`` and of ``coaps://`` URIs, each sorted, once."""
    coap: set[int] = set()
    dtls: set[int] = set()
    for uri in uris:
        if not uri:
            continue
        parts = urlsplit(uri)
        if parts.scheme == "coap":
            coap.add(parts.port or 5683)
        elif parts.scheme == "coaps":
            dtls.add(parts.port or 5684)
    return sorted(coap), sorted(dtls)


def decode_options(uris: Iterable[str], psk_key: bytes | None = None) -> list[str]:
    """tshark arguments that decode traffic to and from ``uris``: CoAP on
    each coap:// port; DTLS, and CoAP inside it, on each coaps:// port;
    ``-o dtls.psk:HEX`` when a key is given and there is DTLS."""
    coap, dtls = server_ports(uris)
    args: list[str] = []
    for port in coap:
        args += ["-d", f"udp.port=={port},coap"]
    for port in dtls:
        args += ["-d", f"udp.port=={port},dtls", "-d", f"dtls.port=={port},coap"]
    if dtls and psk_key:
        args += ["-o", f"dtls.psk:{psk_key.hex()}"]
    return args


def tshark_command(path: str, options: list[str]) -> str:
    """The shell line that reads ``path`` with ``options``."""
    return shlex.join(["tshark", "-r", path, *options])


def capture_comment(options: list[str]) -> str:
    """The section comment of a capture: the same options, and where to
    give them in Wireshark."""
    if not options:
        return "lwm2m-hil capture; no server ports known when it started: Decode As... CoAP by hand"
    return (
        "lwm2m-hil capture; decode with tshark " + shlex.join(options) + " (Wireshark: Analyze > Decode As..., "
        "UDP port -> CoAP or DTLS, DTLS port -> CoAP; Preferences > Protocols > DTLS > Pre-Shared Key)"
    )
