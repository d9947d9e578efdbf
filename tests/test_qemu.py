"""Firmware images under QEMU (issue 7): the client core built for a
Cortex-M3 (firmware-images/), booted in qemu-system-arm, talking to this
project's servers through the QEMU host (emulator/qemu, its hil-qemu-run
tool), with its configuration in the same flash store as native devices.

Marker ``qemu``: ``pytest -m qemu`` runs these alone, ``-m "not qemu"``
skips them. They need the image (scripts/firmware builds it) and
hil-qemu-run (built with the project); without them they are skipped, or
fail when HIL_QEMU_REQUIRED=1 (ctest -L qemu sets it).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, NamedTuple

import pytest

import lwm2m_hil
from helpers import FAST
from lwm2m_hil import Emulator, bootstrap_config

pytestmark = pytest.mark.qemu

REPO = Path(__file__).resolve().parent.parent
EXIT_POWER_CUT = 3  # firmware-images/app/exit_codes.h


def _find_tool() -> Path | None:
    env = os.environ.get("HIL_QEMU_RUN")
    if env:
        return Path(env)
    # The package lives in <build>/python; the tool in <build>/emulator/qemu.
    build = Path(lwm2m_hil.__file__).resolve().parents[2]
    candidate = build / "emulator" / "qemu" / "hil-qemu-run"
    return candidate if candidate.exists() else None


def _find_image() -> Path:
    env = os.environ.get("HIL_FIRMWARE_IMAGE")
    if env:
        return Path(env)
    # scripts/firmware builds into <build root>/firmware, next to <build root>/release.
    build = Path(lwm2m_hil.__file__).resolve().parents[2]
    for candidate in (build.parent / "firmware", REPO / "build" / "firmware"):
        if (candidate / "mps2-an385-lwm2m.elf").exists():
            return candidate / "mps2-an385-lwm2m.elf"
    return REPO / "build" / "firmware" / "mps2-an385-lwm2m.elf"


def _requirements() -> tuple[Path, Path]:
    image = _find_image()
    tool = _find_tool()
    missing = []
    if not image.exists():
        missing.append(f"firmware image {image} (run scripts/firmware)")
    if tool is None or not tool.exists():
        missing.append("hil-qemu-run (build emulator/qemu, or set HIL_QEMU_RUN)")
    if shutil.which("qemu-system-arm") is None:
        missing.append("qemu-system-arm (apt-get install --no-install-recommends qemu-system-arm)")
    if missing:
        message = "QEMU tests need " + "; ".join(missing)
        if os.environ.get("HIL_QEMU_REQUIRED") == "1":
            pytest.fail(message)
        pytest.skip(message)
    assert tool is not None
    return image, tool


class Line(NamedTuple):
    host_s: float  # seconds since the tool started, when the line arrived
    source: str  # "EV" (the firmware) or "HOST" (the tool)
    time_ms: int
    kind: str
    detail: str


class QemuRun:
    """hil-qemu-run as a subprocess: one firmware image in QEMU, its UDP
    relayed to loopback, its timeline parsed from stdout."""

    def __init__(self, workdir: Path, args: list[str], *, tool_args: list[str] | None = None) -> None:
        image, tool = _requirements()
        self.workdir = workdir
        cmd = [str(tool), "--image", str(image), "--dir", str(workdir), "--timeout", "120", *(tool_args or []), "--", *args]
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        self.lines: list[Line] = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            parts = raw.rstrip("\n").split(" ", 3)
            if len(parts) < 3 or parts[0] not in ("EV", "HOST"):
                continue
            try:
                t = int(parts[1])
            except ValueError:
                continue
            line = Line(time.monotonic() - self.t0, parts[0], t, parts[2], parts[3] if len(parts) > 3 else "")
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def events(self, kind: str | None = None) -> list[Line]:
        with self.cond:
            return [x for x in self.lines if x.source == "EV" and (kind is None or x.kind == kind)]

    def wait_for(self, predicate: Callable[[Line], bool], timeout: float, what: str) -> Line:
        deadline = time.monotonic() + timeout
        seen = 0
        with self.cond:
            while True:
                for line in self.lines[seen:]:
                    if predicate(line):
                        return line
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self.reader.is_alive()):
                    tail = "\n".join(f"  {x.source} {x.time_ms} {x.kind} {x.detail}" for x in self.lines[-15:])
                    raise AssertionError(f"QEMU device: no {what} after {timeout} s; last lines:\n{tail}")
                self.cond.wait(min(left, 0.2))

    def wait_state(self, state: str, timeout: float = 60) -> Line:
        return self.wait_for(lambda x: x.source == "EV" and x.kind == "state" and x.detail == state, timeout, f"state {state}")

    def wait_exit(self, timeout: float = 60) -> int:
        rc = self.proc.wait(timeout)
        self.reader.join(5)
        return rc

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()

    def __enter__(self) -> QemuRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def servers() -> Iterator[tuple[Emulator, object, object]]:
    _requirements()
    with Emulator() as emu:
        rs = emu.registration_server(timing=FAST)
        bs = emu.bootstrap_server(bootstrap_config(rs.uri), timing=FAST)
        yield emu, bs, rs


def test_qemu_device_bootstraps_with_finish_and_registers(tmp_path: Path, servers: tuple) -> None:
    """The image boots in QEMU, bootstraps from our bootstrap server, leaves
    bootstrap on Finish (committing to flash before it answers 2.04) and
    registers with the server account it was given."""
    emu, bs, rs = servers
    with QemuRun(tmp_path, ["ep=qemu-1", f"bs={bs.uri}", "ack_timeout_ms=1000", "flash=flash.bin"]) as run:
        registered = run.wait_state("registered", timeout=60)
        start = run.wait_for(lambda x: x.source == "HOST" and x.kind == "start", 1, "start")
        print(f"QEMU start to registered: {registered.host_s - start.host_s:.3f} s (firmware clock {registered.time_ms} ms)")
        exits = [x.detail for x in run.events("bootstrap_exit")]
        assert exits == ["finish"]
        # Durable before acknowledged: the commit happens before the 2.04 of Finish.
        evs = run.events()
        finish_rx = next(i for i, x in enumerate(evs) if x.kind == "rx" and x.detail.startswith("POST /bs"))
        commit = next(i for i, x in enumerate(evs) if x.kind == "commit")
        answer = next(i for i, x in enumerate(evs) if i > finish_rx and x.kind == "tx")
        assert finish_rx < commit < answer and evs[answer].detail == "2.04"
        assert bs.outcomes()["qemu-1"] == "SUCCESS"
        assert "qemu-1" in rs.registrations()
        stats = run.wait_for(lambda x: x.kind == "stats", 5, "the firmware's memory report when registered")
        print("firmware:", stats.detail)
    # The same store and encoding as native devices: a native device started
    # from the image the firmware wrote registers at once, without bootstrap.
    image = tmp_path / "flash.bin"
    assert image.stat().st_size == 8192 and image.read_bytes()[:4] == b"HCFG"
    native = emu.device("qemu-1", bs.uri, timing=FAST, flash_image=str(image))
    native.wait_for("registered", timeout=20)
    kinds = [e.kind for e in native.timeline()]
    assert "register" in kinds and "bootstrap_request" not in kinds
    live = [r for r in native.flash_store()["records"] if r["live"]]
    assert live and max(r["boot_count"] for r in live) == 2  # the firmware's boot, then this one


def test_qemu_device_registers_through_30_percent_loss(tmp_path: Path, servers: tuple) -> None:
    """With 30% of the datagrams lost each way, libcoap's retransmissions in
    the firmware (and the core's retries) still get it bootstrapped and
    registered."""
    _, bs, rs = servers
    args = ["ep=qemu-loss", f"bs={bs.uri}", "ack_timeout_ms=300", "retry_initial_ms=500"]
    with QemuRun(tmp_path, args, tool_args=["--loss", "0.3", "--seed", "7"]) as run:
        run.wait_state("registered", timeout=90)
        drops = [x for x in run.lines if x.source == "HOST" and x.kind == "drop"]
        assert drops, "the loss fired"
        assert run.events("bootstrap_exit")[-1].detail == "finish"
    assert "qemu-loss" in rs.registrations()


def test_power_cut_during_the_commit_leaves_old_or_new_configuration(tmp_path: Path, servers: tuple) -> None:
    """A power cut in the middle of the commit of Finish (the model in the
    firmware tears the write and the image exits with its power-cut code):
    after a reboot from the same flash image the device has the old
    configuration (it bootstraps again) or the new one (it registers at
    once), never a torn one, and registers either way."""
    _, bs, rs = servers
    base = ["ep=qemu-cut", f"bs={bs.uri}", "ack_timeout_ms=1000", "flash=flash.bin"]
    # A dry run finds the flash operations of the commit.
    dry = tmp_path / "dry"
    with QemuRun(dry, base) as run:
        run.wait_state("registered", timeout=60)
        span = run.wait_for(lambda x: x.kind == "flash_commit", 1, "flash_commit").detail  # "ops A..B"
    first, end = (int(v) for v in span.split()[1].split(".."))
    assert end > first
    cut = first + (end - first) // 2
    with QemuRun(tmp_path, [*base, f"cut_op={cut}", "cut_byte=1"]) as run:
        rc = run.wait_exit(60)
        assert rc == EXIT_POWER_CUT, f"exit {rc}"
        assert run.events("flash_power_cut")
        evs = run.events()
        finish_rx = next(i for i, x in enumerate(evs) if x.kind == "rx" and x.detail.startswith("POST /bs"))
        assert not [x for x in evs[finish_rx:] if x.kind == "tx"], "no answer to Finish left before the cut"
    with QemuRun(tmp_path, base) as run:  # reboot: same flash image, no cut
        boot = run.wait_for(lambda x: x.kind == "boot", 30, "boot")
        assert boot.detail.startswith("boot 2,")
        first_state = run.wait_for(lambda x: x.kind == "state", 30, "a state")
        assert first_state.detail in ("bootstrapping", "registering")
        run.wait_state("registered", timeout=60)
        assert not run.events("boot_failed")


def test_eight_qemu_devices_at_once(tmp_path: Path, servers: tuple) -> None:
    """Eight QEMU devices boot side by side and all register."""
    _, bs, rs = servers
    runs = [
        QemuRun(tmp_path / f"d{i}", [f"ep=qemu-{i}", f"bs={bs.uri}", "ack_timeout_ms=1000", f"seed={i}"]) for i in range(8)
    ]
    try:
        for run in runs:
            run.wait_state("registered", timeout=90)
    finally:
        for run in runs:
            run.stop()
    assert all(f"qemu-{i}" in rs.registrations() for i in range(8))
