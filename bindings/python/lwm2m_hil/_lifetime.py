"""Calls into the runtime that hold it alive, or fail once it is closed.

Every call into the C++ runtime (or into a device's or server's handle,
which point into it) releases the GIL while it waits on an event loop, so
another thread may close the emulator meanwhile. Closing must therefore
wait for the calls in flight, and calls after it must fail with a clear
error, never touch freed memory.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

CLOSED = "this Emulator is closed; create a new one"


class Lifetime:
    """Counts the calls in flight; :meth:`close` refuses new ones and waits
    for those running to return."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._calls = 0
        self._closed = False
        self._mine = threading.local()  # this thread's calls in flight

    @property
    def closed(self) -> bool:
        return self._closed

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` with the runtime held alive;
        RuntimeError once the emulator is closed."""
        with self._cond:
            if self._closed:
                raise RuntimeError(CLOSED)
            self._calls += 1
        self._mine.calls = getattr(self._mine, "calls", 0) + 1
        try:
            return fn(*args, **kwargs)
        finally:
            self._mine.calls -= 1
            with self._cond:
                self._calls -= 1
                if self._calls == 0:
                    self._cond.notify_all()

    def close(self) -> None:
        """Refuse new calls and wait (GIL released) for the running ones.
        Long waits run in short slices (see Emulator._wait), so this takes
        at most one slice."""
        if getattr(self._mine, "calls", 0):
            # Waiting here for this thread's own call would never end.
            raise RuntimeError("close(): called from inside a call of this emulator (e.g. a run_until "
                               "condition); close it once that call has returned")
        with self._cond:
            self._closed = True
            self._cond.wait_for(lambda: self._calls == 0)


class Guarded:
    """A proxy of a runtime or handle object whose attribute reads and
    method calls all run inside :meth:`Lifetime.run`."""

    __slots__ = ("_target", "_life")

    def __init__(self, target: Any, life: Lifetime) -> None:
        self._target = target
        self._life = life

    def __getattr__(self, name: str) -> Any:
        value = self._life.run(getattr, self._target, name)
        if not callable(value):
            return value
        life = self._life

        def call(*args: Any, **kwargs: Any) -> Any:
            return life.run(value, *args, **kwargs)

        return call
