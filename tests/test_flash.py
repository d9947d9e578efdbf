"""The emulated flash under a device: power cuts at every flash operation of
a bootstrap commit, bit flips, reboots, factory reset and image files.

PROTOCOL.md, "durable before acknowledged": a power cut before the commit
leaves the old configuration, after it the new one, never a mix.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

import lwm2m_hil
from helpers import FAST, wait_until
from lwm2m_hil import Emulator, FlashGeometry, bootstrap_config

# Byte offsets inside the cut operation: None cuts before it; a huge one
# lets the operation land whole but the device never hears back.
CUT_BYTES = [None, 0, 1, 13, 31, 32, 100, 1 << 20]


def kinds_after(timeline, kind):
    """Event kinds that follow the first event of ``kind``."""
    kinds = [e.kind for e in timeline]
    return kinds[kinds.index(kind) + 1 :]


def commit_ops(emu: Emulator, bs_uri: str, flash: FlashGeometry = FlashGeometry()) -> tuple[int, int, int]:
    """Flash operations of a first boot, and of the bootstrap commit, as one
    reference device performs them; and how many of the commit's are erases."""
    idle = emu.device("ref-boot", "coap://127.0.0.1:9", timing=FAST, flash=flash)
    c = idle.flash_counters()
    boot_ops, boot_erases = c["programs"] + c["erases"], c["erases"]
    ref = emu.device("ref-commit", bs_uri, timing=FAST, flash=flash)
    ref.wait_for("registered", timeout=20)
    c = ref.flash_counters()
    return boot_ops, c["programs"] + c["erases"] - boot_ops, c["erases"] - boot_erases


# The default geometry: the commit appends to the sector the factory image
# opened. 256-byte sectors: the commit does not fit after the factory image
# and opens the next sector (erase, header, then the record).
SWEEP_GEOMETRIES = {"appends": FlashGeometry(), "opens-a-sector": FlashGeometry(1024, 256, 32)}


@pytest.mark.parametrize("layout", SWEEP_GEOMETRIES)
def test_power_cut_at_every_flash_operation_of_the_commit_leaves_old_or_new_and_registers(layout: str) -> None:
    """Exhaustive sweep: cut power before and inside every program and erase
    of the bootstrap commit; after each cut the device boots with exactly
    the old (factory) or the new configuration, and ends registered. Two
    layouts: a commit that appends to the open sector, and one that must
    erase and open another sector first."""
    flash = SWEEP_GEOMETRIES[layout]
    with Emulator(seed=11) as emu:
        rs = emu.registration_server(timing=FAST)
        bs = emu.bootstrap_server(bootstrap_config(rs.uri), timing=FAST)
        boot_ops, ops, erases = commit_ops(emu, bs.uri, flash)
        assert ops >= 2, "a commit programs at least a record and its commit marker"
        assert (erases > 0) == (layout == "opens-a-sector"), erases
        devices = []
        for op in range(ops):
            for byte in CUT_BYTES:
                name = f"cut-{op}-{'before' if byte is None else byte}"
                d = emu.device(name, bs.uri, timing=FAST, flash=flash, reboot_after_power_cut=0.0, start=False)
                d.arm_power_cut(boot_ops + op, byte)
                devices.append(d)
        for d in devices:
            d._h.start()
        outcomes = {"old": 0, "new": 0}
        for d in devices:
            d.wait_for("registered", timeout=30)
            assert d.power_cuts == 1, d.endpoint
            assert d.torn_configs == 0, d.endpoint
            after = kinds_after(d.timeline(), "power_cut")
            assert after[after.index("boot") + 1] in ("bootstrap_request", "state"), after
            outcomes["old" if "bootstrap_request" in after else "new"] += 1
            assert d.read("/0/1/0") == rs.uri  # in the end, the new configuration
        print(f"power-cut sweep ({layout}): {len(devices)} cut points over {ops} flash operations "
              f"({erases} erase): {outcomes}")
        assert outcomes["old"] > 0 and outcomes["new"] > 0


