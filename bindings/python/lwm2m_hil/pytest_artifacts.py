"""What the pytest plugin keeps of a failed test: the capture, every
device's timeline and devices.jsonl, in one folder per test; and the
assertion that every device of a fleet left bootstrap on Finish."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any, Iterable, Unpack

from ._device import Device
from ._emulator import Emulator
from ._fleet import Fleet
from ._options import DeviceOptions
from .campaign.results import device_record, write_jsonl


class TrackedEmulator(Emulator):
    """An :class:`Emulator` that remembers its devices (the runtime lists
    none), so that a failed test's artifacts can cover every one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tracked: list[Device] = []

    def device(self, endpoint: str, bootstrap_uri: str, **options: Unpack[DeviceOptions]) -> Device:
        d = super().device(endpoint, bootstrap_uri, **options)
        self.tracked.append(d)
        return d

    def fleet(
        self, count: int, bootstrap_uri: str, *, prefix: str = "dev-", **options: Unpack[DeviceOptions]
    ) -> Fleet:
        f = super().fleet(count, bootstrap_uri, prefix=prefix, **options)
        self.tracked.extend(f)
        return f


def artifact_dir(root: Path, nodeid: str) -> Path:
    """One folder per test, named from its node id (``::`` and brackets
    become ``-``, so the name is a safe path)."""
    return root / re.sub(r"[^A-Za-z0-9_.-]+", "-", nodeid).strip("-")


def save_devices(folder: Path, devices: Iterable[Device]) -> None:
    """devices.jsonl, and one timeline file per device."""
    devices = list(devices)
    write_jsonl(folder / "devices.jsonl", (device_record(d) for d in devices))
    timelines = folder / "timelines"
    timelines.mkdir(exist_ok=True)
    for d in devices:
        with open(timelines / f"{d.endpoint}.txt", "w") as f:
            for e in d.timeline():
                f.write(f"{e.time:10.3f} {e.kind:20} {e.detail}\n")


def make_folder(folder: Path) -> None:
    """Create a test's folder; another worker's test may remove the empty
    root between the two mkdirs, so try again once."""
    for attempt in (1, 2):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return
        except FileNotFoundError:
            if attempt == 2:
                raise


def discard(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def assert_all_left_on_finish(devices: Iterable[Device]) -> None:
    """AssertionError, naming every device whose last bootstrap exit was
    not ``finish`` with its exits, unless all left on Finish."""
    devices = list(devices)
    bad = [d for d in devices if d.bootstrap_exit != "finish"]
    if bad:
        lines = "\n".join(f"  {d.endpoint}: exit {d.bootstrap_exit}, state {d.state}, exits {d.exit_counts()}"
                          for d in bad[:20])
        more = f"\n  ... and {len(bad) - 20} more" if len(bad) > 20 else ""
        raise AssertionError(f"{len(bad)} of {len(devices)} device(s) did not leave bootstrap on Finish:\n"
                             f"{lines}{more}")
