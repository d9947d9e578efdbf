"""lwm2m-hil: a hardware-in-the-loop emulator for LwM2M devices.

Start an :class:`Emulator`, give it a bootstrap server and a registration
server, create devices or fleets, and assert how each device left bootstrap::

    with Emulator(seed=1) as emu:
        rs = emu.registration_server()
        bs = emu.bootstrap_server(bootstrap_config(rs.uri))
        dev = emu.device("dev-1", bs.uri)
        dev.wait_for("registered")
        assert dev.bootstrap_exit == "finish"
"""

from ._emulator import (
    BOOTSTRAP_EXITS,
    STATES,
    BootstrapServer,
    Burst,
    ClockError,
    CoapTiming,
    Device,
    DeviceTimeout,
    Emulator,
    Event,
    FlashGeometry,
    Fleet,
    RegistrationServer,
)
from ._core import ConfigError, Error, NotSupportedError, OSError, StateError, TimeoutError
from ._qemu import NotSupportedOnImage, NotSupportedOnQemu, QemuDevice
from ._version import __version__
from .config import Psk, bootstrap_config

__all__ = [
    "BOOTSTRAP_EXITS",
    "STATES",
    "BootstrapServer",
    "Burst",
    "ClockError",
    "CoapTiming",
    "ConfigError",
    "Device",
    "DeviceTimeout",
    "Emulator",
    "Error",
    "Event",
    "FlashGeometry",
    "Fleet",
    "NotSupportedError",
    "NotSupportedOnImage",
    "NotSupportedOnQemu",
    "OSError",
    "QemuDevice",
    "Psk",
    "RegistrationServer",
    "StateError",
    "TimeoutError",
    "bootstrap_config",
    "__version__",
]
