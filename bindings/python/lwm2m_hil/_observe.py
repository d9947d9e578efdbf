"""Observe and Notify on the embedded registration server: waiting for an
observation's answer on either clock, and values in plain text."""

from __future__ import annotations

from typing import Any

from . import _core
from ._host import ServerHost


def plain_text(value: str | int | float | bool) -> str:
    """A resource value in LwM2M plain text: booleans are 1 and 0."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise TypeError(f"value: expected str, int, float or bool, got {type(value).__name__}")


def _settle(
    emu: ServerHost, handle: _core.RegistrationServerHandle, tag: int, waiting: str, timeout: float, what: str
) -> dict[str, Any]:
    """The observation `tag` once its state is no longer `waiting`, on the
    emulator's clock (the virtual one runs meanwhile)."""

    def current() -> dict[str, Any] | None:
        return next((o for o in handle.observations() if o["tag"] == tag), None)

    def settled() -> bool:
        o = current()
        return o is None or o["state"] != waiting

    if not timeout > 0:
        raise ValueError(f"timeout: must be > 0 seconds, got {timeout}")
    emu._until(settled, timeout)
    o = current()
    if o is None or o["state"] == waiting:
        raise ValueError(f"{what}: no answer within {timeout} s")
    return o


def observe(
    emu: ServerHost, handle: _core.RegistrationServerHandle, endpoint: str, path: str, accept: int | None,
    timeout: float,
) -> tuple[str, bytes]:
    tag = handle.observe(endpoint, path, -1 if accept is None else accept)
    o = _settle(emu, handle, tag, "pending", timeout, f"observe {path} on {endpoint}")
    if o["state"] == "failed":
        raise ValueError(f"observe {path} on {endpoint}: {o['reason']}")
    return str(o["code"]), bytes(o["payload"])


def cancel(
    emu: ServerHost, handle: _core.RegistrationServerHandle, endpoint: str, path: str, timeout: float
) -> dict[str, Any]:
    tag = handle.cancel_observe(endpoint, path)
    return _settle(emu, handle, tag, "cancelling", timeout, f"cancel_observe {path} on {endpoint}")
