"""The Python face of the emulator: thin classes over the C++ runtime."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, NamedTuple, Sequence

from . import _core
from ._lifetime import Guarded, Lifetime
from .config import Psk
from .decode import capture_comment, decode_options

STATES = ("factory", "bootstrapping", "bootstrapped", "registering", "registered", "failed")
BOOTSTRAP_EXITS = ("none", "finish", "idle_timeout", "finish_timeout", "rejected")
CLOCKS = ("real", "virtual")


class DeviceTimeout(_core.TimeoutError):
    """A wait ran out; the message says where each device stood."""


class ClockError(_core.StateError):
    """A call made for the other clock: a real-time wait on an emulator that
    runs on the virtual clock (nothing would move while it waited), or a
    virtual-time run on a real-time one."""


class Event(NamedTuple):
    """One entry of a timeline: seconds since the emulator started, on its
    clock (virtual seconds on the virtual clock)."""

    time: float
    kind: str
    detail: str


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


_DIRECTIONS = {"both": (True, True), "up": (True, False), "down": (False, True)}


def _probability(name: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}: must be a probability 0..1, got {value}")
    return float(value)


def _seconds_ms(name: str, value: float) -> int:
    if value < 0:
        raise ValueError(f"{name}: must be >= 0 seconds, got {value}")
    return int(round(value * 1000))


def _link_config(now_ms: int, **settings: Any) -> _core.LinkConfig:
    """A LinkConfig from Python settings (seconds; windows relative to now)."""
    allowed = {"loss", "burst", "delay", "jitter", "duplicate", "reorder", "reorder_delay",
               "corrupt", "bandwidth_bps", "mtu", "nat_idle", "partitions", "sleeps"}
    unknown = set(settings) - allowed
    if unknown:
        raise TypeError(f"unknown link setting(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    c = _core.LinkConfig()
    for name in ("loss", "duplicate", "reorder", "corrupt"):
        setattr(c, name, _probability(name, settings.get(name, 0.0)))
    c.delay_ms = _seconds_ms("delay", settings.get("delay", 0.0))
    c.jitter_ms = _seconds_ms("jitter", settings.get("jitter", 0.0))
    c.reorder_ms = _seconds_ms("reorder_delay", settings.get("reorder_delay", 0.0))
    if c.reorder > 0 and c.reorder_ms <= 0:
        raise ValueError("reorder_delay: must be > 0 seconds when reorder > 0 (how long a datagram is held back)")
    c.nat_idle_ms = _seconds_ms("nat_idle", settings.get("nat_idle", 0.0))
    for name in ("bandwidth_bps", "mtu"):
        value = settings.get(name, 0)
        if value < 0:
            raise ValueError(f"{name}: must be >= 0 (0: unlimited), got {value}")
        setattr(c, name, int(value))
    burst = settings.get("burst")
    if burst is not None:
        for name in ("p_good_to_bad", "p_bad_to_good", "loss_in_good", "loss_in_bad"):
            _probability(f"burst.{name}", getattr(burst, name))
        c.set_burst(burst.p_good_to_bad, burst.p_bad_to_good, burst.loss_in_good, burst.loss_in_bad)
    windows = []
    for w in settings.get("partitions", ()):
        start, duration, *rest = w
        direction = rest[0] if rest else "both"
        if direction not in _DIRECTIONS:
            raise ValueError(f"partitions: direction {direction!r} is not one of both, up, down")
        p = _core.Partition()
        p.start_ms = now_ms + _seconds_ms("partitions.start", start)
        p.end_ms = p.start_ms + _seconds_ms("partitions.duration", duration)
        p.uplink, p.downlink = _DIRECTIONS[direction]
        windows.append(p)
    c.partitions = windows
    sleeps = []
    for start, duration in settings.get("sleeps", ()):
        w = _core.SleepWindow()
        w.start_ms = now_ms + _seconds_ms("sleeps.start", start)
        w.end_ms = w.start_ms + _seconds_ms("sleeps.duration", duration)
        sleeps.append(w)
    c.sleeps = sleeps
    c.validate()
    return c


def _rule_fields(action: str, **match: Any) -> list[tuple[str, str]]:
    """Rule keys for the C++ parser; ``delay`` in seconds becomes delay_ms."""
    if action == "delay" and match.get("delay") is None:
        raise ValueError("delay: required (seconds) for action 'delay'")
    fields = [("action", str(action))]
    for key, value in match.items():
        if value is None:
            continue
        if key == "delay":
            fields.append(("delay_ms", str(_seconds_ms("delay", value))))
        else:
            fields.append((key, str(value)))
    return fields


def _events(raw: Iterable[tuple[int, str, str]]) -> list[Event]:
    return [Event(t / 1000.0, kind, detail) for t, kind, detail in raw]


def _check_names(name: str, values: Sequence[str], allowed: Sequence[str]) -> list[str]:
    for v in values:
        if v not in allowed:
            raise ValueError(f"{name}: {v!r} is not one of {', '.join(allowed)}")
    return list(values)


def _config_text(config: dict[str, Any] | str | os.PathLike[str]) -> str:
    """A bootstrap configuration as JSON text: from a dict, a JSON string, or a file."""
    if isinstance(config, dict):
        try:
            return json.dumps(config)
        except RecursionError:
            raise ValueError("config: nested too deeply (a bootstrap configuration is a few levels deep)") from None
    if isinstance(config, os.PathLike) or (isinstance(config, str) and not config.lstrip().startswith("{")):
        return Path(config).read_text()
    return config


def _check_device_uri(name: str, uri: object) -> None:
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


# A device sends its name in one CoAP Uri-Query option, "ep=NAME", which
# holds at most 255 bytes.
MAX_ENDPOINT_BYTES = 252

# Long waits run in slices this long (s): between slices, Python handles
# signals (Ctrl-C) and close() from another thread gets its turn.
_WAIT_SLICE_S = 0.25


def _check_endpoint(name: str, endpoint: object) -> str:
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


def _check_timing(timing: object) -> None:
    if not isinstance(timing, CoapTiming):
        raise TypeError(
            f"timing: expected a CoapTiming, e.g. CoapTiming(ack_timeout=0.5), got {type(timing).__name__} {timing!r}"
        )


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


class Device:
    """One virtual device. Reads are snapshots taken on its event loop."""

    def __init__(self, emulator: Emulator, handle: _core.DeviceHandle) -> None:
        self._emu = emulator
        self._handle = handle

    @property
    def _h(self) -> _core.DeviceHandle:
        # The handle points into the runtime: each use holds it alive, or
        # fails once the emulator is closed.
        return Guarded(self._handle, self._emu._life)  # type: ignore[return-value]

    @property
    def endpoint(self) -> str:
        return self._h.endpoint

    @property
    def state(self) -> str:
        """One of :data:`STATES`."""
        return self._h.state

    @property
    def bootstrap_exit(self) -> str:
        """How the last bootstrap ended: one of :data:`BOOTSTRAP_EXITS`."""
        return self._h.last_exit

    @property
    def address(self) -> str:
        """The IP address servers see this device at (``127.1.x.y``); each
        of its sessions has an ephemeral port of its own."""
        return self._h.address

    def exit_counts(self) -> dict[str, int]:
        """How many times bootstrap ended, by exit reason."""
        return dict(self._h.exit_counts())

    def bootstrap_duration(self) -> float | None:
        """Seconds from the first Request Bootstrap to the first exit."""
        ms = self._h.bootstrap_duration_ms()
        return None if ms < 0 else ms / 1000.0

    def timeline(self) -> list[Event]:
        """Everything the device did and saw, in order."""
        return _events(self._h.timeline())

    def objects(self, staged: bool = False) -> dict[int, dict[int, dict[int, Any]]]:
        """The object tree ``{obj: {inst: {res: value}}}``; with ``staged``,
        what bootstrap has written so far (while it runs)."""
        return self._h.objects(staged)

    def read(self, path: str, staged: bool = False) -> Any:
        """The value at ``/obj[/inst[/res]]``; KeyError names what is missing."""
        parts = [p for p in path.split("/") if p]
        try:
            ids = [int(p) for p in parts]
        except ValueError:
            raise ValueError(f"path: {path!r} is not /obj[/inst[/res]] with numeric ids") from None
        if not 1 <= len(ids) <= 3:
            raise ValueError(f"path: {path!r} is not /obj[/inst[/res]]")
        node: Any = self.objects(staged)
        for depth, i in enumerate(ids):
            if not isinstance(node, dict) or i not in node:
                missing = "/" + "/".join(parts[: depth + 1])
                raise KeyError(f"{self.endpoint} has no {missing}")
            node = node[i]
        return node

    def wait_for(
        self,
        state: str | Sequence[str] | None = None,
        *,
        exit: str | Sequence[str] | None = None,
        timeout: float = 10.0,
    ) -> None:
        """Block (GIL released) until the device is in ``state`` and/or its
        last bootstrap exit is ``exit``; DeviceTimeout after ``timeout`` s.
        Real time only; on the virtual clock use :meth:`run_until`."""
        self._emu._wait([self], state, exit, timeout)

    def run_until(
        self,
        state: str | Sequence[str] | None = None,
        *,
        exit: str | Sequence[str] | None = None,
        timeout: float = 600.0,
    ) -> None:
        """The virtual clock's :meth:`wait_for`: run the emulator until the
        device is in ``state`` and/or has exited with ``exit``, for at most
        ``timeout`` virtual seconds (then DeviceTimeout)."""
        self._emu._run_until_devices([self], state, exit, timeout)

    def deregister(self) -> None:
        """Send De-register to the registration server."""
        self._h.deregister()

    def start(self) -> None:
        """Boot a device created with ``start=False``."""
        self._h.start()

    # --- radio ----------------------------------------------------------

    def link(self, **settings: Any) -> None:
        """Set this device's radio link (replaces the previous settings):
        ``loss``, ``burst`` (:class:`Burst`), ``delay`` and ``jitter`` (s),
        ``duplicate``, ``reorder`` (+ ``reorder_delay`` s), ``corrupt``
        (probabilities), ``bandwidth_bps``, ``mtu`` (bytes),
        ``nat_idle`` (s of silence after which the NAT binding expires),
        ``partitions`` [(start_s, duration_s, 'both'|'up'|'down')] and
        ``sleeps`` [(start_s, duration_s)], both relative to now.
        Faults are seeded by the emulator's seed and the device's name."""
        self._h.configure_link(_link_config(self._emu._runtime.now_ms(), **settings))

    def add_rule(self, action: str, **match: Any) -> None:
        """A message-aware fault: ``action`` drop | delay | duplicate |
        corrupt on the ``nth`` datagram matching ``direction`` (up/down),
        ``type`` (CON/NON/ACK/RST), ``code`` (POST, 2.04, ...), ``path``
        (/bs, /1/*), or ``dtls`` (handshake, application_data, alert), for
        ``count`` datagrams (0: all) with ``probability``; ``delay`` in s;
        ``name`` for the capture. emulator/radio/README.md has the details."""
        self._h.add_rule(_rule_fields(action, **match))

    def clear_rules(self) -> None:
        self._h.clear_rules()

    def rebind_nat(self) -> None:
        """The NAT binding expires now: the next uplink leaves from a new
        port, and downlinks to the old one are lost."""
        self._h.rebind_nat()

    def link_counters(self) -> dict[str, Any]:
        """``total``, ``uplink`` and ``downlink``: sent, delivered, dropped
        (and ``dropped_by`` cause), duplicated, corrupted, delayed, ..."""
        return self._h.link_counters()

    def link_decisions(self) -> list[str]:
        """One line per datagram: what the link did (for replay checks)."""
        return self._h.link_decisions()

    def capture(self, path: str | os.PathLike[str] | None) -> None:
        """Write this device's datagrams, from now on, to a pcapng file, with
        the radio's verdict as each packet's comment; None stops."""
        self._h.capture("" if path is None else os.fspath(path))

    # --- power and flash --------------------------------------------------

    @property
    def powered(self) -> bool:
        """False between a power cut and the reboot that follows it."""
        return self._h.powered

    @property
    def power_cuts(self) -> int:
        """Power cuts that fired on this device (armed or immediate)."""
        return self._h.power_cuts()

    @property
    def torn_configs(self) -> int:
        """Boots that found neither the old nor the new configuration: the
        configuration store promises 0."""
        return self._h.torn_configs()

    def reboot(self) -> None:
        """Lose RAM and boot from flash: a bootstrapped device registers
        again without bootstrap (ETS 1.1-int-6), a factory one bootstraps."""
        self._h.reboot()

    def power_cut(self) -> None:
        """Cut the power now (between flash operations); the device boots
        again after its ``reboot_after_power_cut`` delay."""
        self._h.power_cut()

    def factory_reset(self) -> None:
        """Erase the configuration back to the factory image and reboot."""
        self._h.factory_reset()

    def arm_power_cut(self, op: int = 0, byte: int | None = None) -> None:
        """Cut the power at the ``op``-th flash operation from now (0: the
        next one): before it, or at ``byte`` inside it (a torn program or a
        half-erased sector; emulator/flash/README.md says which bits land)."""
        if op < 0 or (byte is not None and byte < 0):
            raise ValueError("arm_power_cut: op and byte must be >= 0")
        self._h.arm_power_cut(op, byte)

    def arm_random_power_cut(self, within_ops: int, seed: int | None = None) -> None:
        """Cut the power at a random byte of one of the next ``within_ops``
        flash operations. The draw comes from the device's flash generator
        (seeded by the emulator's seed and the endpoint), or, with ``seed``,
        from that seed alone: the same seed cuts at the same place on any
        device."""
        if within_ops < 1:
            raise ValueError(f"within_ops: must be >= 1, got {within_ops}")
        if seed is not None and not 0 <= seed < 2**64:
            raise ValueError(f"seed: must be 0..2**64-1, got {seed}")
        self._h.arm_random_power_cut(within_ops, seed)

    def flip_bit(self, addr: int, bit: int) -> None:
        """Flip one bit of the flash (a retention error)."""
        if not 0 <= bit <= 7:
            raise ValueError(f"bit: must be 0..7, got {bit}")
        self._h.flip_bit(addr, bit)

    def flip_random_bits(self, count: int, addr: int = 0, length: int | None = None) -> None:
        """Flip ``count`` seeded random bits in ``[addr, addr + length)``."""
        size = len(self.flash_image())
        self._h.flip_random_bits(addr, size - addr if length is None else length, count)

    def wear_out(self, sector: int) -> None:
        """Wear ``sector`` out: its erases leave stuck bits from now on; the
        configuration store notices and moves on to other sectors."""
        self._h.wear_out(sector)

    def flash_image(self) -> bytes:
        """The raw flash image, as a chip programmer would read it."""
        return self._h.flash_image()

    def flash_store(self) -> dict[str, Any]:
        """The configuration store decoded: ``sectors`` and ``records``
        (seq, kind, length, boot_count, committed, crc_ok, live)."""
        return self._h.flash_store()

    def flash_counters(self) -> dict[str, int]:
        """programs, erases, bytes_programmed, violations, power_cuts, ..."""
        counters = self._h.flash_counters()
        counters["erases_per_sector"] = self._h.flash_erase_counts()
        return counters

    def __repr__(self) -> str:
        if self._emu._rt is None:
            return "<Device (emulator closed)>"
        return f"<Device {self.endpoint} {self.state} exit={self.bootstrap_exit}>"


class Fleet(Sequence[Device]):
    """Many devices made from one template; a sequence of :class:`Device`."""

    def __init__(self, emulator: Emulator, devices: list[Device]) -> None:
        self._emu = emulator
        self._devices = devices

    def __len__(self) -> int:
        return len(self._devices)

    def __getitem__(self, i):  # type: ignore[override]
        return self._devices[i]

    def __iter__(self) -> Iterator[Device]:
        return iter(self._devices)

    def wait_for(
        self,
        state: str | Sequence[str] | None = None,
        *,
        exit: str | Sequence[str] | None = None,
        timeout: float = 30.0,
    ) -> None:
        """Block until every device is in ``state`` / has exited with ``exit``.
        Real time only; on the virtual clock use :meth:`run_until`."""
        self._emu._wait(self._devices, state, exit, timeout)

    def run_until(
        self,
        state: str | Sequence[str] | None = None,
        *,
        exit: str | Sequence[str] | None = None,
        timeout: float = 600.0,
    ) -> None:
        """The virtual clock's :meth:`wait_for`: run the emulator until every
        device is in ``state`` / has exited with ``exit``, for at most
        ``timeout`` virtual seconds (then DeviceTimeout). The check runs in
        C++ after every instant, cheap for any fleet."""
        self._emu._run_until_devices(self._devices, state, exit, timeout)

    def link(self, **settings: Any) -> None:
        """Set the radio link of every device (see :meth:`Device.link`)."""
        for d in self._devices:
            d.link(**settings)

    def add_rule(self, action: str, **match: Any) -> None:
        """Add a message-aware fault to every device's link."""
        for d in self._devices:
            d.add_rule(action, **match)

    def link_counters(self) -> dict[str, Any]:
        """Every device's ``total`` link counters summed over the fleet:
        sent, delivered, dropped (and ``dropped_by`` cause), duplicated,
        corrupted, delayed, reordered, nat_rebinds."""
        out: dict[str, Any] = {"dropped_by": {}}
        for d in self._devices:
            for key, value in d.link_counters()["total"].items():
                if key == "dropped_by":
                    for cause, n in value.items():
                        out["dropped_by"][cause] = out["dropped_by"].get(cause, 0) + n
                else:
                    out[key] = out.get(key, 0) + value
        return out

    def start(self) -> None:
        """Boot every device of a fleet created with ``start=False``."""
        from ._qemu import QemuDevice, split_handles

        native, _ = split_handles(self._devices)
        self._emu._runtime.start_devices(native)  # one trip per loop, not per device
        for d in self._devices:
            if isinstance(d, QemuDevice):
                d.start()

    def states(self) -> dict[str, int]:
        """How many devices are in each state."""
        out: dict[str, int] = {}
        for d in self._devices:
            out[d.state] = out.get(d.state, 0) + 1
        return out

    def exits(self) -> dict[str, int]:
        """How many devices last left bootstrap by each exit."""
        out: dict[str, int] = {}
        for d in self._devices:
            out[d.bootstrap_exit] = out.get(d.bootstrap_exit, 0) + 1
        return out


class _Server:
    """What both embedded servers share: a handle that outlives no emulator."""

    def __init__(self, emulator: Emulator, handle: Any) -> None:
        self._emu = emulator
        self._handle = handle

    @property
    def _h(self) -> Any:
        return Guarded(self._handle, self._emu._life)  # RuntimeError once the emulator is closed

    @property
    def uri(self) -> str:
        """coap://HOST:PORT (NoSec)."""
        return self._handle.uri  # a copy held by the handle: safe after close

    @property
    def secure_uri(self) -> str:
        """coaps://HOST:PORT (DTLS with a pre-shared key)."""
        return self._handle.secure_uri


class BootstrapServer(_Server):
    """The embedded bootstrap server."""

    def results(self) -> dict[str, dict[str, Any]]:
        """Per endpoint: ``outcome`` (``SUCCESS``, ``NO_BOOTSTRAP_CONFIG``,
        ``FINISH_FAILED``, ``WRITE_REJECTED``, ``DELETE_REJECTED``,
        ``TIMEOUT``, ``CANCELLED``, ... or None while it runs), ``reason``,
        ``profile`` and ``content_format`` the session was served with,
        counters (``sessions``, ``back_to_back``, ``throttled``,
        ``error_responses``, ...) and ``events``."""
        out = {}
        for r in self._h.results():
            r["events"] = _events(r["events"])
            out[r["endpoint"]] = r
        return out

    def outcomes(self) -> dict[str, str | None]:
        """Endpoint -> outcome of its latest bootstrap session."""
        return {ep: r["outcome"] for ep, r in self.results().items()}

    def wait_outcome(self, endpoint: str, timeout: float = 10.0) -> dict[str, Any]:
        """The result of ``endpoint``'s latest session (see :meth:`results`)
        once it has an outcome; TimeoutError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.results().get(endpoint)
            if r is not None and r["outcome"] is not None:
                return r
            if time.monotonic() > deadline:
                state = "no session" if r is None else "a session still running"
                raise TimeoutError(f"no bootstrap outcome for {endpoint} after {timeout} s ({state})")
            time.sleep(0.01)

    def events(self) -> list[Event]:
        """Requests that named no endpoint (bad requests), and DTLS clients
        refused before they named one (an unknown PSK identity); the latest
        ``max_events``."""
        return _events(self._h.events())

    def counters(self) -> dict[str, int]:
        """What the caps dropped: ``results_evicted``,
        ``endpoint_events_evicted``, ``events_evicted``."""
        return self._h.counters()

    def reconfigure(self, config: dict[str, Any] | str | os.PathLike[str]) -> None:
        """Replace the configuration (keys included) for sessions and
        handshakes from now on; running sessions finish as they began."""
        self._h.reconfigure(_config_text(config))

    def take_log(self) -> tuple[list[dict[str, Any]], list[Event], int]:
        """What happened since the last call, each thing once: the sessions
        that ended (as :meth:`results` entries, without events), the new
        :meth:`events`, and how many ended sessions were dropped because
        nobody took them in time (the queue holds 4,096)."""
        sessions, notices, dropped = self._h.take_log()
        return sessions, _events(notices), int(dropped)


class RegistrationServer(_Server):
    """The embedded registration (LwM2M) server."""

    def registrations(self) -> dict[str, dict[str, Any]]:
        """Endpoint -> its current registration (lifetime, version, links...)."""
        return {r["endpoint"]: r for r in self._h.registrations()}

    def events(self) -> list[Event]:
        """registered / updated / deregistered / expired / rejected; the
        latest ``max_events``."""
        return _events(self._h.events())

    def events_since(self, first: int) -> tuple[int, list[Event]]:
        """For following the server: the events numbered ``first`` and on
        (numbered from 0 since it started) that the ``max_events`` cap kept,
        and the number to pass next time."""
        next_index, events = self._h.events_since(first)
        return next_index, _events(events)

    def counters(self) -> dict[str, int]:
        """``events_evicted``, ``lifetimes_capped`` (cut to
        ``max_lifetime``), ``refused_full`` (5.03 at ``max_registrations``),
        ``refused_principal`` (4.03: an Update or De-register from a client
        other than the one that registered)."""
        return self._h.counters()

    def request(
        self,
        endpoint: str,
        method: str,
        path: str,
        payload: bytes = b"",
        *,
        content_format: int | None = None,
        accept: int | None = None,
        timeout: float = 10.0,
    ) -> tuple[str, bytes]:
        """Send a request (``GET``, ``PUT``, ``POST``, ``DELETE`` on ``path``)
        to a registered device over its session, as an LwM2M server's Read,
        Write or Execute; returns the answer's code ("2.05") and payload.
        ``content_format`` and ``accept`` are CoAP content formats (11542
        TLV, 110 SenML-JSON, 112 SenML-CBOR, 0 text, 40 link format).
        :class:`ConfigError` (a ``ValueError``) when the device is not
        registered, :class:`TimeoutError` when it does not answer in time,
        :class:`OSError` when the request cannot reach it."""
        return tuple(
            self._h.request(
                endpoint,
                method,
                path,
                payload,
                -1 if content_format is None else content_format,
                -1 if accept is None else accept,
                timeout,
            )
        )


class Emulator:
    """Owns the event loops, servers and devices. Use it as a context
    manager: leaving the ``with`` block stops everything it started.

    ``clock="real"`` (the default) runs in real time on ``threads`` event
    loops, for external servers and firmware. ``clock="virtual"`` runs on a
    simulated clock: nothing happens until :meth:`run_for` or
    :meth:`run_until` (or a device's or fleet's ``run_until``) runs the
    emulator on the calling thread (``threads`` is ignored), in a fixed
    order, jumping from one deadline to the next. The same seed and the same
    calls give the same timelines and the same captures, in any process
    (servers on port 0 get ports drawn from the seed); a 247 s finish
    timeout passes in milliseconds::

        with Emulator(seed=7, clock="virtual") as emu:
            rs = emu.registration_server()
            bs = emu.bootstrap_server(bootstrap_config(rs.uri))
            dev = emu.device("dev-1", bs.uri)
            dev.run_until("registered", timeout=60)
            assert dev.bootstrap_exit == "finish"
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        clock: str = "real",
        threads: int = 2,
        devices_per_shard: int = 100,
        radio: bool = True,
        device_handshakes: int = 64,
        server_handshakes: int = 256,
    ) -> None:
        """``device_handshakes``: DTLS handshakes the devices of one loop
        thread run at once (the rest wait their turn); ``server_handshakes``:
        handshakes each server context accepts at once."""
        if seed < 0:
            raise ValueError("seed: must be >= 0")
        if clock not in CLOCKS:
            raise ValueError(f"clock: {clock!r} is not one of {', '.join(CLOCKS)}")
        self._rt: _core.Runtime | None = _core.Runtime(
            seed, threads, devices_per_shard, radio, clock == "virtual", device_handshakes, server_handshakes
        )
        self._life = Lifetime()
        self._endpoints: set[str] = set()  # names are unique within an emulator
        self._devices = 0
        self._server_uris: list[str] = []  # of the servers started here, for decode_options()
        self._qemu_dir: str | None = None  # working directories of QEMU devices, made on demand

    @property
    def seed(self) -> int:
        return self._runtime.seed

    @property
    def clock(self) -> str:
        """``"real"`` or ``"virtual"``."""
        return "virtual" if self._runtime.is_virtual else "real"

    def now(self) -> float:
        """Seconds since the emulator started, on its clock."""
        return self._runtime.now_ms() / 1000.0

    def run_for(self, seconds: float) -> None:
        """Virtual clock: run everything due in the next ``seconds`` virtual
        seconds; the clock then reads ``now() + seconds``."""
        self._run(None, seconds, "run_for")

    def run_until(self, condition: Callable[[], object], timeout: float) -> bool:
        """Virtual clock: run until ``condition()`` is true (checked once
        every instant has settled; it runs on this thread, so keep it cheap:
        for device states :meth:`Fleet.run_until` checks in C++), at most
        ``timeout`` virtual seconds. True if it held; False if the time ran
        out, the clock then at ``now() + timeout``."""
        if not callable(condition):
            raise TypeError(f"condition: expected a callable, got {type(condition).__name__}")
        return self._run(condition, timeout, "run_until")

    def _run(self, condition: Callable[[], object] | None, seconds: float, what: str) -> bool:
        if not self._runtime.is_virtual:
            raise ClockError(
                f"{what}: this emulator runs in real time; create it with Emulator(clock='virtual'), "
                "or wait in real time with wait_for"
            )
        if not seconds >= 0:
            raise ValueError(f"{what}: seconds must be >= 0, got {seconds}")
        until_ms = self._runtime.now_ms() + int(round(seconds * 1000))
        return bool(self._runtime.run_until(condition, until_ms))

    @property
    def _runtime(self) -> _core.Runtime:
        if self._rt is None:
            raise RuntimeError("this Emulator is closed; create a new one")
        return Guarded(self._rt, self._life)  # type: ignore[return-value]

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every loop and close every socket (and kill QEMU devices).
        Idempotent. Calls running on other threads finish first; calls
        after it raise RuntimeError."""
        self._life.close()
        self._rt = None
        if self._qemu_dir is not None:
            shutil.rmtree(self._qemu_dir, ignore_errors=True)
            self._qemu_dir = None

    def _qemu_root(self) -> str:
        if self._qemu_dir is None:
            self._qemu_dir = tempfile.mkdtemp(prefix="lwm2m-hil-qemu-")
        return self._qemu_dir

    def bootstrap_server(
        self,
        config: dict[str, Any] | str | os.PathLike[str],
        *,
        profile: str | None = None,
        listen: str = "127.0.0.1:0",
        secure_listen: str = "",
        timing: CoapTiming = CoapTiming(),
        max_results: int = 100_000,
        max_endpoint_events: int = 256,
        max_events: int = 10_000,
    ) -> BootstrapServer:
        """Start a bootstrap server. ``config`` is a dict, a JSON string, or a
        path to a JSON file (format: emulator/server/README.md). ValueError
        names the offending field. It listens on ``listen`` (``uri``) and,
        for DTLS, on ``secure_listen`` (``secure_uri``; default: the same
        host, a free port). ``profile`` ('cr', '1.0', '1.1') is the default
        of entries without one; None serves each client in its own dialect
        (``Finish=true``: cr, else 1.x with Finish), so only an explicit
        'cr' leaves a client without Finish. Caps, oldest first out
        (emulator/server/README.md, "Limits"): ``max_results`` endpoints
        whose session ended, ``max_endpoint_events`` events per endpoint,
        ``max_events`` in :meth:`BootstrapServer.events`."""
        _check_timing(timing)
        h = self._runtime.add_bootstrap_server(
            _config_text(config),
            "auto" if profile is None else profile,
            listen,
            secure_listen,
            timing.ack_timeout,
            timing.ack_random_factor,
            timing.max_retransmit,
            max_results=max_results,
            max_endpoint_events=max_endpoint_events,
            max_events=max_events,
        )
        server = BootstrapServer(self, h)
        self._server_uris += [server.uri, server.secure_uri]
        return server

    def registration_server(
        self,
        *,
        listen: str = "127.0.0.1:0",
        secure_listen: str = "",
        timing: CoapTiming = CoapTiming(),
        psk: Sequence[Psk] = (),
        max_lifetime: int = 86400,
        max_registrations: int = 100_000,
        max_events: int = 10_000,
    ) -> RegistrationServer:
        """Start a registration server. Endpoints that an entry of ``psk``
        matches must register over DTLS (``secure_uri``) with an identity
        that entry allows; the others over NoSec (``uri``). A longer
        lifetime than ``max_lifetime`` seconds is cut to it; a Register of a
        new endpoint beyond ``max_registrations`` is answered 5.03;
        :meth:`RegistrationServer.events` keeps the latest ``max_events``."""
        _check_timing(timing)
        for p in psk:
            if not isinstance(p, Psk):
                raise TypeError(f"psk: expected Psk entries, got {type(p).__name__}")
        h = self._runtime.add_registration_server(
            listen,
            secure_listen,
            timing.ack_timeout,
            timing.ack_random_factor,
            timing.max_retransmit,
            [(p.match, p.identity, p.key) for p in psk],
            max_lifetime=max_lifetime,
            max_registrations=max_registrations,
            max_events=max_events,
        )
        server = RegistrationServer(self, h)
        self._server_uris += [server.uri, server.secure_uri]
        return server

    def device(self, endpoint: str, bootstrap_uri: str, **options: Any) -> Device:
        """Create and start one device. Options: see :meth:`fleet`.
        ``endpoint``: 1..252 bytes, unique within the emulator."""
        names = self._new_endpoints("endpoint", [_check_endpoint("endpoint", endpoint)])
        if options.get("firmware") is not None:
            from . import _qemu

            made = _qemu.add(self, 1, bootstrap_uri, "", endpoint, options)[0]
        else:
            spec = self._spec(bootstrap_uri, endpoint=endpoint, **options)
            start = bool(options.get("start", True))
            (h,) = self._runtime.add_devices(spec, 1, "", start)
            made = Device(self, h)
        self._endpoints.update(names)
        return made

    def fleet(self, count: int, bootstrap_uri: str, *, prefix: str = "dev-", **options: Any) -> Fleet:
        """Create and start ``count`` devices named ``prefix`` + index.

        Options (all optional): ``profile`` ('cr', '1.0', '1.1'),
        ``request_finish`` (cr: ask for Finish), ``finish_fallback`` (cr:
        a Request Bootstrap with Finish=true refused 4.00 or 4.02 is sent
        once more without it, and the idle timer ends that bootstrap),
        ``finish_timeout``,
        ``idle_timeout``, ``hold_off`` (s), ``retry_initial``,
        ``retry_factor``, ``retry_max``, ``retry_jitter``,
        ``max_bootstrap_attempts``, ``register_attempts``, ``server_uri``
        (+ ``server_ssid``, ``server_lifetime``: a server account provisioned
        at the factory, so the device registers without bootstrap), ``timing``
        (:class:`CoapTiming`), ``bootstrap_linger`` (s), ``record_messages``,
        ``flash`` (:class:`FlashGeometry`, default on; None: no flash, the
        configuration lives in RAM only), ``flash_image`` (a file backing
        the flash; ``{endpoint}`` in it is replaced per device),
        ``flash_violation`` ('and' as chips do, or 'error'),
        ``flash_endurance`` (erases per sector), ``flash_program_latency``
        and ``flash_erase_latency`` (s per operation: the device's answers
        leave that much later), ``reboot_after_power_cut``
        (s; -1 stays off), ``psk`` (:class:`Psk`: the bootstrap account's
        DTLS credentials, for a coaps:// ``bootstrap_uri``), ``start``,
        ``objects`` (paths of DDF XML files: objects of your own, next to
        the builtin 0, 1, 2, 3, 4, 5, 7; writes to them are typed by the file).

        ``firmware`` (the path of a firmware image, e.g. the one
        scripts/firmware builds) makes devices that run the image under
        QEMU (:class:`QemuDevice`), NoSec only; the client options above
        become the image's arguments, and ``firmware_args`` (a dict or
        key=value strings) adds any other (firmware-images/README.md),
        ``qemu`` and ``machine`` pick QEMU, ``work_dir`` their working
        directories (default: a temporary one, removed at close()).
        """
        if count < 1:
            raise ValueError("count: must be >= 1")
        if not isinstance(prefix, str):
            raise TypeError(f"prefix: expected a string, got {type(prefix).__name__}")
        # The runtime's naming: prefix + index, or the template's endpoint alone.
        single = options.get("endpoint", "dev")
        last = prefix + str(count - 1) if count > 1 or prefix else single
        _check_endpoint("prefix" if count > 1 or prefix else "endpoint", last)
        names = [prefix + str(i) for i in range(count)] if count > 1 or prefix else [single]
        names = self._new_endpoints("prefix", names)
        if options.get("firmware") is not None:
            from . import _qemu

            made = Fleet(self, list(_qemu.add(self, count, bootstrap_uri, prefix, "", options)))
        else:
            spec = self._spec(bootstrap_uri, **options)
            start = bool(options.get("start", True))
            handles = self._runtime.add_devices(spec, count, prefix, start)
            made = Fleet(self, [Device(self, h) for h in handles])
        self._endpoints.update(names)
        return made

    def _new_endpoints(self, name: str, endpoints: list[str]) -> list[str]:
        """``endpoints`` if no device of this emulator has one of these
        names yet: servers tell devices apart by name, and two devices with
        one name steal each other's sessions."""
        taken = next((e for e in endpoints if e in self._endpoints), None)
        if taken is None and len(set(endpoints)) < len(endpoints):
            taken = endpoints[0]
        if taken is not None:
            raise ValueError(f"{name}: a device named {taken!r} already exists in this emulator; names must be unique")
        return endpoints

    def capture(
        self, path: str | os.PathLike[str] | None, *, psk_key: bytes | None = None, uris: Sequence[str] = ()
    ) -> None:
        """Capture every datagram of the run into a pcapng file (None
        stops). Its section comment carries :meth:`decode_options` as they
        are when it starts (start the servers first). On the virtual clock
        its time starts at 2020-01-01T00:00:00Z, and the devices' source
        ports are numbered 50000, 50001, ... (the radio's ports, which the
        kernel chose)."""
        if path is None:
            self._runtime.capture("")
            return
        comment = capture_comment(self.decode_options(psk_key=psk_key, uris=uris))
        self._runtime.capture(os.fspath(path), comment)

    def decode_options(self, *, psk_key: bytes | None = None, uris: Sequence[str] = ()) -> list[str]:
        """tshark arguments that decode a capture of this emulator: CoAP on
        the ports of the servers started here and of ``uris`` (external
        servers), DTLS and the CoAP inside it on their coaps:// ports,
        decrypted with ``psk_key`` (``-o dtls.psk:HEX``; one key)::

            subprocess.run(["tshark", "-r", "run.pcapng", *emu.decode_options(psk_key=key)])
        """
        return decode_options([*self._server_uris, *uris], psk_key)

    def summary(self) -> dict[str, Any]:
        """Devices by state and by bootstrap exit, and bootstrap durations (ms)."""
        return dict(self._runtime.summary())

    def _spec(self, bootstrap_uri: str, **options: Any) -> _core.DeviceSpec:
        _check_device_uri("bootstrap_uri", bootstrap_uri)
        if options.get("server_uri"):
            _check_device_uri("server_uri", options["server_uri"])
        spec = _core.DeviceSpec()
        spec.bootstrap_uri = bootstrap_uri
        psk = options.pop("psk", None)
        if psk is not None:
            if not isinstance(psk, Psk):
                raise TypeError(f"psk: expected a Psk, got {type(psk).__name__}")
            spec.psk_identity = psk.identity
            spec.psk_key = psk.key
        timing = options.pop("timing", None)
        if timing is not None:
            _check_timing(timing)
        options.pop("start", None)
        if options.get("objects") is not None:
            if isinstance(options["objects"], (str, os.PathLike)):
                raise TypeError("objects: expected a list of DDF file paths, got one path")
            options["objects"] = [os.fspath(p) for p in options["objects"]]
        flash = options.pop("flash", FlashGeometry())
        if flash is not None:
            if not isinstance(flash, FlashGeometry):
                raise TypeError("flash: expected a FlashGeometry or None")
            spec.flash_size = flash.size
            spec.flash_sector_size = flash.sector_size
            spec.flash_page_size = flash.page_size
        if timing is not None:
            spec.ack_timeout = timing.ack_timeout
            spec.ack_random_factor = timing.ack_random_factor
            spec.max_retransmit = timing.max_retransmit
        for key, value in options.items():
            if key.startswith("_") or not hasattr(spec, key) or key in ("validate",):
                allowed = sorted(k for k in dir(spec) if not k.startswith("_") and k != "validate")
                raise TypeError(f"unknown device option {key!r}; allowed: {', '.join(allowed)}, timing, flash, start")
            try:
                setattr(spec, key, value)
            except TypeError:
                want = type(getattr(spec, key)).__name__
                raise TypeError(f"{key}: expected {want}, got {type(value).__name__} {value!r}") from None
        spec.validate()
        return spec

    def _wait(
        self,
        devices: Sequence[Device],
        state: str | Sequence[str] | None,
        exit: str | Sequence[str] | None,
        timeout: float,
    ) -> None:
        if self._runtime.is_virtual:
            raise ClockError(
                "wait_for waits in real time, and on the virtual clock nothing moves while it waits: "
                "use run_until (the same arguments, timeout in virtual seconds) on the device or fleet"
            )
        states, exits = self._conditions(states_arg=state, exits_arg=exit, what="wait_for")
        from ._qemu import split_handles

        native, qemu = split_handles(devices)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            piece = max(0.0, min(_WAIT_SLICE_S, left))
            if qemu:
                done = self._runtime.wait_all(native, qemu, states, exits, piece)
            else:
                done = self._runtime.wait_devices(native, states, exits, piece)
            if done:
                return
            if left <= _WAIT_SLICE_S:
                break
        self._timed_out(devices, states, exits, f"after {timeout} s")

    def _run_until_devices(
        self,
        devices: Sequence[Device],
        state: str | Sequence[str] | None,
        exit: str | Sequence[str] | None,
        timeout: float,
    ) -> None:
        if not self._runtime.is_virtual:
            raise ClockError("run_until runs the virtual clock; on a real-time emulator use wait_for")
        if not timeout >= 0:
            raise ValueError(f"run_until: timeout must be >= 0 virtual seconds, got {timeout}")
        states, exits = self._conditions(states_arg=state, exits_arg=exit, what="run_until")
        until_ms = self._runtime.now_ms() + int(round(timeout * 1000))
        if self._runtime.run_until_devices([d._handle for d in devices], states, exits, until_ms):
            return
        self._timed_out(devices, states, exits, f"after {timeout} virtual s (now {self.now():.3f} s)")

    @staticmethod
    def _conditions(
        *, states_arg: str | Sequence[str] | None, exits_arg: str | Sequence[str] | None, what: str
    ) -> tuple[list[str], list[str]]:
        states = _check_names("state", _as_list(states_arg), STATES)
        exits = _check_names("exit", _as_list(exits_arg), BOOTSTRAP_EXITS)
        if not states and not exits:
            raise ValueError(f"{what}: give a state, an exit, or both")
        return states, exits

    @staticmethod
    def _timed_out(devices: Sequence[Device], states: list[str], exits: list[str], when: str) -> None:
        behind = [d for d in devices if (states and d.state not in states) or (exits and d.bootstrap_exit not in exits)]
        sample = ", ".join(repr(d) for d in behind[:5])
        tail = behind[0].timeline()[-8:] if behind else []
        last = f"\nlast events of {behind[0].endpoint}:\n" if behind else ""
        last += "\n".join(f"  {e.time:9.3f} {e.kind:18} {e.detail}" for e in tail)
        raise DeviceTimeout(
            f"{len(behind)} of {len(devices)} device(s) not in state={states or 'any'} "
            f"exit={exits or 'any'} {when}: {sample}{last}"
        )
