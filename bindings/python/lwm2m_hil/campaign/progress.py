"""Progress on a terminal (rich), silence elsewhere: a CI log or a pipe
gets no bars, only the final summary."""

from __future__ import annotations

import sys
from typing import Any


def _columns(what: str) -> list[Any]:
    from rich.progress import (BarColumn, MofNCompleteColumn, ProgressColumn, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)
    from rich.text import Text

    class Rate(ProgressColumn):
        """Items per second: rich's own speed column counts bytes."""

        def render(self, task: Any) -> Text:
            return Text("" if task.speed is None else f"{task.speed:.2f} {what}/s")

    return [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), Rate(), TimeElapsedColumn(),
            TextColumn("ETA"), TimeRemainingColumn()]


class Progress:
    """Counts ``total`` items of ``what`` (a campaign's runs, a fleet's
    registered devices) with rate and ETA; does nothing unless ``enabled`` (default: stderr is a
    terminal)."""

    def __init__(self, total: int, what: str, *, enabled: bool | None = None) -> None:
        self.total = total
        self.what = what
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import Progress as Bar

            self._bar = Bar(*_columns(self.what), console=Console(stderr=True, force_terminal=True))
            self._bar.__enter__()
            self._task = self._bar.add_task(self.what, total=self.total)
        return self

    def advance(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, n)

    def set(self, completed: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=completed)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


class FleetProgress:
    """Devices registered / total of a real-time run, polled from the
    emulator's summary on a thread of its own while the caller waits (the
    waits release the GIL). The virtual clock needs none: it runs on the
    caller's thread, and fast. Quiet unless stderr is a terminal."""

    def __init__(self, emu: Any, total: int, *, enabled: bool | None = None, period: float = 0.25) -> None:
        import threading

        self._emu = emu
        self._period = period
        self._stop = threading.Event()
        self._bar = Progress(total, "registered", enabled=enabled)
        self._thread: threading.Thread | None = None
        if self._bar.enabled and emu.clock == "real":
            self._bar.__enter__()
            self._thread = threading.Thread(target=self._follow, daemon=True)
            self._thread.start()

    def _registered(self) -> int:
        return int(self._emu.summary()["states"].get("registered", 0))

    def _follow(self) -> None:
        while not self._stop.wait(self._period):
            self._bar.set(self._registered())

    def stop(self) -> None:
        """Draw the last count and take the bar down."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._bar.set(self._registered())
            self._bar.__exit__(None, None, None)
            self._thread = None
