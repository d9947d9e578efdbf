"""Bootstrap server configurations as Python dicts.

The format is documented in emulator/server/README.md; this module only
builds the common case.
"""

from __future__ import annotations

from typing import Any


def bootstrap_config(
    server_uri: str,
    *,
    match: str = "*",
    ssid: int = 1,
    lifetime: int = 300,
    delete: list[str] | None = None,
    finish: bool | str = "auto",
    writes: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One endpoint entry that hands every matching device one server account.

    ``server_uri`` is where devices register (``RegistrationServer.uri``).
    ``delete`` defaults to ``["/"]``: start from a clean slate, as Leshan does.
    ``finish`` is ``"auto"`` (per profile), ``True`` or ``False``.
    """
    entry: dict[str, Any] = {
        "match": match,
        "delete": ["/"] if delete is None else delete,
        "servers": [{"ssid": ssid, "uri": server_uri, "lifetime": lifetime}],
        "finish": finish,
    }
    if writes:
        entry["writes"] = writes
    return {"endpoints": [entry]}
