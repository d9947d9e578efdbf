"""Bootstrap-Read and -Discover answers as :meth:`BootstrapServer.results` shows them."""

from __future__ import annotations

from typing import Any, TypedDict

# Content formats whose payload is text: plain text, link format, SenML-JSON.
_TEXT_FORMATS = {0, 40, 110}


class ReadAnswer(TypedDict):
    """What a client answered to one Bootstrap-Read (``op`` ``"read"``) or
    Bootstrap-Discover (``"discover"``) of a session."""

    op: str
    path: str
    code: str  # "2.05", "4.05", ...
    content_format: int | None
    payload: str  # text for formats 0, 40 and 110; hex digits otherwise
    payload_bytes: bytes


def read_answers(raw: list[dict[str, Any]]) -> list[ReadAnswer]:
    """The binding's entries with ``payload`` as text or hex digits, as the
    content format allows (a text format that is not UTF-8 goes as hex)."""
    out: list[ReadAnswer] = []
    for r in raw:
        data: bytes = r["payload"]
        shown = data.hex()
        if r["content_format"] in _TEXT_FORMATS:
            try:
                shown = data.decode("utf-8")
            except UnicodeDecodeError:
                pass
        out.append(
            ReadAnswer(
                op=r["op"],
                path=r["path"],
                code=r["code"],
                content_format=r["content_format"],
                payload=shown,
                payload_bytes=data,
            )
        )
    return out
