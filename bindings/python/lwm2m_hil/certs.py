"""Certificates for certificate mode (LwM2M security mode 2, ETS 1.1-int-2).

A :class:`TestCA` is made at run time (P-256, ECDSA-SHA256, with Debian's
``python3-cryptography``); it signs the servers' certificates and, through
:meth:`TestCA.issuer`, every device's own (the emulator mints a key and a
certificate per device, its Common Name the endpoint name)::

    ca = TestCA()
    registration = emu.registration_server(x509=ca.server("registration"))
    bootstrap = emu.bootstrap_server(config, x509=ca.server("bootstrap"))
    fleet = emu.fleet(100, bootstrap.secure_uri, x509=ca.issuer())

Everything is DER. These are test credentials: never ship their keys.
:class:`TestCA` and :func:`sign` need Debian's ``python3-cryptography``;
:class:`Certificate` and :class:`Issuer` of your own DER bytes do not.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

# Validity that covers the virtual clock's epoch (2020-01-01, mbedTLS reads
# it in virtual-time runs) and the years around today.
NOT_BEFORE = datetime.datetime(2019, 1, 1, tzinfo=datetime.timezone.utc)
NOT_AFTER = datetime.datetime(2049, 12, 31, 23, 59, 59, tzinfo=datetime.timezone.utc)


@dataclass(frozen=True)
class Certificate:
    """One party's credentials: its certificate and private key (PKCS#8),
    and ``trust``, the certificate its peer's must chain to (a CA)."""

    cert: bytes
    key: bytes
    trust: bytes

    def __post_init__(self) -> None:
        for name in ("cert", "key", "trust"):
            if not isinstance(getattr(self, name), bytes) or not getattr(self, name):
                raise TypeError(f"Certificate.{name}: expected non-empty DER bytes")


def load_der(path: str) -> bytes:
    """A certificate or key file's DER: the file as it is, or the first
    PEM block in it (``-----BEGIN ...-----``) decoded."""
    import base64
    import binascii

    data = Path(path).read_bytes()
    if b"-----BEGIN" not in data:
        return data
    body = data.split(b"-----BEGIN", 1)[1].split(b"-----", 2)[1]
    try:
        return base64.b64decode(body.split(b"-----END", 1)[0], validate=False)
    except binascii.Error as e:
        raise ValueError(f"{path}: not a PEM block ({e})") from None


def certificate_files(cert: str, key: str, trust: str) -> Certificate:
    """A :class:`Certificate` from three files, DER or PEM (``load_der``)."""
    return Certificate(load_der(cert), load_der(key), load_der(trust))


@dataclass(frozen=True)
class Issuer:
    """A CA that signs one certificate per device, minted by the emulator:
    Common Name ``cn`` (``{endpoint}`` is each device's name), valid from
    ``not_before`` to ``not_after``; ``trust`` is what the bootstrap
    server's certificate must chain to (``/0/0/4``)."""

    ca_cert: bytes
    ca_key: bytes
    trust: bytes
    cn: str = "{endpoint}"
    not_before: datetime.datetime = NOT_BEFORE
    not_after: datetime.datetime = NOT_AFTER

    def __post_init__(self) -> None:
        if not self.not_before < self.not_after:
            raise ValueError("Issuer: not_before must come before not_after")


def _utc(t: datetime.datetime) -> datetime.datetime:
    return t if t.tzinfo else t.replace(tzinfo=datetime.timezone.utc)


def _der_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    # mypy does not see private_bytes through Debian's cryptography 38
    # (its ec module's import cycle); the method is there at run time.
    der: bytes = key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return der


def sign(issuer: Issuer, cn: str) -> Certificate:
    """What the emulator mints for a device, made here instead: a new key
    and a certificate named ``cn``, signed by ``issuer``'s CA (for accounts
    a bootstrap configuration hands out, :func:`~lwm2m_hil.bootstrap_config`)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    ca = x509.load_der_x509_certificate(issuer.ca_cert)
    ca_key = serialization.load_der_private_key(issuer.ca_key, password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise TypeError("Issuer.ca_key: expected an EC private key")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_utc(issuer.not_before))
        .not_valid_after(_utc(issuer.not_after))
        .sign(ca_key, hashes.SHA256())
    )
    return Certificate(cert.public_bytes(serialization.Encoding.DER), _der_key(key), issuer.trust)


class TestCA:
    """A self-signed P-256 CA, made afresh (a new key each time)."""

    __test__ = False  # not a pytest test class

    def __init__(self, name: str = "lwm2m-hil test CA") -> None:
        # Imported here: the rest of the package works without Debian's python3-cryptography.
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self._key = ec.generate_private_key(ec.SECP256R1())
        self._name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        builder = self._builder(self._name, self._key.public_key(), NOT_BEFORE, NOT_AFTER)
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        self._cert = builder.sign(self._key, hashes.SHA256())

    @property
    def cert(self) -> bytes:
        """The CA's certificate, DER: what peers must chain to."""
        from cryptography.hazmat.primitives import serialization

        return self._cert.public_bytes(serialization.Encoding.DER)

    @property
    def key(self) -> bytes:
        """The CA's private key, PKCS#8 DER."""
        return _der_key(self._key)

    def issue(
        self,
        cn: str,
        *,
        trust: bytes | None = None,
        not_before: datetime.datetime = NOT_BEFORE,
        not_after: datetime.datetime = NOT_AFTER,
    ) -> Certificate:
        """A new key and a certificate with Common Name ``cn``, signed by
        this CA; ``trust`` defaults to this CA's certificate."""
        if not cn:
            raise ValueError("cn: must not be empty")
        return sign(self.issuer(trust=trust, not_before=not_before, not_after=not_after), cn)

    def server(self, name: str, *, trust: bytes | None = None) -> Certificate:
        """A server's certificate (``x509=`` of ``bootstrap_server()`` and
        ``registration_server()``); it trusts devices of this CA unless
        ``trust`` names another."""
        return self.issue(name, trust=trust)

    def issuer(
        self,
        *,
        trust: bytes | None = None,
        cn: str = "{endpoint}",
        not_before: datetime.datetime = NOT_BEFORE,
        not_after: datetime.datetime = NOT_AFTER,
    ) -> Issuer:
        """Device certificates for ``device(x509=...)`` or ``fleet(x509=...)``:
        each device gets its own, named ``cn``; the servers' certificates
        must chain to ``trust`` (default: this CA)."""
        return Issuer(self.cert, self.key, trust or self.cert, cn, _utc(not_before), _utc(not_after))

    def _builder(
        self,
        subject: x509.Name,
        public_key: ec.EllipticCurvePublicKey,
        start: datetime.datetime,
        end: datetime.datetime,
    ) -> x509.CertificateBuilder:
        from cryptography import x509

        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self._name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
        )
