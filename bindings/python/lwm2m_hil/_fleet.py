"""Many devices made from one template."""

from __future__ import annotations

from typing import Any, Iterator, Sequence, Unpack, overload

from ._device import Device
from ._host import DeviceHost
from ._link import LinkSettings, RuleValue
from ._options import BootstrapExit, State


class Fleet(Sequence[Device]):
    """Many devices made from one template; a sequence of :class:`Device`."""

    def __init__(self, emulator: DeviceHost[Device], devices: list[Device]) -> None:
        self._emu = emulator
        self._devices = devices

    def __len__(self) -> int:
        return len(self._devices)

    @overload
    def __getitem__(self, i: int) -> Device: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[Device]: ...

    def __getitem__(self, i: int | slice) -> Device | Sequence[Device]:
        return self._devices[i]

    def __iter__(self) -> Iterator[Device]:
        return iter(self._devices)

    def wait_for(
        self,
        state: State | Sequence[State] | None = None,
        *,
        exit: BootstrapExit | Sequence[BootstrapExit] | None = None,
        timeout: float = 30.0,
    ) -> None:
        """Block until every device is in ``state`` / has exited with ``exit``.
        Real time only; on the virtual clock use :meth:`run_until`."""
        self._emu._wait(self._devices, state, exit, timeout)

    def run_until(
        self,
        state: State | Sequence[State] | None = None,
        *,
        exit: BootstrapExit | Sequence[BootstrapExit] | None = None,
        timeout: float = 600.0,
    ) -> None:
        """The virtual clock's :meth:`wait_for`: run the emulator until every
        device is in ``state`` / has exited with ``exit``, for at most
        ``timeout`` virtual seconds (then DeviceTimeout). The check runs in
        C++ after every instant, cheap for any fleet."""
        self._emu._run_until_devices(self._devices, state, exit, timeout)

    def link(self, **settings: Unpack[LinkSettings]) -> None:
        """Set the radio link of every device (see :meth:`Device.link`)."""
        for d in self._devices:
            d.link(**settings)

    def add_rule(self, action: str, **match: RuleValue) -> None:
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
        # One trip per loop, not per device.
        self._emu._runtime.start_devices([d._handle for d in self._devices])

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
