"""The package's own exceptions, under the emulator's common base
``lwm2m_hil.Error`` (bindings/errors.cc maps the C++ error codes to its
other subclasses)."""

from __future__ import annotations

from . import _core


class DeviceTimeout(_core.TimeoutError):
    """A wait ran out; the message says where each device stood."""


class ClockError(_core.StateError):
    """A call made for the other clock: a real-time wait on an emulator that
    runs on the virtual clock (nothing would move while it waited), or a
    virtual-time run on a real-time one."""
