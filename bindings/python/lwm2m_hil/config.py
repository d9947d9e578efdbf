"""Bootstrap server configurations as Python dicts.

The format is documented in emulator/server/README.md; this module only
builds the common case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .certs import Certificate, Issuer, sign


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
    x509: bool = False,
    server_x509: Issuer | None = None,
    endpoints: Sequence[str] = (),
) -> dict[str, Any]:
    """One endpoint entry that hands every matching device one server account.

    ``server_uri`` is where devices register (``RegistrationServer.uri``, or
    its ``secure_uri`` with ``server_psk``).
    ``delete`` defaults to ``["/"]``: start from a clean slate, as Leshan does.
    ``finish`` is ``"auto"`` (per profile), ``True`` or ``False``.
    ``psk``: the devices must bootstrap over DTLS with this key (and
    identity); ``server_psk``: the credentials written for the server
    account (a literal identity: it is written as given).

    Certificate mode: ``x509=True``: the devices must bootstrap over DTLS
    with a certificate in their own name that the bootstrap server trusts
    (its ``x509=``). ``server_x509`` (:meth:`TestCA.issuer
    <lwm2m_hil.certs.TestCA.issuer>`): the server account is in certificate
    mode, with a key and a certificate made here for each name of
    ``endpoints`` (one entry each, ``match`` is then unused), and
    ``server_x509.trust`` as the server's trust anchor (``/0/x/4``).
    """
    if server_x509 is not None:
        if not isinstance(server_x509, Issuer):
            raise TypeError(f"server_x509: expected an Issuer (TestCA.issuer()), got {type(server_x509).__name__}")
        if not endpoints:
            raise ValueError("endpoints: server_x509 needs the endpoint names (one certificate each)")
        entries = []
        for name in endpoints:
            one = bootstrap_config(
                server_uri, match=name, ssid=ssid, lifetime=lifetime, delete=delete, finish=finish,
                writes=writes, psk=psk, x509=x509,
            )["endpoints"][0]
            one["servers"][0].update(_x509_account(sign(server_x509, name)))
            entries.append(one)
        return {"endpoints": entries}
    server: dict[str, Any] = {"ssid": ssid, "uri": server_uri, "lifetime": lifetime}
    if server_psk is not None:
        server.update(security_mode="psk", psk_identity=server_psk.identity, psk_key_hex=server_psk.key.hex())
    entry: dict[str, Any] = {
        "match": match,
        "delete": ["/"] if delete is None else delete,
        "servers": [server],
        "finish": finish,
    }
    if psk is not None and x509:
        raise ValueError("psk, x509: the devices bootstrap with one of them, not both")
    if psk is not None:
        entry.update(security_mode="psk", psk_identity=psk.identity, psk_key_hex=psk.key.hex())
    if x509:
        entry["security_mode"] = "x509"
    if writes:
        entry["writes"] = writes
    return {"endpoints": [entry]}


def _x509_account(cert: Certificate) -> dict[str, Any]:
    """A server account's keys in certificate mode."""
    return {
        "security_mode": "x509",
        "x509_cert_hex": cert.cert.hex(),
        "x509_key_hex": cert.key.hex(),
        "x509_server_cert_hex": cert.trust.hex(),
    }
