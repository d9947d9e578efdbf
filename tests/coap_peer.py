"""A tiny raw CoAP-over-UDP peer (RFC 7252) for scripted servers in tests.

It does what the emulator's own servers never do on purpose: send the same
CON twice with one message id, send Finish at the wrong time, send a broken
TLV payload. Messages are encoded and decoded here, byte by byte; the socket
is a real UDP socket on 127.0.0.1 with an ephemeral port.

Also: LwM2M TLV encoding (OMA-TS-LightweightM2M, 6.4.3) to build payloads,
and ScriptedClient, a client that behaves as Wakaama's and Anjay's do.
"""

from __future__ import annotations

import random
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional, Union

# Message types
CON, NON, ACK, RST = 0, 1, 2, 3
# Methods
GET, POST, PUT, DELETE = 1, 2, 3, 4
# Options
IF_MATCH, URI_HOST, ETAG, OBSERVE, URI_PORT = 1, 3, 4, 6, 7
LOCATION_PATH, URI_PATH, CONTENT_FORMAT, MAX_AGE, URI_QUERY, ACCEPT = 8, 11, 12, 14, 15, 17
# Content formats
TEXT, LINK_FORMAT, OPAQUE, TLV = 0, 40, 42, 11542

Address = tuple[str, int]
Matcher = Optional[Callable[["Message", Address], bool]]


def code(text: str) -> int:
    """``"2.04"`` -> 68."""
    cls, detail = text.split(".")
    return (int(cls) << 5) | int(detail)


def code_str(value: int) -> str:
    """68 -> ``"2.04"``; 0 -> ``"0.00"`` (empty)."""
    return f"{value >> 5}.{value & 31:02d}"


def uint_option(value: int) -> bytes:
    """An option value as a minimal big-endian unsigned integer (0 -> b"")."""
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


@dataclass
class Message:
    """One CoAP message. ``options`` is a list of (number, raw value)."""

    type: int
    code: int
    mid: int
    token: bytes = b""
    options: list[tuple[int, bytes]] = field(default_factory=list)
    payload: bytes = b""

    # --- encoding ---------------------------------------------------------

    def encode(self) -> bytes:
        if len(self.token) > 8:
            raise ValueError("token: at most 8 bytes")
        out = bytearray([(1 << 6) | (self.type << 4) | len(self.token), self.code])
        out += struct.pack("!H", self.mid)
        out += self.token
        last = 0
        for number, value in sorted(self.options, key=lambda o: o[0]):  # stable: keeps repeats in order
            delta, length = number - last, len(value)
            last = number
            d, d_ext = _nibble(delta)
            l, l_ext = _nibble(length)
            out.append((d << 4) | l)
            out += d_ext + l_ext + value
        if self.payload:
            out += b"\xff" + self.payload
        return bytes(out)

    @classmethod
    def decode(cls, data: bytes) -> Message:
        if len(data) < 4:
            raise ValueError("CoAP message shorter than its 4-byte header")
        version, mtype, tkl = data[0] >> 6, (data[0] >> 4) & 3, data[0] & 15
        if version != 1 or tkl > 8:
            raise ValueError(f"bad CoAP header: version {version}, token length {tkl}")
        (mid,) = struct.unpack("!H", data[2:4])
        pos = 4 + tkl
        msg = cls(mtype, data[1], mid, bytes(data[4:pos]))
        number = 0
        while pos < len(data):
            if data[pos] == 0xFF:
                msg.payload = bytes(data[pos + 1 :])
                break
            delta, length = data[pos] >> 4, data[pos] & 15
            pos += 1
            delta, pos = _unnibble(delta, data, pos)
            length, pos = _unnibble(length, data, pos)
            number += delta
            msg.options.append((number, bytes(data[pos : pos + length])))
            pos += length
        return msg

    # --- reading ----------------------------------------------------------

    def option_values(self, number: int) -> list[bytes]:
        return [v for n, v in self.options if n == number]

    def _uint(self, number: int) -> int | None:
        values = self.option_values(number)
        return int.from_bytes(values[0], "big") if values else None

    @property
    def code_text(self) -> str:
        return code_str(self.code)

    @property
    def uri_path(self) -> str:
        """``"/bs"``, ``"/1/0"``; ``"/"`` without Uri-Path."""
        return "/" + "/".join(v.decode() for v in self.option_values(URI_PATH))

    @property
    def uri_query(self) -> list[str]:
        return [v.decode() for v in self.option_values(URI_QUERY)]

    def query(self) -> dict[str, str]:
        """Uri-Query items as a dict (``"Finish=true"`` -> ``{"Finish": "true"}``)."""
        return {k: v for k, _, v in (q.partition("=") for q in self.uri_query)}

    @property
    def location_path(self) -> list[str]:
        return [v.decode() for v in self.option_values(LOCATION_PATH)]

    @property
    def content_format(self) -> int | None:
        return self._uint(CONTENT_FORMAT)

    @property
    def is_request(self) -> bool:
        return 1 <= self.code <= 31

    def __str__(self) -> str:
        kind = "CON NON ACK RST".split()[self.type]
        what = self.uri_path if self.is_request else self.code_text
        return f"{kind} {code_str(self.code)} mid={self.mid} {what} {self.uri_query or ''} {len(self.payload)} B"


