"""Log lines of the standalone servers (`bootstrap-server`, `registration-server`).

Endpoint names and other client-supplied text are escaped before they reach
the log: a client must not be able to start a line of its own (newline),
hide text (NUL, ESC sequences) or pass for another endpoint.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

from ._device import Event


def _escape(text: str, keep_space: bool) -> str:
    out = []
    for ch in text:
        n = ord(ch)
        if (0x21 <= n <= 0x7E and ch != "\\") or (keep_space and ch == " "):
            out.append(ch)
        elif n < 0x100:
            out.append(f"\\x{n:02x}")
        elif n < 0x10000:
            out.append(f"\\u{n:04x}")
        else:
            out.append(f"\\U{n:08x}")
    return "".join(out)


def escape_name(name: str) -> str:
    """An endpoint name as one printable token: everything outside ASCII
    ``!``..``~``, and backslash itself, as ``\\xNN`` (``\\uNNNN``)."""
    return _escape(name, keep_space=False)


def escape_text(text: str) -> str:
    """Free text (reasons, notices) on one printable line: as
    :func:`escape_name`, but spaces stay."""
    return _escape(text, keep_space=True)


_FORMATS = {0: "text", 42: "opaque", 110: "senml-json", 112: "senml-cbor", 11542: "tlv"}


def session_line(r: dict[str, Any]) -> str:
    """``dev-1 SUCCESS errors=0 duration=12ms profile=1.0 format=tlv``, then
    ``back_to_back=N`` when the endpoint restarted quickly, and the reason."""
    fmt = _FORMATS.get(int(r["content_format"]), str(r["content_format"]))
    line = (
        f"{escape_name(r['endpoint'])} {r['outcome']} errors={r['error_responses']} "
        f"duration={max(0, r['ended_ms'] - r['started_ms'])}ms profile={r['profile']} format={fmt}"
    )
    if r["back_to_back"]:
        line += f" back_to_back={r['back_to_back']}"
    if r["throttled"]:
        line += f" throttled={r['throttled']}"
    if r["reason"]:
        line += f" ({escape_text(r['reason'])})"
    return line


def read_lines(r: dict[str, Any]) -> list[str]:
    """``dev-1 discover / 2.05 ct=40 </>;lwm2m="1.0",</0/0>``: one line per
    Bootstrap-Discover or -Read answer of the session (payload as text or hex)."""
    name = escape_name(r["endpoint"])
    return [
        f"{name} {a['op']} {escape_name(a['path'])} {a['code']} ct={a['content_format']} {escape_text(a['payload'])}"
        for a in r.get("reads", [])
    ]


def notice_line(e: Event) -> str:
    """``rejected: POST /bs: 4.00, no endpoint name`` and the like."""
    return f"{e.kind}: {escape_text(e.detail)}"


def bootstrap_lines(sessions: Sequence[dict[str, Any]], notices: Sequence[Event], dropped: int) -> list[str]:
    """One take of :meth:`BootstrapServer.take_log`, as log lines in the
    order they happened (by the server's clock)."""
    timed = [(e.time, notice_line(e)) for e in notices]
    timed += [(r["ended_ms"] / 1000.0, line) for r in sessions for line in [session_line(r), *read_lines(r)]]
    timed.sort(key=lambda t: t[0])  # stable: a session's read lines stay after it
    lines = [line for _, line in timed]
    if dropped:
        lines.append(f"log: {dropped} ended sessions not shown (the server's log queue overflowed)")
    return lines


def registration_line(e: Event) -> str:
    """``registered ep=dev-1 id=1 lt=300 b=U``, escaped."""
    return f"{e.kind} {escape_text(e.detail)}"


def os_seed() -> int:
    """A 64-bit seed from the operating system: unpredictable CoAP tokens and
    message ids unless the user asks for a reproducible run with --seed."""
    return int.from_bytes(os.urandom(8), "big")
