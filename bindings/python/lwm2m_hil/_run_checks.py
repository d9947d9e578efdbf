"""What `lwm2m-hil run` checks before a campaign starts, and how it stops
early: argument types that name the flag, settings that cannot work
together, and the signals that interrupt a run."""

from __future__ import annotations

import argparse
import math
import os
import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Callable, Iterator, TypeVar

from . import _core
from ._options import MAX_ENDPOINT_BYTES


def probability(text: str) -> float:
    """argparse type: a probability 0..1."""
    value = _number(text, float)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a probability 0..1, got {text}")
    return value


def positive_seconds(text: str) -> float:
    """argparse type: seconds > 0."""
    value = _number(text, float)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0 seconds, got {text}")
    return value


def seconds(text: str) -> float:
    """argparse type: seconds >= 0."""
    value = _number(text, float)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 seconds, got {text}")
    return value


def positive_int(text: str) -> int:
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def hex_key(text: str) -> str:
    """argparse type: a non-empty key in hex digits (kept as text)."""
    if not text:
        raise argparse.ArgumentTypeError(
            "must not be empty: give the key in hex digits, e.g. 000102030405060708090a0b0c0d0e0f"
        )
    try:
        bytes.fromhex(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an even number of hex digits, got {text!r}") from None
    return text


Number = TypeVar("Number", int, float)


def _number(text: str, kind: Callable[[str], Number]) -> Number:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value:  # NaN
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")
    return value


def check_run_args(args: argparse.Namespace) -> None:
    """Settings that cannot work together, and an output file the campaign
    could not write at its end: ValueError naming the flag, before anything
    starts."""
    if args.no_finish and args.profile != "cr":
        raise ValueError(
            f"--no-finish: only profile cr lets a device skip the Finish indication; with --profile "
            f"{args.profile} the server always sends Finish (drop --no-finish, or use --profile cr)"
        )
    last = args.prefix + str(args.devices - 1)
    if len(last.encode("utf-8", "surrogatepass")) > MAX_ENDPOINT_BYTES:
        raise ValueError(
            f"--prefix: endpoint names up to {last[:20]!r}... are longer than {MAX_ENDPOINT_BYTES} bytes "
            "(a name travels in one CoAP Uri-Query option); use a shorter prefix"
        )
    if args.json:
        check_writable("--json", args.json)


def check_writable(flag: str, path: str) -> None:
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{flag}: {path} is a directory; give a file name")
    parent = p.parent
    if not parent.is_dir():
        raise ValueError(f"{flag}: cannot write {path}: the directory {parent} does not exist")
    if not os.access(p if p.exists() else parent, os.W_OK):
        raise ValueError(f"{flag}: cannot write {path}: permission denied")


def max_transmit_wait(ack_timeout: float, random_factor: float = 1.5, max_retransmit: int = 4) -> float:
    """RFC 7252's MAX_TRANSMIT_WAIT: how long a CoAP sender keeps trying."""
    return ack_timeout * float(2 ** (max_retransmit + 1) - 1) * random_factor


def timeout_warning(args: argparse.Namespace, timeout: float) -> str | None:
    """Why ``timeout`` may be too short for the fault settings, or None.
    Under loss, a bootstrap server can give up on a session (its Finish
    retransmissions all lost) while the device still waits for Finish: the
    device then only tries again after its finish timeout, plus the
    retransmissions of its next request."""
    if not args.loss > 0:
        return None
    retransmit = max_transmit_wait(args.ack_timeout)
    finish_timeout = args.finish_timeout if args.finish_timeout is not None else _core.DeviceSpec().finish_timeout
    needed = math.ceil(finish_timeout + retransmit)
    if timeout >= needed:
        return None
    advice = f"--timeout {needed} or more"
    if args.clock == "real":
        advice = f"--clock virtual (the same protocol time in a fraction of the wall time), or {advice}"
    return (
        f"--timeout {timeout:g} s may be too short for --loss {args.loss:g}: a device whose bootstrap session "
        f"the server gave up on waits --finish-timeout {finish_timeout:g} s plus up to {retransmit:.0f} s "
        f"of CoAP retransmissions ({needed} s) before it registers; use {advice}"
    )


class Interrupted(BaseException):
    """SIGINT or SIGTERM during a run: the campaign stops, and its partial
    summary is printed and written. A BaseException, so that no ``except
    Exception`` swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.name = signal.Signals(signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


@contextmanager
def interruptible() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Interrupted` in the main thread
    while the block runs (long waits wake up often enough to notice)."""

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise Interrupted(signum)

    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may handle signals
        return
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
