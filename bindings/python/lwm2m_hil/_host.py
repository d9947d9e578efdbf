"""What the objects an :class:`~lwm2m_hil.Emulator` makes (devices, fleets,
servers, observations) need of it, as protocols: they hold their emulator
through these, so that they need not import the emulator's module, which
imports them to make them."""

from __future__ import annotations

from typing import Callable, Protocol, Sequence, TypeVar

from . import _core
from ._lifetime import Lifetime
from ._options import BootstrapExit, Clock, State

Waited = TypeVar("Waited", contravariant=True)  # what a wait takes: the devices


class ServerHost(Protocol):
    """What a server and its observations need: the emulator's lifetime
    (every handle call holds it alive) and a wait on its clock."""

    @property
    def _life(self) -> Lifetime: ...

    def _until(
        self, condition: Callable[[], bool], timeout: float, block: Callable[[float], object] | None = None
    ) -> bool:
        """Whether ``condition()`` holds within ``timeout`` seconds on the
        emulator's clock (the virtual one runs meanwhile)."""
        ...


class DeviceHost(ServerHost, Protocol[Waited]):
    """What devices and fleets need besides: the runtime, the clock's kind,
    waits for device states, and a folder for QEMU devices' files."""

    @property
    def _rt(self) -> _core.Runtime | None:
        """None once the emulator is closed."""
        ...

    @property
    def _runtime(self) -> _core.Runtime:
        """The runtime, guarded by the lifetime; RuntimeError once closed."""
        ...

    @property
    def clock(self) -> Clock: ...

    def _qemu_root(self) -> str: ...

    def _wait(
        self,
        devices: Sequence[Waited],
        state: State | Sequence[State] | None,
        exit: BootstrapExit | Sequence[BootstrapExit] | None,
        timeout: float,
    ) -> None:
        """Real clock: until every device is in ``state``/``exit``."""
        ...

    def _run_until_devices(
        self,
        devices: Sequence[Waited],
        state: State | Sequence[State] | None,
        exit: BootstrapExit | Sequence[BootstrapExit] | None,
        timeout: float,
    ) -> None:
        """Virtual clock: the same, running the clock."""
        ...
