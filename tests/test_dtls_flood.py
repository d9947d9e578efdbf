"""A flood of DTLS ClientHellos against the servers' coaps:// port (libcoap
patch 0012): a ClientHello without a valid cookie is answered with a
HelloVerifyRequest and leaves no state behind, and one client address holds
at most four handshakes, so a fleet that starts after a flood registers as
if there had been none.

The flooder is a raw-socket script: minimal DTLS 1.2 ClientHellos
(TLS_PSK_WITH_AES_128_CCM_8), each from its own UDP socket, from loopback
addresses 127.77.0.z. The servers steer clients to their 16 contexts by
source address (`coap/steered_listener.h`), so 16 consecutive addresses
reach every context.
"""

from __future__ import annotations

import select
import socket
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from helpers import FAST, kinds
from lwm2m_hil import Emulator, Psk
from test_dtls import KEY, psk_servers

HANDSHAKE = 22
CLIENT_HELLO, SERVER_HELLO, HELLO_VERIFY_REQUEST = 1, 2, 3
PSK_WITH_AES_128_CCM_8 = 0xC0A8
# Per source address: more than a context's 256 handshake slots (the
# runtime's server_handshakes), so without patch 0012 every context fills up.
HELLOS_PER_ADDRESS = 300
ADDRESSES = [f"127.77.0.{z}" for z in range(16)]


def client_hello(cookie: bytes = b"", record_seq: int = 0, message_seq: int = 0) -> bytes:
    """One DTLS 1.2 record with a ClientHello: no session id, one cipher
    suite, null compression, no extensions."""
    body = (
        b"\xfe\xfd" + bytes(range(32)) + b"\x00" + bytes([len(cookie)]) + cookie
        + struct.pack("!HH", 2, PSK_WITH_AES_128_CCM_8) + b"\x01\x00"
    )
    length = len(body).to_bytes(3, "big")
    handshake = bytes([CLIENT_HELLO]) + length + struct.pack("!H", message_seq) + bytes(3) + length + body
    return struct.pack("!BHH", HANDSHAKE, 0xFEFD, 0) + record_seq.to_bytes(6, "big") + struct.pack(
        "!H", len(handshake)
    ) + handshake


def handshake_type(datagram: bytes) -> int | None:
    """The handshake type of a datagram's first record, if it is a handshake."""
    if len(datagram) < 14 or datagram[0] != HANDSHAKE:
        return None
    return datagram[13]


def cookie_of(hvr: bytes) -> bytes:
    """The cookie of a HelloVerifyRequest (after server_version, a length byte)."""
    return hvr[28 : 28 + hvr[27]]


def server_address(uri: str) -> tuple[str, int]:
    parts = urlsplit(uri)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


@contextmanager
def udp_sockets(addresses: list[str], per_address: int) -> Iterator[list[socket.socket]]:
    """``per_address`` non-blocking UDP sockets on each address, port 0;
    all closed on the way out."""
    socks: list[socket.socket] = []
    try:
        for address in addresses:
            for _ in range(per_address):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind((address, 0))
                s.setblocking(False)
        yield socks
    finally:
        for s in socks:
            s.close()


Received = dict[socket.socket, list[bytes]]


def collect(
    socks: list[socket.socket], done: Callable[[Received], bool], bound: float, settle: float = 0.0
) -> Received:
    """Every datagram the sockets receive until ``done(received)`` holds and
    then ``settle`` seconds more, or until ``bound`` seconds pass (a bound on
    a broken run, not a measurement)."""
    received: Received = {s: [] for s in socks}
    poller = select.poll()
    by_fd = {s.fileno(): s for s in socks}
    for fd in by_fd:
        poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + bound
    settling = False
    while time.monotonic() < deadline:
        if not settling and done(received):
            settling = True
            deadline = min(deadline, time.monotonic() + settle)
        for fd, _ in poller.poll(20):
            s = by_fd[fd]
            while True:
                try:
                    received[s].append(s.recv(2048))
                except BlockingIOError:
                    break
    return received


