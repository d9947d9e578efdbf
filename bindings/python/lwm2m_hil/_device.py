"""One virtual device as Python sees it: reads are snapshots taken on its
event loop; waits, radio settings and power and flash faults go to the
runtime."""

from __future__ import annotations

import os
from typing import Any, Iterable, NamedTuple, Sequence, Unpack, cast

from . import _core
from ._host import DeviceHost
from ._lifetime import Guarded
from ._link import LinkSettings, RuleValue, link_config, rule_fields
from ._observe import plain_text
from ._options import BootstrapExit, State


class Event(NamedTuple):
    """One entry of a timeline: seconds since the emulator started, on its
    clock (virtual seconds on the virtual clock)."""

    time: float
    kind: str
    detail: str


def events(raw: Iterable[tuple[int, str, str]]) -> list[Event]:
    return [Event(t / 1000.0, kind, detail) for t, kind, detail in raw]


class Device:
    """One virtual device. Reads are snapshots taken on its event loop."""

    def __init__(self, emulator: DeviceHost[Device], handle: _core.DeviceHandle) -> None:
        self._emu = emulator
        self._handle = handle

    @property
    def _h(self) -> _core.DeviceHandle:
        # The handle points into the runtime: each use holds it alive, or
        # fails once the emulator is closed.
        return cast(_core.DeviceHandle, Guarded(self._handle, self._emu._life))

    @property
    def endpoint(self) -> str:
        return self._h.endpoint

    @property
    def state(self) -> State:
        """One of :data:`STATES`."""
        return cast(State, self._h.state)

    @property
    def bootstrap_exit(self) -> BootstrapExit:
        """How the last bootstrap ended: one of :data:`BOOTSTRAP_EXITS`."""
        return cast(BootstrapExit, self._h.last_exit)

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
        return events(self._h.timeline())

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
        state: State | Sequence[State] | None = None,
        *,
        exit: BootstrapExit | Sequence[BootstrapExit] | None = None,
        timeout: float = 10.0,
    ) -> None:
        """Block (GIL released) until the device is in ``state`` and/or its
        last bootstrap exit is ``exit``; DeviceTimeout after ``timeout`` s.
        Real time only; on the virtual clock use :meth:`run_until`."""
        self._emu._wait([self], state, exit, timeout)

    def run_until(
        self,
        state: State | Sequence[State] | None = None,
        *,
        exit: BootstrapExit | Sequence[BootstrapExit] | None = None,
        timeout: float = 600.0,
    ) -> None:
        """The virtual clock's :meth:`wait_for`: run the emulator until the
        device is in ``state`` and/or has exited with ``exit``, for at most
        ``timeout`` virtual seconds (then DeviceTimeout)."""
        self._emu._run_until_devices([self], state, exit, timeout)

    def deregister(self) -> None:
        """Send De-register to the registration server."""
        self._h.deregister()

    def set_resource(self, path: str, value: str | int | float | bool) -> None:
        """Set the resource ``/obj/inst/res`` as the device's own firmware
        would (a sensor reading, the clock), from its plain-text form;
        servers observing it are notified. ValueError says what is wrong."""
        self._h.set_resource(path, plain_text(value))

    def start(self) -> None:
        """Boot a device created with ``start=False``."""
        self._h.start()

    # --- radio ----------------------------------------------------------

    def link(self, **settings: Unpack[LinkSettings]) -> None:
        """Set this device's radio link (replaces the previous settings; see
        :class:`LinkSettings`). Faults are seeded by the emulator's seed and
        the device's name."""
        self._h.configure_link(link_config(self._emu._runtime.now_ms(), settings))

    def add_rule(self, action: str, **match: RuleValue) -> None:
        """A message-aware fault: ``action`` drop | delay | duplicate |
        corrupt on the ``nth`` datagram matching ``direction`` (up/down),
        ``type`` (CON/NON/ACK/RST), ``code`` (POST, 2.04, ...), ``path``
        (/bs, /1/*), or ``dtls`` (handshake, application_data, alert), for
        ``count`` datagrams (0: all) with ``probability``; ``delay`` in s;
        ``name`` for the capture. emulator/radio/README.md has the details."""
        self._h.add_rule(rule_fields(action, match))

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

    def flash_counters(self) -> dict[str, Any]:
        """programs, erases, bytes_programmed, violations, power_cuts, ...,
        and ``erases_per_sector`` (a list)."""
        counters: dict[str, Any] = dict(self._h.flash_counters())
        counters["erases_per_sector"] = self._h.flash_erase_counts()
        return counters

    def __repr__(self) -> str:
        if self._emu._rt is None:
            return "<Device (emulator closed)>"
        return f"<Device {self.endpoint} {self.state} exit={self.bootstrap_exit}>"
