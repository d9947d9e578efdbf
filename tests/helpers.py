"""Small helpers shared by the behaviour tests."""

from __future__ import annotations

import os
import socket
import struct
import time
from pathlib import Path
from typing import Any, Callable, NamedTuple, TypeVar

from lwm2m_hil import CoapTiming, Device, Event

# Loopback is fast and lossless: short CoAP timers keep every test quick,
# while the default 4 retransmissions let an exchange survive a loop stalled
# for up to MAX_TRANSMIT_WAIT = 0.1 * (2**5 - 1) * 1.5 = 4.65 s on a busy machine.
FAST = CoapTiming(ack_timeout=0.1)

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 10.0, what: str = "condition") -> T:
    """Poll ``predicate`` until it returns something truthy, and return that.
    For state that lives on another thread (a server's view of a session)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def kinds(device: Device, kind: str) -> list[Event]:
    """The events of one kind on a device's timeline."""
    return [e for e in device.timeline() if e.kind == kind]


def details(device: Device, kind: str) -> list[str]:
    return [e.detail for e in kinds(device, kind)]


def outcome_of(bs: Any, endpoint: str, timeout: float = 10.0) -> dict[str, Any]:
    """The bootstrap server's result for ``endpoint`` once its session ended."""
    return bs.wait_outcome(endpoint, timeout)


def assert_refused_after_handshake(bs: Any, dev: Device, outcome: str, reason_end: str) -> None:
    """The device's DTLS handshake succeeded, but its Request Bootstrap was
    refused 4.00 with ``outcome`` (its reason ending ``reason_end``) before
    any command was sent to it."""
    r = outcome_of(bs, dev.endpoint)
    assert r["outcome"] == outcome
    assert r["reason"].endswith(reason_end)
    assert r["requests_sent"] == 0
    wait_until(lambda: kinds(dev, "bootstrap_failed"), 5, "the device to see the refusal")
    assert "4.00" in details(dev, "bootstrap_failed")[0]
    assert kinds(dev, "dtls_connected")


def dead_port() -> int:
    """A UDP port on 127.0.0.1 where nothing listens (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# For devices that talk to a scripted (Python) peer: Python may take longer
# than 50 ms to answer, and a retransmitted request would then turn up as a
# duplicate in the script. Loopback loses nothing, so nothing is slower.
PATIENT = CoapTiming(ack_timeout=2.0)


class Datagram(NamedTuple):
    """One packet of a pcapng capture written by the emulator's radio."""

    time: float  # seconds (pcapng timestamp, microsecond resolution)
    src: tuple[str, int]
    dst: tuple[str, int]
    payload: bytes
    comment: str  # the radio's verdict: "passed", "dropped by ...", ...


def read_pcapng(path: str | os.PathLike[str]) -> list[Datagram]:
    """The UDP datagrams of a little-endian pcapng file with LINKTYPE_RAW
    (IPv4) packets, as the radio's PcapngWriter writes them, with each
    packet's opt_comment. Independent of the C++ writer: a check on it."""
    data = Path(path).read_bytes()
    out: list[Datagram] = []
    pos = 0
    while pos + 12 <= len(data):
        block_type, total = struct.unpack_from("<II", data, pos)
        if total < 12 or pos + total > len(data):
            raise ValueError(f"{path}: truncated block at offset {pos}")
        body = data[pos + 8 : pos + total - 4]
        pos += total
        if block_type != 6:  # only Enhanced Packet Blocks carry packets
            continue
        _iface, ts_hi, ts_lo, caplen, _origlen = struct.unpack_from("<IIIII", body, 0)
        packet = body[20 : 20 + caplen]
        opts = 20 + ((caplen + 3) & ~3)
        comment = ""
        while opts + 4 <= len(body):
            code, length = struct.unpack_from("<HH", body, opts)
            if code == 0:
                break
            if code == 1:
                comment = body[opts + 4 : opts + 4 + length].decode()
            opts += 4 + ((length + 3) & ~3)
        ihl = (packet[0] & 15) * 4
        src_ip = socket.inet_ntoa(packet[12:16])
        dst_ip = socket.inet_ntoa(packet[16:20])
        sport, dport, ulen = struct.unpack_from("!HHH", packet, ihl)
        payload = packet[ihl + 8 : ihl + ulen]
        out.append(Datagram(((ts_hi << 32) | ts_lo) / 1e6, (src_ip, sport), (dst_ip, dport), payload, comment))
    return out


def child_env() -> dict[str, str]:
    """Environment for a child Python that must import this same lwm2m_hil."""
    import lwm2m_hil

    env = dict(os.environ)
    pkg_root = str(Path(lwm2m_hil.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_root, env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env