def test_cut_between_commit_and_answer_device_registers_and_server_times_out():
    """The commit lands, the power goes before the 2.04: the server hears
    nothing and retransmits Finish to a device that no longer has that
    session; it records TIMEOUT. The rebooted device holds the new
    configuration and registers without bootstrapping again."""
    with Emulator(seed=12) as emu:
        rs = emu.registration_server(timing=FAST)
        bs = emu.bootstrap_server(bootstrap_config(rs.uri), timing=FAST)
        boot_ops, ops, _ = commit_ops(emu, bs.uri)
        d = emu.device("late-cut", bs.uri, timing=FAST, reboot_after_power_cut=0.0, start=False)
        d.arm_power_cut(boot_ops + ops - 1, 1 << 20)
        d._h.start()
        d.wait_for("registered", timeout=20)
        after = kinds_after(d.timeline(), "power_cut")
        assert "bootstrap_request" not in after
        assert d.read("/0/1/0") == rs.uri
        # MAX_TRANSMIT_WAIT is 4.65 s here; a loaded machine may stretch it.
        outcome = wait_until(lambda: bs.outcomes()["late-cut"], 20, "the Finish to give up")
        assert outcome == "TIMEOUT"
        assert "late-cut" in rs.registrations()


def test_bit_flip_in_the_live_record_falls_back_to_the_previous_good_copy():
    """A flipped bit in the stored configuration is caught by its CRC at
    boot; the device falls back to the previous good copy (here the factory
    one) and bootstraps again, never using the corrupt one."""
    with Emulator(seed=13) as emu:
        rs = emu.registration_server(timing=FAST)
        bs = emu.bootstrap_server(bootstrap_config(rs.uri), timing=FAST)
        d = emu.device("flip", bs.uri, timing=FAST)
        d.wait_for("registered", timeout=20)
        live = next(r for r in d.flash_store()["records"] if r["live"] and r["kind"] == "payload")
        sector_size = FlashGeometry().sector_size
        d.flip_bit(live["sector"] * sector_size + live["offset"] + 32 + 3, 2)
        d.reboot()
        d.wait_for("registered", timeout=20)
        after = kinds_after(d.timeline(), "reboot")
        assert "bootstrap_request" in after
        assert d.torn_configs == 0
        records = d.flash_store()["records"]
        assert any(not r["crc_ok"] for r in records)


def test_reboot_of_bootstrapped_device_registers_without_bootstrap():
    """ETS 1.1-int-6 across a reboot: the configuration comes from flash."""
    with Emulator(seed=14) as emu:
        rs = emu.registration_server(timing=FAST)
        bs = emu.bootstrap_server(bootstrap_config(rs.uri), timing=FAST)
        d = emu.device("rebooter", bs.uri, timing=FAST)
        d.wait_for("registered", timeout=20)
        d.reboot()
        d.wait_for("registered", timeout=20)
        after = kinds_after(d.timeline(), "reboot")
        assert "register" in after and "bootstrap_request" not in after


def test_factory_reset_erases_back_to_the_bootstrap_account():
    """After a factory reset the device holds only its bootstrap account and
    bootstraps again."""
    with Emulator(seed=15) as emu:
        rs = emu.registration_server(timing=FAST)
        bs = emu.bootstrap_server(bootstrap_config(rs.uri), timing=FAST)
        d = emu.device("reset", bs.uri, timing=FAST)
        d.wait_for("registered", timeout=20)
        d.factory_reset()
        d.wait_for("registered", timeout=20)
        assert "bootstrap_request" in kinds_after(d.timeline(), "factory_reset")


def test_flash_image_file_outlives_the_emulator(tmp_path: Path):
    """The raw image is a file: a second emulator process-lifetime later,
    the same device boots from it and registers without bootstrap."""
    image = tmp_path / "{endpoint}.bin"
    with Emulator(seed=16) as emu:
        rs = emu.registration_server(timing=FAST, listen="127.0.0.1:0")
        bs = emu.bootstrap_server(bootstrap_config(rs.uri), timing=FAST)
        d = emu.device("kept", bs.uri, timing=FAST, flash_image=str(image))
        d.wait_for("registered", timeout=20)
        raw = d.flash_image()
    on_disk = (tmp_path / "kept.bin").read_bytes()
    assert on_disk == raw and len(on_disk) == FlashGeometry().size
    with Emulator(seed=17) as emu:
        d = emu.device("kept", "coap://127.0.0.1:9", timing=FAST, flash_image=str(image))
        d.wait_for("registering", timeout=20)
        kinds = [e.kind for e in d.timeline()]
        assert "register" in kinds and "bootstrap_request" not in kinds


