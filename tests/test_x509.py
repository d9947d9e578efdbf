"""Certificate mode (LwM2M security mode 2, ETS 1.1-int-2): bootstrap and
registration over DTLS with X.509 certificates (ECDSA P-256,
TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8) through libcoap's mbedTLS backend,
and the refusals a server names: a certificate from the wrong CA
(CERT_UNTRUSTED), one outside its validity (CERT_EXPIRED), one whose
Common Name is not the endpoint the client claims (CERT_NAME_MISMATCH).

Real handshakes over real loopback sockets; a test CA is made for each test.
"""

from __future__ import annotations

import base64
import datetime
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from helpers import FAST, assert_refused_after_handshake, details, kinds, outcome_of, wait_until
from lwm2m_hil import Emulator, Psk, TestCA, bootstrap_config
from test_cli import Server, cli_server  # noqa: F401  (the fixture that stops CLI servers)

UTC = datetime.timezone.utc


def x509_servers(emu: Emulator, ca: TestCA, endpoints: list[str]) -> tuple[Any, Any]:
    """A registration server and a bootstrap server with certificates of
    `ca`, trusting it; the bootstrap server wants a certificate from each of
    `endpoints` and hands each a registration certificate of its own."""
    rs = emu.registration_server(timing=FAST, x509=ca.server("dm.example"))
    config = bootstrap_config(rs.secure_uri, x509=True, server_x509=ca.issuer(), endpoints=endpoints)
    bs = emu.bootstrap_server(config, timing=FAST, x509=ca.server("bs.example"))
    return rs, bs


def test_int2_certificate_device_bootstraps_and_registers_over_coaps(emulator: Emulator) -> None:
    """ETS 1.1-int-2: the device bootstraps over DTLS with its factory
    certificate (CN = its endpoint name), receives a coaps:// account in
    certificate mode (/0/x/2 = 2, its own certificate /0/x/3, the server's
    trust anchor /0/x/4, its key /0/x/5) and registers over DTLS with it."""
    ca = TestCA()
    rs, bs = x509_servers(emulator, ca, ["dev-1"])
    dev = emulator.device("dev-1", bs.secure_uri, timing=FAST, x509=ca.issuer())
    dev.wait_for("registered", exit="finish", timeout=20)
    assert outcome_of(bs, "dev-1")["outcome"] == "SUCCESS"
    assert "dev-1" in rs.registrations()
    assert len(kinds(dev, "dtls_connected")) == 2
    handshakes = details(dev, "dtls_handshake")
    assert handshakes[0].startswith(f"to {bs.secure_uri} with a certificate")
    assert handshakes[1].startswith(f"to {rs.secure_uri} with a certificate")
    account = dev.objects()[0][1]
    assert account[0] == rs.secure_uri
    assert account[2] == 2  # security mode: Certificate
    assert account[4] == ca.cert  # the server's trust anchor
    issued = x509_cn(account[3])
    assert issued == "dev-1"
    assert dev.objects()[0][0][2] == 2  # the factory bootstrap account too


def test_device_with_a_certificate_of_its_own(emulator: Emulator) -> None:
    """A Certificate made outside the emulator (here by the test CA) is the
    device's factory certificate as given: /0/0/3 holds exactly its bytes."""
    ca = TestCA()
    rs, bs = x509_servers(emulator, ca, ["dev-1"])
    own = ca.issue("dev-1")
    dev = emulator.device("dev-1", bs.secure_uri, timing=FAST, x509=own)
    dev.wait_for("registered", exit="finish", timeout=20)
    assert dev.read("/0/0/3") == own.cert and dev.read("/0/0/2") == 2  # Delete / keeps the bootstrap account


