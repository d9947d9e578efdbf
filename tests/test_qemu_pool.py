"""Pre-started QEMU processes (Emulator.warm_qemu, emulator/qemu/qemu_pool.h):
a pooled device boots the image with its own arguments and flash file, as
without the pool, and no QEMU process outlives the emulator, also when
pre-starting fails. Run by ctest -L qemu with tests/test_qemu.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import test_qemu
from helpers import details, kinds
from lwm2m_hil import Emulator, bootstrap_config

TIMING = test_qemu.TIMING
image = test_qemu.image  # fixtures: the firmware image, the servers
servers = test_qemu.servers

pytestmark = pytest.mark.qemu


def _qemu_children() -> dict[int, str]:
    """QEMU processes this process started and has not reaped (zombies
    included): pid -> state letter."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        if comm.startswith("qemu-system") and int(fields[1]) == os.getpid():
            found[int(entry.name)] = fields[0]
    return found


def _after(device: object, kind: str) -> list:
    """The timeline from the last event of ``kind`` on."""
    evs = device.timeline()  # type: ignore[attr-defined]
    last = max(i for i, e in enumerate(evs) if e.kind == kind)
    return evs[last:]


def test_pooled_devices_boot_their_own_arguments_and_flash(servers: tuple, image: Path) -> None:
    """Two devices take pre-started QEMUs from one pool: each boots with its
    own endpoint and flash file, bootstraps with Finish and registers, as
    without the pool. A reboot takes the third: the image boots from that
    device's flash file and registers without bootstrap. With the pool
    empty, the next boot starts QEMU itself."""
    emu, bs, rs = servers
    assert emu.warm_qemu(image, 3) == 3
    pooled = set(_qemu_children())
    assert len(pooled) == 3 and emu.qemu_pooled == 3
    a = emu.device("pool-a", bs.uri, firmware=image, timing=TIMING)
    b = emu.device("pool-b", bs.uri, firmware=image, timing=TIMING)
    for d in (a, b):
        d.wait_for("registered", exit="finish", timeout=30)
    assert {a.pid, b.pid} <= pooled and a.pid != b.pid and emu.qemu_pooled == 1
    assert a.flash_path != b.flash_path
    for d in (a, b):
        [resumed] = details(d, "qemu_pool")
        assert f"pid {d.pid} was pre-started paused" in resumed
        assert f" ep={d.endpoint} " in resumed and f" flash={d.flash_path} " in resumed
        assert details(d, "boot") == [f"boot 1, configuration from flash {d.flash_path}"]
        assert bs.outcomes()[d.endpoint] == "SUCCESS" and d.endpoint in rs.registrations()
        live = [r for r in d.flash_store()["records"] if r["live"] and r["kind"] == "payload"]
        assert len(live) == 1 and live[0]["boot_count"] == 1
        assert (d.work_dir / "qemu.log").exists()  # QEMU's log moved to the device's directory

    a.reboot()
    a.wait_for("registered", timeout=30)
    assert a.pid in pooled and emu.qemu_pooled == 0
    after = _after(a, "reboot")
    assert [e.kind for e in after[:2]] == ["reboot", "qemu_pool"]
    assert [e.detail for e in after if e.kind == "boot"] == [f"boot 2, configuration from flash {a.flash_path}"]
    assert not [e for e in after if e.kind == "bootstrap_request"]

    b.reboot()
    b.wait_for("registered", timeout=30)
    assert b.pid not in pooled
    after = _after(b, "reboot")
    assert not [e for e in after if e.kind == "qemu_pool"] and kinds(b, "qemu_start")
    assert [e.detail for e in after if e.kind == "boot"][0].startswith("boot 2,")


def test_closing_the_emulator_kills_pooled_and_running_qemus(image: Path) -> None:
    """close() kills the QEMUs no device took and those devices run, reaps
    them all and removes the pool's directories."""
    with Emulator() as emu:
        rs = emu.registration_server(timing=TIMING)
        bs = emu.bootstrap_server(bootstrap_config(rs.uri), timing=TIMING)
        assert emu.warm_qemu(image, 3) == 3
        dev = emu.device("pool-close", bs.uri, firmware=image, timing=TIMING)
        dev.wait_for("registered", timeout=30)
        assert len(_qemu_children()) == 3 and emu.qemu_pooled == 2
        [pool_dir] = dev.work_dir.parent.glob(".pool-*")
        assert len(list(pool_dir.iterdir())) == 3  # one directory per QEMU started paused
    assert _qemu_children() == {}
    assert not pool_dir.exists()


def test_a_failed_pre_start_says_why_and_leaves_no_process(image: Path) -> None:
    """QEMU that cannot start (a machine it does not know) is reaped and
    reported with what QEMU said; bad arguments name the argument."""
    with Emulator() as emu:
        with pytest.raises(OSError, match="machine no-such-board .* while starting paused: .*unsupported machine"):
            emu.warm_qemu(image, 2, machine="no-such-board")
        assert _qemu_children() == {} and emu.qemu_pooled == 0
        with pytest.raises(ValueError, match="count: 0"):
            emu.warm_qemu(image, 0)
        with pytest.raises(ValueError, match="qemu: no-such-qemu not found"):
            emu.warm_qemu(image, 1, qemu="no-such-qemu")
        with pytest.raises(ValueError, match="firmware: .* is not a file"):
            emu.warm_qemu(image.parent / "missing.elf", 1)