KILLED_CHILD = """
import os, signal, sys
from lwm2m_hil import CoapTiming, Emulator, bootstrap_config
fast = CoapTiming(ack_timeout=0.1)
emu = Emulator(seed=18)
rs = emu.registration_server(timing=fast)
bs = emu.bootstrap_server(bootstrap_config(rs.uri), timing=fast)
d = emu.device("kept", bs.uri, timing=fast, flash_image=sys.argv[1])
d.wait_for("registered", timeout=20)
print(rs.uri, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_flash_image_file_survives_a_killed_process(tmp_path: Path, package_env: dict[str, str]):
    """A process that bootstraps a device onto a flash image file and is then
    killed (SIGKILL: no destructor, no flush at exit) leaves a file from
    which a device in another process boots the committed configuration and
    registers at the server bootstrap gave it, without bootstrapping."""
    image = tmp_path / "kept.bin"
    child = subprocess.run([sys.executable, "-c", KILLED_CHILD, str(image)], env=package_env,
                           capture_output=True, text=True, timeout=60)
    assert child.returncode == -signal.SIGKILL, child.stderr
    rs_uri = child.stdout.strip()
    assert rs_uri.startswith("coap://127.0.0.1:")
    with Emulator(seed=19) as emu:
        d = emu.device("kept", "coap://127.0.0.1:9", timing=FAST, flash_image=str(image))
        d.wait_for("registering", timeout=20)
        kinds = [e.kind for e in d.timeline()]
        assert "bootstrap_request" not in kinds
        assert any(e.kind == "register" and e.detail == rs_uri for e in d.timeline())


def test_full_flash_finish_is_answered_5_00_and_the_device_stays_in_bootstrap():
    """A flash too small for the configuration bootstrap writes (128-byte
    sectors; the payload needs more): the commit fails, so the device answers
    Finish 5.00 (not durable, not acknowledged; the server records
    FINISH_FAILED), stays in bootstrap with nothing live, and never
    registers with a configuration it could not keep; its finish timeout
    then discards the staged one and it bootstraps again, with the same
    result."""
    with Emulator(seed=20) as emu:
        rs = emu.registration_server(timing=FAST)
        bs = emu.bootstrap_server(bootstrap_config(rs.uri), timing=FAST)
        d = emu.device("full", bs.uri, timing=FAST, flash=FlashGeometry(256, 128, 16), finish_timeout=0.5)
        wait_until(lambda: d.exit_counts().get("finish_timeout", 0) >= 2, 10, "two finish timeouts")
        assert bs.outcomes()["full"] == "FINISH_FAILED"
        assert "finish" not in d.exit_counts()
        assert "full" not in rs.registrations()
        kinds = [e.kind for e in d.timeline()]
        assert kinds.count("commit_failed") >= 2 and "register" not in kinds
        failed = next(e.detail for e in d.timeline() if e.kind == "commit_failed")
        assert "does not fit" in failed and "still in bootstrap" in failed
        answers = [e.detail for e in d.timeline() if e.kind == "tx"]
        assert "5.00" in answers


def test_bad_flash_geometry_is_refused_with_the_field_named():
    with Emulator() as emu:
        with pytest.raises(ValueError, match="at least 2 sectors"):
            emu.device("g", "coap://127.0.0.1:9", flash=FlashGeometry(4096, 4096, 256))
        with pytest.raises(ValueError, match="flash"):
            emu.device("g", "coap://127.0.0.1:9", flash=FlashGeometry(8192, 4096, 300))
        with pytest.raises(ValueError, match="flash_violation"):
            emu.device("g", "coap://127.0.0.1:9", flash_violation="or")


def test_device_without_flash_forgets_its_configuration_at_reboot():
    """flash=None keeps the configuration in RAM only: a reboot brings back
    the factory configuration, so the device bootstraps again."""
    with Emulator(seed=18) as emu:
        rs = emu.registration_server(timing=FAST)
        bs = emu.bootstrap_server(bootstrap_config(rs.uri), timing=FAST)
        d = emu.device("ram", bs.uri, timing=FAST, flash=None)
        d.wait_for("registered", timeout=20)
        with pytest.raises(lwm2m_hil.NotSupportedError, match="no flash"):
            d.flash_image()
        d.reboot()
        d.wait_for("registered", timeout=20)
        assert "bootstrap_request" in kinds_after(d.timeline(), "reboot")


def test_flash_latency_delays_what_the_device_sends_while_busy():
    """Program and erase latencies keep the device busy: its answer to
    Finish (and its Register after it) leave only when the commit's flash
    operations are done."""
    with Emulator(seed=19) as emu:
        rs = emu.registration_server(timing=FAST)
        bs = emu.bootstrap_server(bootstrap_config(rs.uri), timing=FAST)
        d = emu.device("slow-flash", bs.uri, timing=FAST, flash_program_latency=0.05,
                       flash_erase_latency=0.3)
        d.wait_for("registered", timeout=20)
        timeline = d.timeline()
        commit = next(e for e in timeline if e.kind == "commit")
        busy = [e for e in timeline if e.kind == "flash_busy" and e.time >= commit.time]
        assert busy, [e.kind for e in timeline]
        busy_s = int(busy[0].detail.split()[0]) / 1000.0
        assert busy_s >= 0.05
        registered_s = rs.registrations()["slow-flash"]["registered_ms"] / 1000.0
        assert registered_s - commit.time >= busy_s * 0.9


def test_injected_flash_faults_are_on_the_timeline_and_a_worn_sector_is_skipped():
    """A bit flip and a worn-out sector are events on the device's timeline
    at once; commits that later meet the worn sector move on to the next
    one, and the device still bootstraps and registers."""
    with Emulator(seed=20) as emu:
        rs = emu.registration_server(timing=FAST)
        bs = emu.bootstrap_server(bootstrap_config(rs.uri), timing=FAST)
        geometry = FlashGeometry(size=16 * 1024, sector_size=4096, page_size=256)
        d = emu.device("worn", bs.uri, timing=FAST, flash=geometry)
        d.wait_for("registered", timeout=20)
        d.flip_bit(geometry.size - 1, 0)  # an unused byte: the store is unaffected
        assert d.timeline()[-1].kind == "flash_bit_flip"
        d.wear_out(2)
        for _ in range(3):  # each factory reset + bootstrap erases fresh sectors
            d.factory_reset()
            d.wait_for("registered", timeout=20)
        kinds = [e.kind for e in d.timeline()]
        assert "flash_worn_erase" in kinds
        assert d.flash_counters()["worn_erases"] >= 1
        assert d.read("/0/1/0") == rs.uri
        # With every other sector worn too, the store refuses and keeps what it has.
        for sector in range(4):
            d.wear_out(sector)
        with pytest.raises(lwm2m_hil.OSError, match="live configuration") as info:
            d.factory_reset()
        assert info.value.code == "resource_exhausted"
        d.wait_for("registered", timeout=20)  # back up with the configuration it had


def test_seeded_random_power_cut_lands_where_its_seed_says_on_any_device():
    """arm_random_power_cut(within_ops, seed=...) over a device's boot and
    bootstrap commit: two devices with different names (so different flash
    generators) and the same seed lose power at the same operation and byte;
    both reboot, end registered, and boot no torn configuration."""
    with Emulator(seed=14) as emu:
        rs = emu.registration_server(timing=FAST)
        bs = emu.bootstrap_server(bootstrap_config(rs.uri), timing=FAST)
        boot_ops, ops, _ = commit_ops(emu, bs.uri)
        spots = []
        for name in ("dev-a", "dev-b"):
            d = emu.device(name, bs.uri, timing=FAST, reboot_after_power_cut=0.0, start=False)
            d.arm_random_power_cut(boot_ops + ops, seed=2024)
            d._h.start()
            d.wait_for("registered", timeout=20)
            assert d.power_cuts == 1 and d.torn_configs == 0, d.endpoint
            spots.append(next(e.detail for e in d.timeline() if e.kind == "flash_power_cut"))
        assert spots[0] == spots[1], spots


def test_immediate_power_cut_and_random_bit_flips_from_python():
    """power_cut() on a registered device: it loses RAM at once, reboots from
    flash and registers without bootstrapping. Then flip_random_bits() over
    the whole store: the next boot detects the damage by CRC, never uses it,
    and the device ends registered again (from a good copy or after a new
    bootstrap). The flash counters count the flips, the erases per sector add
    up to the erases, and no program ever set a bit (violations 0)."""
    with Emulator(seed=15) as emu:
        rs = emu.registration_server(timing=FAST)
        bs = emu.bootstrap_server(bootstrap_config(rs.uri), timing=FAST)
        d = emu.device("cut-now", bs.uri, timing=FAST, reboot_after_power_cut=0.0)
        d.wait_for("registered", exit="finish", timeout=20)
        d.power_cut()
        wait_until(lambda: d.power_cuts == 1, 5, "the cut")
        d.wait_for("registered", timeout=20)
        assert "bootstrap_request" not in kinds_after(d.timeline(), "power_cut")

        d.flip_random_bits(24)
        d.reboot()
        d.wait_for("registered", timeout=30)
        assert d.torn_configs == 0
        assert d.read("/0/1/0") == rs.uri
        c = d.flash_counters()
        assert c["bit_flips"] == 24
        assert sum(c["erases_per_sector"]) == c["erases"]
        assert c["violations"] == 0