def x509_cn(der: bytes) -> str:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return str(x509.load_der_x509_certificate(der).subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def test_certificate_of_another_ca_is_cert_untrusted(emulator: Emulator) -> None:
    """A device certificate signed by a CA the bootstrap server does not
    trust: the handshake fails and the outcome of the endpoint its
    certificate names is CERT_UNTRUSTED; the device retries, never
    bootstrapped."""
    ca, rogue = TestCA(), TestCA("rogue CA")
    rs, bs = x509_servers(emulator, ca, ["dev-1"])
    dev = emulator.device("dev-1", bs.secure_uri, timing=FAST, x509=rogue.issuer(trust=ca.cert), retry_initial=0.2)
    r = outcome_of(bs, "dev-1")
    assert r["outcome"] == "CERT_UNTRUSTED"
    assert r["reason"].startswith('DTLS handshake with the certificate of "dev-1" from 127.1.')
    wait_until(lambda: kinds(dev, "dtls_failed"), 10, "the device to see the failed handshake")
    assert dev.state == "bootstrapping"
    assert r["requests_sent"] == 0


def test_expired_certificate_is_cert_expired(emulator: Emulator) -> None:
    """A device certificate of the trusted CA that expired in 2010."""
    ca = TestCA()
    rs, bs = x509_servers(emulator, ca, ["dev-1"])
    old = ca.issuer(
        not_before=datetime.datetime(2000, 1, 1, tzinfo=UTC), not_after=datetime.datetime(2010, 1, 1, tzinfo=UTC)
    )
    dev = emulator.device("dev-1", bs.secure_uri, timing=FAST, x509=old, retry_initial=5)
    r = outcome_of(bs, "dev-1")
    assert r["outcome"] == "CERT_EXPIRED"
    assert r["reason"].endswith("failed: CERT_EXPIRED")
    assert dev.state == "bootstrapping"


def test_certificate_of_another_endpoint_is_cert_name_mismatch(emulator: Emulator) -> None:
    """dev-2 holds a valid certificate of the trusted CA, but in dev-1's
    name: the handshake succeeds, its Request Bootstrap for ep=dev-2 is
    answered 4.00 with CERT_NAME_MISMATCH, and no command is sent."""
    ca = TestCA()
    rs, bs = x509_servers(emulator, ca, ["dev-1", "dev-2"])
    dev = emulator.device("dev-2", bs.secure_uri, timing=FAST, x509=ca.issuer(cn="dev-1"), retry_initial=5)
    assert_refused_after_handshake(bs, dev, "CERT_NAME_MISMATCH", 'certificate of "dev-1" may not act as dev-2')


def test_registration_server_refuses_a_certificate_in_another_name(emulator: Emulator) -> None:
    """The bootstrap server hands dev-1 a registration certificate named
    dev-9: the registration server refuses its Register with 4.03 and a
    CERT_NAME_MISMATCH event; nothing is registered."""
    ca = TestCA()
    rs = emulator.registration_server(timing=FAST, x509=ca.server("dm.example"))
    config = bootstrap_config(rs.secure_uri, x509=True, server_x509=ca.issuer(), endpoints=["dev-9"])
    config["endpoints"][0]["match"] = "dev-1"  # dev-1 gets dev-9's account
    bs = emulator.bootstrap_server(config, timing=FAST, x509=ca.server("bs.example"))
    emulator.device("dev-1", bs.secure_uri, timing=FAST, x509=ca.issuer(), register_attempts=1)
    refused = wait_until(lambda: [e.detail for e in rs.events() if e.kind == "rejected"], 15, "a refusal")
    assert "4.03" in refused[0] and 'CERT_NAME_MISMATCH: certificate of "dev-9" may not act as dev-1' in refused[0]
    assert "dev-1" not in rs.registrations()


def test_nosec_and_psk_requests_for_a_certificate_endpoint_are_unauthorized(emulator: Emulator) -> None:
    """An entry in certificate mode accepts nothing else."""
    ca = TestCA()
    rs, bs = x509_servers(emulator, ca, ["dev-1"])
    emulator.device("dev-1", bs.uri, timing=FAST, retry_initial=5)
    r = outcome_of(bs, "dev-1")
    assert r["outcome"] == "UNAUTHORIZED"
    assert r["reason"].endswith("NoSec, but dev-1 must use DTLS with a certificate")


def test_psk_and_certificate_devices_share_an_emulator(emulator: Emulator) -> None:
    """Devices of both kinds in one emulator (one libcoap context, patch
    0014): each handshake uses its own device's credentials."""
    ca = TestCA()
    key = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
    rs = emulator.registration_server(timing=FAST, x509=ca.server("dm.example"))
    config = bootstrap_config(rs.secure_uri, x509=True, server_x509=ca.issuer(), endpoints=["x-1", "x-2"])
    config["endpoints"].append(bootstrap_config(rs.uri, match="p-*", psk=Psk("{endpoint}", key))["endpoints"][0])
    bs = emulator.bootstrap_server(config, timing=FAST, x509=ca.server("bs.example"))
    devices = [
        emulator.device("p-1", bs.secure_uri, timing=FAST, psk=Psk("{endpoint}", key)),
        emulator.device("x-1", bs.secure_uri, timing=FAST, x509=ca.issuer()),
        emulator.device("p-2", bs.secure_uri, timing=FAST, psk=Psk("{endpoint}", key)),
        emulator.device("x-2", bs.secure_uri, timing=FAST, x509=ca.issuer()),
    ]
    for dev in devices:
        dev.wait_for("registered", exit="finish", timeout=20)
    assert set(bs.outcomes().values()) == {"SUCCESS"}


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_capture_shows_the_lwm2m_certificate_suite(emulator: Emulator, tmp_path: Path) -> None:
    """The ServerHello of both handshakes picks
    TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 (0xc0ae), the suite LwM2M mandates
    for certificates, and the client's Certificate carries its name."""
    ca = TestCA()
    rs, bs = x509_servers(emulator, ca, ["dev-1"])
    pcap = tmp_path / "x509.pcapng"
    emulator.capture(pcap)
    dev = emulator.device("dev-1", bs.secure_uri, timing=FAST, x509=ca.issuer())
    dev.wait_for("registered", exit="finish", timeout=20)
    emulator.capture(None)
    args = ["tshark", "-r", str(pcap)]
    for uri in (bs.secure_uri, rs.secure_uri):
        args += ["-d", f"udp.port=={uri.rsplit(':', 1)[1]},dtls"]
    suites = subprocess.run(
        args + ["-Y", "dtls.handshake.type == 2", "-T", "fields", "-e", "dtls.handshake.ciphersuite"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.split()
    assert suites == ["0xc0ae", "0xc0ae"]


def cli_run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`lwm2m-hil run` in a child process; an ACK timeout that an ECDHE
    handshake on a loaded machine does not outrun."""
    return subprocess.run(
        [sys.executable, "-m", "lwm2m_hil", "run", "--ack-timeout", "1", "--timeout", "120", *args],
        env=env, capture_output=True, text=True, timeout=180,
    )


def test_cli_run_security_x509(package_env: dict[str, str], tmp_path: Path) -> None:
    """`run --security x509`: a test CA made for the run, every device
    bootstraps and registers with certificates of its own."""
    out = tmp_path / "summary.json"
    proc = cli_run(package_env, "--devices", "5", "--security", "x509", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(out.read_text())
    assert summary["security"] == "x509"
    assert summary["registered"] == 5
    assert summary["exits"]["finish"] == 5
    assert re.search(r"^devices\s+5 \(x509\)$", proc.stdout, re.MULTILINE), proc.stdout


def test_cli_run_security_x509_with_an_external_server_is_refused(package_env: dict[str, str]) -> None:
    """Certificates are made for the embedded servers only: exit 2, naming the flags."""
    proc = cli_run(package_env, "--security", "x509", "--bootstrap-uri", "coaps://127.0.0.1:9")
    assert proc.returncode == 2
    assert "--security x509" in proc.stderr and "--bootstrap-uri" in proc.stderr


def test_device_x509_needs_a_coaps_uri(emulator: Emulator) -> None:
    """A certificate for a coap:// account is a mistake the error names."""
    ca = TestCA()
    with pytest.raises(ValueError, match="x509: needs a coaps:// bootstrap_uri"):
        emulator.device("dev-1", "coap://127.0.0.1:9", x509=ca.issuer())
    with pytest.raises(TypeError, match="x509: expected an Issuer"):
        emulator.device("dev-2", "coaps://127.0.0.1:9", x509="cert.pem")


def test_certificates_are_checked_against_the_virtual_clock() -> None:
    """On the virtual clock mbedTLS reads 2020-01-01 onwards: a device
    bootstraps and registers with certificates, and one whose certificate
    becomes valid only in 2021 is refused as CERT_EXPIRED (not yet valid)."""
    ca = TestCA()
    with Emulator(seed=3, clock="virtual") as emu:
        rs, bs = x509_servers(emu, ca, ["dev-1", "dev-2"])
        dev = emu.device("dev-1", bs.secure_uri, timing=FAST, x509=ca.issuer())
        dev.run_until("registered", timeout=600)
        later = ca.issuer(not_before=datetime.datetime(2021, 1, 1, tzinfo=UTC))
        emu.device("dev-2", bs.secure_uri, timing=FAST, x509=later, retry_initial=600)
        emu.run_until(lambda: "dev-2" in bs.outcomes(), timeout=60)
        assert bs.outcomes()["dev-2"] == "CERT_EXPIRED"


def pem(der: bytes, kind: str) -> str:
    body = base64.encodebytes(der).decode()
    return f"-----BEGIN {kind}-----\n{body}-----END {kind}-----\n"


def test_standalone_bootstrap_server_with_x509_files(
    cli_server: Callable[..., Server], tmp_path: Path  # noqa: F811  (the fixture imported from test_cli)
) -> None:
    """`bootstrap-server --x509 CERT,KEY,CA` (PEM files) serves a
    certificate-mode entry: a device with a certificate of that CA
    bootstraps and the server logs its SUCCESS."""
    ca = TestCA()
    own = ca.server("bs.example")
    files = {"cert.pem": pem(own.cert, "CERTIFICATE"), "key.pem": pem(own.key, "PRIVATE KEY"),
             "ca.pem": pem(own.trust, "CERTIFICATE")}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with Emulator() as emu:
        rs = emu.registration_server(timing=FAST)
        config = tmp_path / "bs.json"
        config.write_text(json.dumps(bootstrap_config(rs.uri, x509=True)))
        x509_arg = ",".join(str(tmp_path / n) for n in files)
        server = cli_server("bootstrap-server", "--config", str(config), "--listen", "127.0.0.1:0", "--x509", x509_arg)
        uri = server.wait_line(r"^listening on (coaps://127\.0\.0\.1:\d+)$").group(1)
        dev = emu.device("dev-x", uri, timing=FAST, x509=ca.issuer())
        dev.wait_for("registered", exit="finish", timeout=30)
        server.wait_line(r"^dev-x SUCCESS errors=0")
    assert server.stop() == (0, "")


def test_standalone_server_x509_needs_three_files(package_env: dict[str, str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "lwm2m_hil", "registration-server", "--listen", "127.0.0.1:0", "--x509", "a.pem"],
        env=package_env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert "--x509: expected CERT,KEY,CA" in proc.stderr
