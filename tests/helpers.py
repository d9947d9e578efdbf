"""Small helpers shared by the behaviour tests."""

from __future__ import annotations

import socket
import time
from typing import Any, Callable, TypeVar

from lwm2m_hil import CoapTiming, Device, Event

# Loopback is fast and lossless: short CoAP timers keep every test quick,
# while the default 4 retransmissions let an exchange survive a loop stalled
# for up to MAX_TRANSMIT_WAIT = 0.1 * (2**5 - 1) * 1.5 = 4.65 s on a busy machine.
FAST = CoapTiming(ack_timeout=0.1)

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 10.0, what: str = "condition") -> T:
    """Poll ``predicate`` until it returns something truthy, and return that.
    For state that lives on another thread (a server's view of a session)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def kinds(device: Device, kind: str) -> list[Event]:
    """The events of one kind on a device's timeline."""
    return [e for e in device.timeline() if e.kind == kind]


def details(device: Device, kind: str) -> list[str]:
    return [e.detail for e in kinds(device, kind)]


def outcome_of(bs: Any, endpoint: str, timeout: float = 10.0) -> dict[str, Any]:
    """The bootstrap server's result for ``endpoint`` once its session ended."""

    def ended() -> dict[str, Any] | None:
        r = bs.results().get(endpoint)
        return r if r and r["outcome"] is not None else None

    return wait_until(ended, timeout, f"a bootstrap outcome for {endpoint}")


def dead_port() -> int:
    """A UDP port on 127.0.0.1 where nothing listens (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])

# For devices that talk to a scripted (Python) peer: Python may take longer
# than 50 ms to answer, and a retransmitted request would then turn up as a
# duplicate in the script. Loopback loses nothing, so nothing is slower.
PATIENT = CoapTiming(ack_timeout=2.0)
