"""What a device is made of: the names of its states and exits, and the one
schema of device options (:class:`DeviceOptions`) that ``Emulator.device``
and ``Emulator.fleet`` take, with the checks that run before the C++
``DeviceSpec`` validates the rest.

Defaults live in one place, the C++ ``DeviceSpec``: an option left out
keeps its value there.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from typing import Literal, Mapping, Sequence, TypedDict, get_args

from . import _core
from .certs import Certificate, Issuer
from .config import Psk

State = Literal["factory", "bootstrapping", "bootstrapped", "registering", "registered", "failed"]
BootstrapExit = Literal["none", "finish", "idle_timeout", "finish_timeout", "rejected"]
Clock = Literal["real", "virtual"]
Profile = Literal["cr", "1.0", "1.1"]
StateSource = Literal["uart", "wire", "both"]
FlashViolation = Literal["and", "error"]

STATES: tuple[State, ...] = get_args(State)
BOOTSTRAP_EXITS: tuple[BootstrapExit, ...] = get_args(BootstrapExit)
CLOCKS: tuple[Clock, ...] = get_args(Clock)
PROFILES: tuple[Profile, ...] = get_args(Profile)
STATE_SOURCES: tuple[StateSource, ...] = get_args(StateSource)

# A device sends its name in one CoAP Uri-Query option, "ep=NAME", which
# holds at most 255 bytes.
MAX_ENDPOINT_BYTES = 252


@dataclass(frozen=True)
class CoapTiming:
    """RFC 7252 transmission parameters. Defaults are the RFC's; tests on
    loopback usually shorten ``ack_timeout`` (down to 0.001 s)."""

    ack_timeout: float = 2.0
    ack_random_factor: float = 1.5
    max_retransmit: int = 4


@dataclass(frozen=True)
class FlashGeometry:
    """A NOR flash: ``size`` bytes in erase sectors of ``sector_size``,
    programmed in pages of ``page_size``. The configuration store needs at
    least two sectors. The default is small on purpose: a fleet keeps one
    image per device in memory."""

    size: int = 8 * 1024
    sector_size: int = 4 * 1024
    page_size: int = 256


@dataclass(frozen=True)
class Burst:
    """Gilbert-Elliott bursty loss: a good and a bad state, each with its
    own loss probability; the mean burst lasts 1 / p_bad_to_good datagrams."""

    p_good_to_bad: float
    p_bad_to_good: float
    loss_in_good: float = 0.0
    loss_in_bad: float = 1.0


class DeviceOptions(TypedDict, total=False):
    """Every option of ``Emulator.device`` and ``Emulator.fleet``; all are
    optional, and one left out keeps the C++ ``DeviceSpec`` default.

    The client: ``profile``; ``request_finish`` (cr: ask for Finish);
    ``finish_fallback`` (cr: a Request Bootstrap with Finish=true refused
    4.00 or 4.02 is sent once more without it, and the idle timer ends that
    bootstrap); ``finish_timeout``, ``idle_timeout``, ``hold_off`` (s);
    ``retry_initial``, ``retry_factor``, ``retry_max``, ``retry_jitter``;
    ``max_bootstrap_attempts``, ``register_attempts``; ``server_uri`` (+
    ``server_ssid``, ``server_lifetime``: a server account provisioned at
    the factory, so the device registers without bootstrap); ``timing``;
    ``x509`` (certificate mode instead of ``psk``: an
    :class:`~lwm2m_hil.certs.Issuer` from ``TestCA.issuer()`` gives each
    device a key and certificate of its own, a
    :class:`~lwm2m_hil.certs.Certificate` one device this one);
    ``bootstrap_linger`` (s: how long the bootstrap session stays open
    after bootstrap, for a retransmitted Finish or a server-initiated
    bootstrap; a ``bootstrap_session_released`` event ends it);
    ``record_messages``; ``psk`` (the bootstrap
    account's DTLS credentials, for a coaps:// bootstrap URI); ``objects``
    (paths of DDF XML files: objects of your own, next to the builtin 0, 1,
    2, 3, 4, 5, 7; writes to them are typed by the file); ``start`` (False:
    boot later with ``start()``).

    The flash: ``flash`` (None: no flash, the configuration lives in RAM
    only); ``flash_image`` (a file backing it; ``{endpoint}`` is replaced
    per device); ``flash_violation``; ``flash_endurance`` (erases per
    sector); ``flash_program_latency`` and ``flash_erase_latency`` (s per
    operation); ``reboot_after_power_cut`` (s; -1 stays off).

    A firmware image under QEMU instead of the native client (NoSec only;
    the client options above become the image's arguments):
    ``firmware`` (the image's path), ``firmware_args`` (more key=value
    arguments; None passes no ``-append``), ``qemu``, ``machine``,
    ``work_dir``, ``state_source`` (learn state from the UART, the wire or
    both), ``server_map`` (``{"a.b.c.d:port" as the image has it:
    "coap://127.0.0.1:port"}``). firmware-images/README.md has the details.
    """

    profile: Profile
    request_finish: bool
    finish_fallback: bool
    finish_timeout: float
    idle_timeout: float
    hold_off: int
    retry_initial: float
    retry_factor: float
    retry_max: float
    retry_jitter: float
    max_bootstrap_attempts: int
    register_attempts: int
    server_uri: str
    server_ssid: int
    server_lifetime: int
    timing: CoapTiming
    bootstrap_linger: float
    record_messages: bool
    psk: Psk
    x509: Certificate | Issuer
    objects: Sequence[str | os.PathLike[str]]
    start: bool
    flash: FlashGeometry | None
    flash_image: str | os.PathLike[str]
    flash_violation: FlashViolation
    flash_endurance: int
    flash_program_latency: float
    flash_erase_latency: float
    reboot_after_power_cut: float
    firmware: str | os.PathLike[str]
    firmware_args: Mapping[str, object] | Sequence[str] | str | None
    qemu: str
    machine: str
    work_dir: str | os.PathLike[str]
    state_source: StateSource
    server_map: Mapping[str, str]


# Options that are not DeviceSpec fields of the same name.
_SPEC_SPECIAL = ("psk", "x509", "timing", "flash", "objects", "start", "flash_image")
_QEMU_ONLY = ("firmware", "firmware_args", "qemu", "machine", "work_dir", "state_source", "server_map")


def native_spec(bootstrap_uri: str, options: DeviceOptions) -> _core.DeviceSpec:
    """The C++ DeviceSpec of a native device; the spec checks the values."""
    check_device_uri("bootstrap_uri", bootstrap_uri)
    spec = _core.DeviceSpec()
    spec.bootstrap_uri = bootstrap_uri
    unknown = sorted(k for k in options if k not in DeviceOptions.__annotations__ or k in _QEMU_ONLY)
    if unknown:
        native = sorted(k for k in DeviceOptions.__annotations__ if k not in _QEMU_ONLY)
        raise TypeError(f"unknown device option(s) {unknown}; allowed: {', '.join(native)} "
                        "(and, with firmware=, the QEMU options)")
    if options.get("server_uri"):
        check_device_uri("server_uri", options["server_uri"])
    psk = options.get("psk")
    if psk is not None:
        if not isinstance(psk, Psk):
            raise TypeError(f"psk: expected a Psk, got {type(psk).__name__}")
        spec.psk_identity, spec.psk_key = psk.identity, psk.key
    _x509_spec(spec, options.get("x509"))
    timing = options.get("timing")
    if timing is not None:
        check_timing(timing)
        spec.ack_timeout = timing.ack_timeout
        spec.ack_random_factor = timing.ack_random_factor
        spec.max_retransmit = timing.max_retransmit
    objects = options.get("objects")
    if objects is not None:
        if isinstance(objects, (str, os.PathLike)):
            raise TypeError("objects: expected a list of DDF file paths, got one path")
        spec.objects = [os.fspath(p) for p in objects]
    if "flash_image" in options:
        spec.flash_image = os.fspath(options["flash_image"])
    flash = options.get("flash", FlashGeometry())
    if flash is not None:
        if not isinstance(flash, FlashGeometry):
            raise TypeError("flash: expected a FlashGeometry or None")
        spec.flash_size, spec.flash_sector_size, spec.flash_page_size = flash.size, flash.sector_size, flash.page_size
    for key, value in options.items():
        if key in _SPEC_SPECIAL:
            continue
        try:
            setattr(spec, key, value)
        except TypeError:
            want = type(getattr(spec, key)).__name__
            raise TypeError(f"{key}: expected {want}, got {type(value).__name__} {value!r}") from None
    spec.validate()
    return spec


def server_certificate(x509: Certificate | None) -> tuple[bytes, bytes, bytes] | None:
    """A server's own certificate as the runtime takes it: (cert, key, trust)."""
    if x509 is None:
        return None
    if not isinstance(x509, Certificate):
        raise TypeError(f"x509: expected a Certificate (TestCA.server()), got {type(x509).__name__}")
    return (x509.cert, x509.key, x509.trust)


def _x509_spec(spec: _core.DeviceSpec, x509: Certificate | Issuer | None) -> None:
    """A device's certificate-mode credentials: its own, or minted per device."""
    if x509 is None:
        return
    if isinstance(x509, Certificate):
        spec.x509_cert, spec.x509_key, spec.x509_server_cert = x509.cert, x509.key, x509.trust
    elif isinstance(x509, Issuer):
        spec.x509_ca_cert, spec.x509_ca_key, spec.x509_server_cert = x509.ca_cert, x509.ca_key, x509.trust
        spec.x509_cn = x509.cn
        spec.x509_not_before = _mbedtls_time(x509.not_before)
        spec.x509_not_after = _mbedtls_time(x509.not_after)
    else:
        raise TypeError(f"x509: expected an Issuer (TestCA.issuer()) or a Certificate, got {type(x509).__name__}")


def _mbedtls_time(t: datetime.datetime) -> str:
    """UTC as mbedTLS writes certificate validity: YYYYMMDDhhmmss."""
    if t.tzinfo is not None:
        t = t.astimezone(datetime.timezone.utc)
    return t.strftime("%Y%m%d%H%M%S")


def probability(name: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}: must be a probability 0..1, got {value}")
    return float(value)


def seconds_ms(name: str, value: float) -> int:
    if value < 0:
        raise ValueError(f"{name}: must be >= 0 seconds, got {value}")
    return int(round(value * 1000))


def check_device_uri(name: str, uri: object) -> None:
    """A URI a device can reach: coap:// or coaps://, an IPv4 address or
    localhost (devices send from 127.1.x.y), a port 1..65535."""
    if not isinstance(uri, str):
        raise TypeError(f"{name}: expected a URI string, got {type(uri).__name__} {uri!r}")
    hint = "(e.g. coap://127.0.0.1:5683)"
    scheme, sep, rest = uri.partition("://")
    host, colon, port = rest.rstrip("/").rpartition(":")
    if scheme not in ("coap", "coaps") or not sep or not colon or not host:
        raise ValueError(f"{name}: {uri!r} is not coap://HOST:PORT or coaps://HOST:PORT {hint}")
    if not (port.isdigit() and 1 <= int(port) <= 65535):
        raise ValueError(f"{name}: {uri!r} has no port 1..65535 {hint}")
    if host != "localhost":
        try:
            ip = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            raise ValueError(f"{name}: {uri!r}: the host must be a numeric address or localhost {hint}") from None
        if ip.version != 4:
            raise ValueError(f"{name}: {uri!r}: devices send from 127.1.x.y, so the server must be IPv4 {hint}")


def check_endpoint(name: str, endpoint: object) -> str:
    if not isinstance(endpoint, str):
        raise TypeError(f"{name}: expected a string, got {type(endpoint).__name__}")
    if not endpoint:
        raise ValueError(f"{name}: an endpoint name must not be empty")
    size = len(endpoint.encode("utf-8", "surrogatepass"))
    if size > MAX_ENDPOINT_BYTES:
        raise ValueError(
            f"{name}: an endpoint name of {size} bytes is too long: at most {MAX_ENDPOINT_BYTES} "
            "(it travels in one CoAP Uri-Query option, ep=NAME)"
        )
    return endpoint


def check_timing(timing: object) -> None:
    if not isinstance(timing, CoapTiming):
        raise TypeError(
            f"timing: expected a CoapTiming, e.g. CoapTiming(ack_timeout=0.5), got {type(timing).__name__} {timing!r}"
        )


def check_names(name: str, values: Sequence[str], allowed: Sequence[str]) -> list[str]:
    for v in values:
        if v not in allowed:
            raise ValueError(f"{name}: {v!r} is not one of {', '.join(allowed)}")
    return list(values)


def as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)
