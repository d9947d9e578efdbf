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

from ._core import ConfigError, Error, NotSupportedError, OSError, StateError, TimeoutError
from ._device import Device, Event
from ._egress import EgressError
from ._emulator import Emulator
from ._errors import ClockError, DeviceTimeout
from ._fleet import Fleet
from ._link import LinkSettings
from ._options import (
    BOOTSTRAP_EXITS,
    STATES,
    BootstrapExit,
    Burst,
    Clock,
    CoapTiming,
    DeviceOptions,
    FlashGeometry,
    Profile,
    State,
)
from ._qemu import NotSupportedOnImage, NotSupportedOnQemu, QemuDevice
from ._servers import BootstrapServer, RegistrationServer
from ._version import __version__
from .certs import Certificate, Issuer, TestCA
from .config import Psk, bootstrap_config

__all__ = [
    "BOOTSTRAP_EXITS",
    "STATES",
    "BootstrapExit",
    "BootstrapServer",
    "Burst",
    "Clock",
    "ClockError",
    "CoapTiming",
    "ConfigError",
    "Device",
    "DeviceOptions",
    "DeviceTimeout",
    "EgressError",
    "Emulator",
    "Error",
    "Event",
    "FlashGeometry",
    "Fleet",
    "LinkSettings",
    "Profile",
    "State",
    "NotSupportedError",
    "NotSupportedOnImage",
    "NotSupportedOnQemu",
    "OSError",
    "QemuDevice",
    "Psk",
    "Certificate",
    "Issuer",
    "TestCA",
    "RegistrationServer",
    "StateError",
    "TimeoutError",
    "bootstrap_config",
    "__version__",
]
