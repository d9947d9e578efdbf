"""Bootstrap server configurations as Python dicts.

The format is documented in emulator/server/README.md; this module only
builds the common case.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Psk:
    """A DTLS pre-shared key (security mode PSK, ``/0/x/2`` = 0).

    ``identity`` may contain ``{endpoint}``, replaced by each device's
    endpoint name, so one ``Psk`` serves a fleet. On a server, ``match`` is
    the glob of endpoint names that may use it.
    """

    identity: str
    key: bytes
    match: str = "*"

    def __post_init__(self) -> None:
        if not isinstance(self.key, bytes) or not self.key:
            raise TypeError("Psk.key: expected non-empty bytes, e.g. bytes.fromhex('00112233')")
        if not self.identity:
            raise ValueError("Psk.identity: must not be empty")


def bootstrap_config(
    server_uri: str,
    *,
    match: str = "*",
    ssid: int = 1,
    lifetime: int = 300,
    delete: list[str] | None = None,
    finish: bool | str = "auto",
    writes: list[dict[str, Any]] | None = None,
    psk: Psk | None = None,
    server_psk: Psk | None = None,
) -> dict[str, Any]:
    """One endpoint entry that hands every matching device one server account.

    ``server_uri`` is where devices register (``RegistrationServer.uri``, or
    its ``secure_uri`` with ``server_psk``).
    ``delete`` defaults to ``["/"]``: start from a clean slate, as Leshan does.
    ``finish`` is ``"auto"`` (per profile), ``True`` or ``False``.
    ``psk``: the devices must bootstrap over DTLS with this key (and
    identity); ``server_psk``: the credentials written for the server
    account (a literal identity: it is written as given).
    """
    server: dict[str, Any] = {"ssid": ssid, "uri": server_uri, "lifetime": lifetime}
    if server_psk is not None:
        server.update(security_mode="psk", psk_identity=server_psk.identity, psk_key_hex=server_psk.key.hex())
    entry: dict[str, Any] = {
        "match": match,
        "delete": ["/"] if delete is None else delete,
        "servers": [server],
        "finish": finish,
    }
    if psk is not None:
        entry.update(security_mode="psk", psk_identity=psk.identity, psk_key_hex=psk.key.hex())
    if writes:
        entry["writes"] = writes
    return {"endpoints": [entry]}