def _nibble(value: int) -> tuple[int, bytes]:
    if value < 13:
        return value, b""
    if value < 269:
        return 13, bytes([value - 13])
    return 14, struct.pack("!H", value - 269)


def _unnibble(n: int, data: bytes, pos: int) -> tuple[int, int]:
    if n == 13:
        return data[pos] + 13, pos + 1
    if n == 14:
        return struct.unpack("!H", data[pos : pos + 2])[0] + 269, pos + 2
    if n == 15:
        raise ValueError("reserved option nibble 15")
    return n, pos


def request(
    method: int,
    path: str,
    *,
    mid: int,
    token: bytes = b"",
    query: Iterable[str] = (),
    payload: bytes = b"",
    content_format: int | None = None,
    type: int = CON,
) -> Message:
    """A request message for ``path`` (``"/bs"``, ``"/0/1"``, ``"/"``)."""
    options: list[tuple[int, bytes]] = [(URI_PATH, seg.encode()) for seg in path.split("/") if seg]
    if content_format is not None:
        options.append((CONTENT_FORMAT, uint_option(content_format)))
    options += [(URI_QUERY, q.encode()) for q in query]
    return Message(type, method, mid, token, options, payload)


class CoapPeer:
    """A UDP socket on 127.0.0.1:0 that speaks raw CoAP.

    Incoming datagrams that a wait does not want are kept in order for the
    next wait, so a test can script a conversation step by step.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self._backlog: list[tuple[Message, Address]] = []
        # Requests delivered to the test, by (peer, mid): the answer sent, if any.
        # A retransmission is not delivered again; it gets the same answer.
        self._answered: dict[tuple[Address, int], Message | None] = {}
        self._next_mid = 0x1000
        self._next_token = 1
        self.log: list[tuple[str, Message, Address]] = []  # ("tx"|"rx", message, peer)

    def __enter__(self) -> CoapPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    @property
    def address(self) -> Address:
        host, port = self.sock.getsockname()
        return host, port

    @property
    def uri(self) -> str:
        host, port = self.address
        return f"coap://{host}:{port}"

    def new_mid(self) -> int:
        self._next_mid = (self._next_mid + 1) & 0xFFFF
        return self._next_mid

    def new_token(self) -> bytes:
        self._next_token += 1
        return struct.pack("!I", self._next_token)

    # --- raw I/O ------------------------------------------------------------

    def send(self, msg: Message | bytes, to: Address) -> None:
        data = msg if isinstance(msg, bytes) else msg.encode()
        if isinstance(msg, Message):
            self.log.append(("tx", msg, to))
        self.sock.sendto(data, to)

    def receive(self, match: Matcher = None, timeout: float = 10.0, dedup: bool = True) -> tuple[Message, Address]:
        """The next message (from the backlog first) for which ``match(msg,
        addr)`` holds; others stay in the backlog. TimeoutError after
        ``timeout`` s, naming what did arrive.

        With ``dedup``, a retransmitted CON request (same peer and message id
        as one already delivered) is not delivered again: it is answered with
        the answer the first copy got, if any, as a CoAP stack would."""
        for i, (m, a) in enumerate(self._backlog):
            if match is None or match(m, a):
                del self._backlog[i]
                return self._delivered(m, a)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                seen = ", ".join(str(m) for m, _ in self._backlog[-5:]) or "nothing"
                raise TimeoutError(f"no matching CoAP message within {timeout} s; backlog: {seen}")
            self.sock.settimeout(left)
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            m = Message.decode(data)
            self.log.append(("rx", m, addr))
            if dedup and m.type == CON and m.is_request and (addr, m.mid) in self._answered:
                cached = self._answered[(addr, m.mid)]
                if cached is not None:
                    self.send(cached, addr)
                continue
            if match is None or match(m, addr):
                return self._delivered(m, addr)
            self._backlog.append((m, addr))

    def _delivered(self, m: Message, addr: Address) -> tuple[Message, Address]:
        if m.type == CON and m.is_request:
            self._answered.setdefault((addr, m.mid), None)
        return m, addr

    def expect_silence(self, seconds: float, match: Matcher = None) -> None:
        """Assert that no matching message arrives within ``seconds``."""
        try:
            m, _ = self.receive(match, timeout=seconds)
        except TimeoutError:
            return
        raise AssertionError(f"expected silence, got {m}")

    # --- client and server helpers -------------------------------------------

    def wait_request(
        self, method: int | None = None, path: str | None = None, timeout: float = 10.0, dedup: bool = True
    ) -> tuple[Message, Address]:
        """The next request, optionally of one method and path."""

        def match(m: Message, _a: Address) -> bool:
            return m.is_request and (method is None or m.code == method) and (path is None or m.uri_path == path)

        return self.receive(match, timeout, dedup)

    def respond(
        self,
        req: Message,
        to: Address,
        code_text: str,
        *,
        payload: bytes = b"",
        content_format: int | None = None,
        location_path: Iterable[str] = (),
    ) -> Message:
        """Answer a CON piggybacked on its ACK (a NON with a NON)."""
        options = [(LOCATION_PATH, seg.encode()) for seg in location_path]
        if content_format is not None:
            options.append((CONTENT_FORMAT, uint_option(content_format)))
        kind = ACK if req.type == CON else NON
        resp = Message(kind, code(code_text), req.mid if kind == ACK else self.new_mid(), req.token, options, payload)
        if kind == ACK:
            self._answered[(to, req.mid)] = resp
        self.send(resp, to)
        return resp

    def send_request(self, to: Address, method: int, path: str, **kw: Any) -> Message:
        """Send a CON request (fresh mid and token unless given); return it."""
        kw.setdefault("mid", self.new_mid())
        kw.setdefault("token", self.new_token())
        msg = request(method, path, **kw)
        self.send(msg, to)
        return msg

    def wait_response(self, req: Message, timeout: float = 10.0) -> Message:
        """The piggybacked ACK for ``req`` (same message id), or a separate
        response carrying its token."""

        def match(m: Message, _a: Address) -> bool:
            if m.is_request:
                return False
            if m.type in (ACK, RST) and m.mid == req.mid and m.code != 0:
                return True
            return m.type in (CON, NON) and m.token == req.token

        m, a = self.receive(match, timeout)
        if m.type == CON:  # separate response: acknowledge it
            self.send(Message(ACK, 0, m.mid), a)
        return m

    def call(self, to: Address, method: int, path: str, timeout: float = 10.0, **kw: Any) -> Message:
        """Send a CON request and return its response."""
        return self.wait_response(self.send_request(to, method, path, **kw), timeout)


# --- LwM2M TLV ---------------------------------------------------------------

TLV_OBJECT_INSTANCE, TLV_RESOURCE_INSTANCE, TLV_MULTIPLE_RESOURCE, TLV_RESOURCE = 0, 1, 2, 3

Value = Union[bool, int, float, str, bytes]


def tlv_value(value: Value) -> bytes:
    """A value's bytes: integers in 1, 2, 4 or 8 bytes (signed, big-endian),
    booleans in one byte, floats as 8-byte doubles, strings as UTF-8."""
    if isinstance(value, bool):
        return b"\x01" if value else b"\x00"
    if isinstance(value, int):
        for size in (1, 2, 4, 8):
            if -(1 << (size * 8 - 1)) <= value < (1 << (size * 8 - 1)):
                return value.to_bytes(size, "big", signed=True)
        raise ValueError(f"integer {value} does not fit in 64 bits")
    if isinstance(value, float):
        return struct.pack("!d", value)
    if isinstance(value, str):
        return value.encode()
    return bytes(value)


def tlv(kind: int, ident: int, value: bytes) -> bytes:
    """One TLV entry: type, identifier, length, value."""
    head = kind << 6
    ident_bytes = bytes([ident]) if ident < 256 else struct.pack("!H", ident)
    if ident >= 256:
        head |= 0x20
    n = len(value)
    if n < 8:
        head |= n
        length = b""
    elif n < 1 << 8:
        head |= 1 << 3
        length = bytes([n])
    elif n < 1 << 16:
        head |= 2 << 3
        length = struct.pack("!H", n)
    else:
        head |= 3 << 3
        length = n.to_bytes(3, "big")
    return bytes([head]) + ident_bytes + length + value


def tlv_resources(resources: dict[int, Value]) -> bytes:
    """Resources of one instance, as a PUT /obj/inst payload."""
    return b"".join(tlv(TLV_RESOURCE, rid, tlv_value(v)) for rid, v in sorted(resources.items()))


def tlv_instance(inst: int, resources: dict[int, Value]) -> bytes:
    """One object instance wrapping its resources, as a PUT /obj payload."""
    return tlv(TLV_OBJECT_INSTANCE, inst, tlv_resources(resources))


def security_instance(uri: str, ssid: int, *, bootstrap: bool = False) -> bytes:
    """A NoSec Security instance's resources (PUT /0/x)."""
    return tlv_resources({0: uri, 1: bootstrap, 2: 3, 3: b"", 4: b"", 5: b"", 10: ssid})


