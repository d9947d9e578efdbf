"""The radio's way out to servers on other hosts (emulator/radio/README.md,
"Egress"): devices that talk to a server off loopback send from an address
of their own in the egress prefix, which an nftables table of this process
masquerades to the host's address. It is set up when first needed and
removed when the emulator closes (also on Ctrl-C and SIGTERM)."""

from __future__ import annotations

import atexit
import ipaddress
import signal
import threading
import weakref
from types import FrameType
from typing import Protocol

from . import _core

DEFAULT_PREFIX = "198.18.0.0/16"


class EgressError(_core.OSError):
    """The egress cannot be set up (no CAP_NET_ADMIN, no nft, a prefix the
    host already uses), or a server cannot be reached (no route). The
    message says what to do."""


def check_prefix(prefix: str) -> None:
    """ValueError naming ``egress_prefix`` if ``prefix`` is not usable."""
    if not isinstance(prefix, str):
        raise TypeError(f"egress_prefix: expected a string like {DEFAULT_PREFIX!r}, got {type(prefix).__name__}")
    _core.Runtime.check_egress_prefix(prefix)


def off_loopback(uri: str) -> str | None:
    """``HOST:PORT`` of a (checked) device URI whose host is not on
    loopback, else None: 127/8 needs no egress."""
    rest = uri.partition("://")[2].rstrip("/")
    host, _, port = rest.rpartition(":")
    if host == "localhost" or ipaddress.ip_address(host.strip("[]")).is_loopback:
        return None
    return f"{host}:{port}"


class _Closable(Protocol):
    def close(self) -> None: ...


# Emulators whose egress is open, closed at exit if the program did not.
_open: weakref.WeakSet[_Closable] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for owner in list(_open):
        owner.close()


def prepare(owner: _Closable, runtime: _core.Runtime, name: str, uri: str | None, prefix: str) -> bool:
    """Opens the egress of ``owner``'s ``runtime``: for the server at
    ``uri`` (the value of ``name``) if it is off loopback, after checking
    that it has a route (fails fast if not), or unconditionally without
    ``uri``. True if it is open."""
    why = ""
    if uri is not None:
        host_port = off_loopback(uri)
        if host_port is None:
            return False
        try:
            runtime.check_route(host_port)
        except _core.Error as e:
            raise EgressError(f"{name}: {uri}: {e}") from None
        why = f"{name}: {uri} is off this host, so devices need the egress; "
    try:
        runtime.open_egress(prefix)
    except _core.Error as e:
        raise EgressError(f"{why}{e}") from None
    _open.add(owner)
    _exit_cleanly_on_sigterm()
    return True


def _exit_cleanly_on_sigterm() -> None:
    """SIGTERM, by default, ends the process without unwinding, which would
    leave the egress's table and route behind: make it raise SystemExit
    instead, so that ``with Emulator(...)`` blocks close. A handler the
    program set itself is left alone."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_exit)


def _raise_exit(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)
