"""The package's own exceptions."""

from __future__ import annotations


class DeviceTimeout(TimeoutError):
    """A wait ran out; the message says where each device stood."""


class ClockError(RuntimeError):
    """A call made for the other clock: a real-time wait on an emulator that
    runs on the virtual clock (nothing would move while it waited), or a
    virtual-time run on a real-time one."""