def server_instance(ssid: int, lifetime: int = 300, binding: str = "U") -> bytes:
    """A Server instance's resources (PUT /1/y)."""
    return tlv_resources({0: ssid, 1: lifetime, 6: True, 7: binding})


# --- a scripted LwM2M bootstrap server ----------------------------------------


class ScriptedBootstrapServer(CoapPeer):
    """A bootstrap server driven line by line by a test."""

    def accept(self, timeout: float = 10.0, answer: str = "2.04") -> tuple[str, Address, Message]:
        """Wait for ``POST /bs?ep=...``, answer it; return (endpoint, device address, request)."""
        req, addr = self.wait_request(POST, "/bs", timeout)
        self.respond(req, addr, answer)
        return req.query().get("ep", ""), addr, req

    def write(self, to: Address, path: str, payload: bytes, content_format: int = TLV, **kw: Any) -> Message:
        return self.call(to, PUT, path, payload=payload, content_format=content_format, **kw)

    def write_account(self, to: Address, server_uri: str, ssid: int = 1, lifetime: int = 300) -> None:
        """Write Security /0/1 and Server /1/0 for one NoSec account; assert 2.04 each."""
        for path, body in (("/0/1", security_instance(server_uri, ssid)), ("/1/0", server_instance(ssid, lifetime))):
            resp = self.write(to, path, body)
            assert resp.code_text == "2.04", f"PUT {path} answered {resp.code_text}"

    def finish(self, to: Address, **kw: Any) -> Message:
        """Bootstrap-Finish (CON POST /bs); the answer."""
        return self.call(to, POST, "/bs", **kw)