def test_hello_flood_gets_stateless_cookies_and_a_fleet_then_registers_with_one_handshake_each() -> None:
    """4,800 ClientHellos at once, 300 from each of 16 addresses (every
    server context): each one gets a HelloVerifyRequest that echoes its
    record sequence number and message_seq and carries a 32-byte cookie,
    different per source port. 4.3.1 made a session per hello, answered the
    first 257 per context and then ignored every new client, the fleet's
    included, for 30 s. Here 50 DTLS devices that start right after the
    flood bootstrap and register with one handshake per server, none failed."""
    with Emulator(seed=11) as emu:
        rs, bs = psk_servers(emu)
        target = server_address(bs.secure_uri)
        with udp_sockets(ADDRESSES, HELLOS_PER_ADDRESS) as socks:
            for i, s in enumerate(socks):
                s.sendto(client_hello(record_seq=i % 7, message_seq=i % 3), target)
            received = collect(socks, lambda r: all(r.values()), bound=20)
            unanswered = sum(not received[s] for s in socks)
            assert unanswered == 0, f"{unanswered} of {len(socks)} ClientHellos got no HelloVerifyRequest"
            for i, s in enumerate(socks):
                (hvr,) = received[s]
                assert handshake_type(hvr) == HELLO_VERIFY_REQUEST
                assert hvr[5:11] == (i % 7).to_bytes(6, "big")  # the ClientHello's record sequence number
                assert hvr[17:19] == struct.pack("!H", i % 3)  # and its message_seq
                assert len(cookie_of(hvr)) == 32
            assert len({cookie_of(received[s][0]) for s in socks}) == len(socks)

        fleet = emu.fleet(50, bs.secure_uri, timing=FAST, psk=Psk("{endpoint}", KEY), record_messages=False)
        fleet.wait_for("registered", exit="finish", timeout=60)
        assert len(rs.registrations()) == 50
        for i in range(50):
            assert len(kinds(fleet[i], "dtls_handshake")) == 2
            assert len(kinds(fleet[i], "dtls_connected")) == 2
            assert kinds(fleet[i], "dtls_failed") == []


def test_one_address_that_echoes_cookies_holds_at_most_four_handshakes() -> None:
    """A flooder that does answer HelloVerifyRequests: 40 sockets on one
    address each echo their cookie, and the server starts a handshake for
    each (a ServerHello flight), but keeps only four: only their flights
    are retransmitted, the 36 it dropped stay silent. Without the bound it
    kept all 40, and 300 of them would have filled the context's handshake
    slots for the 1/16 of the devices steered to it. The four kept are
    retransmitted on the server's timing (100 ms, doubling) at most
    max_retransmit (4) times, then given up: 4.3.1 retransmitted a
    handshake only when other traffic woke the context, and held it until
    a new ClientHello found it 30 s old. A fleet started afterwards
    registers without a failed handshake."""
    with Emulator(seed=12) as emu:
        rs, bs = psk_servers(emu)
        target = server_address(bs.secure_uri)
        with udp_sockets(["127.77.1.1"], 40) as socks:
            for s in socks:
                s.sendto(client_hello(), target)
            hvrs = collect(socks, lambda r: all(r.values()), bound=20)
            for s in socks:
                (hvr,) = hvrs[s]
                s.sendto(client_hello(cookie_of(hvr), record_seq=1, message_seq=1), target)

            def flights(r: Received) -> list[int]:
                return [sum(handshake_type(d) == SERVER_HELLO for d in r[s]) for s in socks]

            # Until four handshakes have retransmitted their flight twice,
            # then past the server's last retransmission timeout (100 ms
            # doubling, 3.1 s in all): any handshake still kept retransmits.
            received = collect(socks, lambda r: sum(n >= 3 for n in flights(r)) >= 4, bound=20, settle=3.5)
            sent = flights(received)
            assert all(n >= 1 for n in sent), sent  # every echoed cookie started a handshake
            retransmitted = [n for n in sent if n > 1]
            assert len(retransmitted) == 4, sent
            assert all(n <= 1 + 4 for n in retransmitted), sent  # given up after max_retransmit

        fleet = emu.fleet(50, bs.secure_uri, timing=FAST, psk=Psk("{endpoint}", KEY), record_messages=False)
        fleet.wait_for("registered", exit="finish", timeout=60)
        assert len(rs.registrations()) == 50
        assert all(kinds(fleet[i], "dtls_failed") == [] for i in range(50))