def tlv_decode(data: bytes) -> list[tuple[int, int, bytes]]:
    """Top-level TLV entries as (type, identifier, value bytes)."""
    out = []
    pos = 0
    while pos < len(data):
        head = data[pos]
        pos += 1
        kind = head >> 6
        id_len = 2 if head & 0x20 else 1
        ident = int.from_bytes(data[pos : pos + id_len], "big")
        pos += id_len
        len_len = (head >> 3) & 3
        if len_len:
            n = int.from_bytes(data[pos : pos + len_len], "big")
            pos += len_len
        else:
            n = head & 7
        if pos + n > len(data):
            raise ValueError("TLV entry longer than its payload")
        out.append((kind, ident, bytes(data[pos : pos + n])))
        pos += n
    return out


# --- a scripted LwM2M client (as Wakaama's and Anjay's clients behave) ----------

SENML_JSON, SENML_CBOR = 110, 112


def account_uri(path: str, payload: bytes, content_format: int | None) -> str | None:
    """The Server URI (``/0/x/0``) a Write of a Security instance carries, in
    TLV, SenML-JSON or SenML-CBOR; None when it carries none. SenML-CBOR is
    read with cbor2, a codec independent of the emulator's."""
    segments = [s for s in path.split("/") if s]
    if len(segments) != 2 or segments[0] != "0":
        return None
    if content_format == TLV:
        for kind, ident, value in tlv_decode(payload):
            if kind == TLV_RESOURCE and ident == 0:
                return value.decode()
        return None
    if content_format == SENML_JSON:
        import json

        records = json.loads(payload)
        names, uri_key, bn_key, n_key = records, "vs", "bn", "n"
    elif content_format == SENML_CBOR:
        import cbor2

        names, uri_key, bn_key, n_key = cbor2.loads(payload), 3, -2, 0
    else:
        return None
    base = ""
    for rec in names:
        base = rec.get(bn_key, base)
        if base + rec.get(n_key, "") == f"/0/{segments[1]}/0":
            return rec[uri_key]
    return None


class ScriptedClient(CoapPeer):
    """An LwM2M client as third-party clients behave: ``POST /bs?ep=..``
    (plus ``pct`` for 1.1), then it answers the server's commands and waits
    for Finish; it never asks for ``Finish=true``. Then ``POST /rd`` at the
    URI it was given. ``rejects``: content formats it cannot parse, answered
    4.00 (Wakaama's 1.1 client, built without TLV). ``answers``: by path, the
    (code, content format, payload) it answers a GET (Bootstrap-Read or
    -Discover) with; any other GET gets 4.05."""

    def __init__(
        self,
        endpoint: str,
        *,
        pct: int | None = None,
        rejects: Iterable[int] = (),
        answers: dict[str, tuple[str, int, bytes]] | None = None,
    ) -> None:
        super().__init__()
        # Random first message id and token, as RFC 7252 asks of real
        # clients: a client that reuses an earlier client's port must not
        # look like its retransmission (the server would deduplicate it).
        self._next_mid = random.randrange(0x10000)
        self._next_token = random.randrange(1 << 31)
        self.endpoint = endpoint
        self.pct = pct
        self.rejects = set(rejects)
        self.answers = dict(answers or {})
        self.commands: list[Message] = []
        self.server_uri: str | None = None

    def bootstrap(self, server: Address, timeout: float = 10.0, stop_on_reject: bool = False) -> str:
        """Request Bootstrap and answer commands until Finish (returns
        "finish") or an error answer to the request (returns its code);
        TimeoutError when the server goes silent, as a client would wait.
        ``stop_on_reject``: return "rejected" right after rejecting a Write
        (a client that gives up and starts over)."""
        query = [f"ep={self.endpoint}"] + ([f"pct={self.pct}"] if self.pct is not None else [])
        answer = self.call(server, POST, "/bs", query=query, timeout=timeout)
        if answer.code_text != "2.04":
            return answer.code_text
        return self.serve(timeout, stop_on_reject)

    def serve(self, timeout: float = 10.0, stop_on_reject: bool = False) -> str:
        """Answer the bootstrap server's commands until Finish ("finish"), as
        :meth:`bootstrap` does after its request; alone, it plays a 1.0
        client in a server-initiated bootstrap."""
        while True:
            msg, addr = self.wait_request(timeout=timeout)
            self.commands.append(msg)
            if msg.code == POST and msg.uri_path == "/bs":
                self.respond(msg, addr, "2.04")
                return "finish"
            if msg.code == DELETE:
                self.respond(msg, addr, "2.02")
            elif msg.code == PUT and msg.content_format in self.rejects:
                self.respond(msg, addr, "4.00")
                if stop_on_reject:
                    return "rejected"
            elif msg.code == PUT:
                self.server_uri = account_uri(msg.uri_path, msg.payload, msg.content_format) or self.server_uri
                self.respond(msg, addr, "2.04")
            elif msg.code == GET and msg.uri_path in self.answers:
                code_text, fmt, body = self.answers[msg.uri_path]
                self.respond(msg, addr, code_text, payload=body, content_format=fmt)
            else:
                self.respond(msg, addr, "4.05")

    def register(self, timeout: float = 10.0) -> Message:
        """``POST /rd`` at the account's URI; the answer (2.01 expected)."""
        if self.server_uri is None:
            raise AssertionError(f"{self.endpoint}: no server account was written")
        host, port = self.server_uri.removeprefix("coap://").rsplit(":", 1)
        version = "1.1" if self.pct is not None else "1.0"
        return self.call(
            (host, int(port)), POST, "/rd", timeout=timeout,
            query=[f"ep={self.endpoint}", "lt=300", f"lwm2m={version}", "b=U"],
            payload=b"</1/0>,</3/0>", content_format=LINK_FORMAT,
        )
