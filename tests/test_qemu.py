"""Firmware images under QEMU (issue 7): the client core built for a
Cortex-M3 (firmware-images/), booted in qemu-system-arm as a device of the
emulator (``Emulator.device(..., firmware=IMAGE)``), its UDP through its own
radio link like a native device's, its flash in a file decoded by the same
code as native devices', driven by the same assertions.

Marker ``qemu``: ``pytest -m qemu`` runs these alone, ``-m "not qemu"``
skips them. They need the image (scripts/firmware builds it) and
qemu-system-arm; without them they are skipped, or fail when
HIL_QEMU_REQUIRED=1 (ctest -L qemu sets it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

import lwm2m_hil
from coap_peer import CON, POST, Message
from helpers import details, kinds, read_pcapng, wait_until
from lwm2m_hil import CoapTiming, Emulator, NotSupportedOnQemu, QemuDevice, bootstrap_config

pytestmark = pytest.mark.qemu

REPO = Path(__file__).resolve().parent.parent
# The image's CoAP timers: short, as for native devices on loopback, but
# not so short that a busy 2-core machine turns QEMU's scheduling into loss.
TIMING = CoapTiming(ack_timeout=0.3)


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


def _find_tool() -> Path | None:
    env = os.environ.get("HIL_QEMU_RUN")
    if env:
        return Path(env)
    build = Path(lwm2m_hil.__file__).resolve().parents[2]  # <build>/python/lwm2m_hil
    candidate = build / "emulator" / "qemu" / "hil-qemu-run"
    return candidate if candidate.exists() else None


def _missing(message: str) -> None:
    if os.environ.get("HIL_QEMU_REQUIRED") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def image() -> Path:
    path = _find_image()
    missing = []
    if not path.exists():
        missing.append(f"firmware image {path} (run scripts/firmware)")
    if shutil.which("qemu-system-arm") is None:
        missing.append("qemu-system-arm (apt-get install --no-install-recommends qemu-system-arm)")
    if missing:
        _missing("QEMU tests need " + "; ".join(missing))
    return path


@pytest.fixture
def servers(image: Path) -> Iterator[tuple[Emulator, object, object]]:
    with Emulator() as emu:
        rs = emu.registration_server(timing=TIMING)
        bs = emu.bootstrap_server(bootstrap_config(rs.uri), timing=TIMING)
        yield emu, bs, rs


def _index(events: list, kind: str, start: int = 0, detail: str = "") -> int:
    return next(i for i, e in enumerate(events) if i >= start and e.kind == kind and e.detail.startswith(detail))


def test_qemu_device_bootstraps_with_finish_and_registers(servers: tuple, image: Path, tmp_path: Path) -> None:
    """A device made with Emulator.device(firmware=IMAGE) boots in QEMU,
    bootstraps from our bootstrap server, leaves bootstrap on Finish
    (committing to flash before it answers 2.04) and registers; its state,
    exit, timeline and flash read as a native device's do, and a native
    device started from its flash file registers without bootstrap."""
    emu, bs, rs = servers
    t0 = time.monotonic()
    dev = emu.device("qemu-1", bs.uri, firmware=image, timing=TIMING)
    assert isinstance(dev, QemuDevice)
    dev.wait_for("registered", exit="finish", timeout=30)
    print(f"QEMU device: start to registered {time.monotonic() - t0:.3f} s, bootstrap {dev.bootstrap_duration():.3f} s")
    assert dev.exit_counts() == {"finish": 1}
    assert dev.powered and dev.pid is not None
    assert dev.address.startswith("127.1.")
    assert bs.outcomes()["qemu-1"] == "SUCCESS"
    assert "qemu-1" in rs.registrations()
    # Durable before acknowledged: the commit happens before the 2.04 of Finish.
    evs = dev.timeline()
    finish_rx = _index(evs, "rx", detail="POST /bs")
    commit = _index(evs, "commit", finish_rx)
    answer = _index(evs, "tx", finish_rx)
    assert finish_rx < commit < answer and evs[answer].detail == "2.04"
    # The image's datagrams went through its radio link.
    total = dev.link_counters()["total"]
    assert total["sent"] == total["delivered"] >= 10 and total["dropped"] == 0
    # The flash file, decoded as native devices' flash.
    store = dev.flash_store()
    live = [r for r in store["records"] if r["live"] and r["kind"] == "payload"]
    assert len(live) == 1 and live[0]["boot_count"] == 1
    image_bytes = dev.flash_image()
    assert len(image_bytes) == 8192 and image_bytes[:4] == b"HCFG"
    # What a firmware image has no way to do says so.
    for call in (dev.objects, dev.deregister, dev.factory_reset, dev.flash_counters, lambda: dev.flip_bit(0, 0)):
        with pytest.raises(NotSupportedOnQemu, match="not supported on a QEMU device"):
            call()
    with pytest.raises(NotSupportedOnQemu, match="NoSec only"):
        emu.device("qemu-psk", bs.secure_uri, firmware=image)

    # The same store and encoding as native devices: a native device of the
    # same name (in an emulator of its own: names are unique in one) boots
    # from the copy and registers without bootstrap.
    copy = tmp_path / "flash.bin"
    copy.write_bytes(image_bytes)
    with Emulator() as other:
        native = other.device("qemu-1", bs.uri, timing=TIMING, flash_image=str(copy))
        native.wait_for("registered", timeout=20)
        assert kinds(native, "register")
        assert not kinds(native, "bootstrap_request")


def test_qemu_device_reboots_from_its_flash_and_registers_without_bootstrap(servers: tuple, image: Path) -> None:
    """reboot() kills QEMU and starts it on the same flash file: the image
    boots with the configuration bootstrap left (boot 2) and registers at
    once, without bootstrap; RAM is lost, so the state and the bootstrap
    exit start afresh, as a native device's do."""
    emu, bs, rs = servers
    dev = emu.device("qemu-reboot", bs.uri, firmware=image, timing=TIMING)
    dev.wait_for("registered", timeout=30)
    first_pid = dev.pid
    dev.reboot()
    assert dev.state == "factory" and dev.bootstrap_exit == "none"
    dev.wait_for("registered", timeout=20)
    assert dev.pid != first_pid
    evs = dev.timeline()
    after = evs[_index(evs, "reboot"):]
    assert [e.detail for e in after if e.kind == "boot"][0].startswith("boot 2,")
    assert [e.detail for e in after if e.kind == "state"][0] == "registering"
    assert not [e for e in after if e.kind == "bootstrap_request"]
    assert dev.bootstrap_exit == "none" and dev.exit_counts() == {}
    assert rs.registrations()["qemu-reboot"]


def test_power_cut_kills_qemu_and_it_boots_again_and_close_stops_it(image: Path) -> None:
    """power_cut() kills QEMU at once (between two flash operations); after
    reboot_after_power_cut the image boots again from its flash file and
    registers without bootstrap. Closing the emulator kills QEMU and
    removes the working directories it made."""
    with Emulator() as emu:
        rs = emu.registration_server(timing=TIMING)
        bs = emu.bootstrap_server(bootstrap_config(rs.uri), timing=TIMING)
        dev = emu.device("qemu-kill", bs.uri, firmware=image, timing=TIMING, reboot_after_power_cut=0.2)
        dev.wait_for("registered", timeout=30)
        pid, work_dir = dev.pid, dev.work_dir
        assert pid is not None and (work_dir / "flash.bin").exists()
        dev.power_cut()
        assert not dev.powered and dev.power_cuts == 1 and dev.pid is None
        assert not Path(f"/proc/{pid}").exists()
        wait_until(lambda: dev.powered, 10, "the restart after the power cut")
        dev.wait_for("registered", timeout=30)
        evs = dev.timeline()
        after = evs[_index(evs, "power_cut"):]
        assert [e.detail for e in after if e.kind == "boot"][0].startswith("boot 2,")
        assert not [e for e in after if e.kind == "bootstrap_request"]
        pid = dev.pid
    assert pid is not None and not Path(f"/proc/{pid}").exists()
    assert not work_dir.exists()


def test_qemu_device_registers_through_30_percent_loss(servers: tuple, image: Path) -> None:
    """With 30% of the datagrams lost each way on the device's radio link
    (device.link(loss=0.3), as for native devices), libcoap's
    retransmissions in the image and the core's retries still get it
    bootstrapped by Finish and registered; the link's counters show the drops."""
    emu, bs, rs = servers
    dev = emu.device("qemu-loss", bs.uri, firmware=image, timing=TIMING, retry_initial=0.5, start=False)
    dev.link(loss=0.3)
    dev.start()
    dev.wait_for("registered", timeout=90)
    counters = dev.link_counters()["total"]
    assert counters["dropped_by"]["loss"] > 0, counters
    assert counters["dropped"] == counters["dropped_by"]["loss"]
    assert dev.bootstrap_exit == "finish"
    assert any(e.kind == "radio" and "dropped by loss" in e.detail for e in dev.timeline())
    assert "qemu-loss" in rs.registrations()
    print("30% loss:", counters["sent"], "sent,", counters["dropped"], "dropped")


def test_capture_holds_the_firmwares_coap_from_its_own_address(servers: tuple, image: Path, tmp_path: Path) -> None:
    """emulator.capture() records the image's CoAP as the radio carries it:
    Request Bootstrap and Register from the device's own 127.1.x.y, each
    with the radio's verdict."""
    emu, bs, rs = servers
    pcap = tmp_path / "run.pcapng"
    emu.capture(pcap)
    dev = emu.device("qemu-cap", bs.uri, firmware=image, timing=TIMING)
    dev.wait_for("registered", timeout=30)
    emu.capture(None)
    bs_port = int(bs.uri.rsplit(":", 1)[1])
    rs_port = int(rs.uri.rsplit(":", 1)[1])
    packets = [(p, Message.decode(p.payload)) for p in read_pcapng(pcap)]
    requests = [
        (p, m) for p, m in packets if m.type == CON and m.code == POST and p.src[0] == dev.address
    ]
    bootstrap = [(p, m) for p, m in requests if p.dst[1] == bs_port and m.uri_path == "/bs"]
    register = [(p, m) for p, m in requests if p.dst[1] == rs_port and m.uri_path == "/rd"]
    assert bootstrap and "ep=qemu-cap" in bootstrap[0][1].uri_query
    assert register and "ep=qemu-cap" in register[0][1].uri_query
    assert all(p.comment == "passed" for p, _ in packets)
    assert len(packets) == dev.link_counters()["total"]["sent"]


@pytest.mark.parametrize("where, byte", [("first", 1), ("middle", 1), ("last", 64)])
def test_power_cut_during_the_commit_leaves_old_or_new_configuration(
    servers: tuple, image: Path, where: str, byte: int
) -> None:
    """A power cut inside the commit of Finish (arm_power_cut at its first
    or a middle flash operation, torn at byte 1, or after its last one
    landed whole but before the image heard back: the image's flash model
    cuts, the image exits with its power-cut code): the flash file then
    holds the old configuration or the new one, never a torn one
    (flash_store), and after reboot() the device bootstraps again (old) or
    registers at once (new)."""
    emu, bs, rs = servers
    # A dry run finds the flash operations of the commit ("ops A..B", counted from the boot).
    dry = emu.device("qemu-dry", bs.uri, firmware=image, timing=TIMING)
    dry.wait_for("registered", timeout=30)
    first, end = (int(v) for v in details(dry, "flash_commit")[0].split()[1].split(".."))
    assert end > first
    cut = {"first": first, "middle": first + (end - first) // 2, "last": end - 1}[where]

    dev = emu.device("qemu-cut", bs.uri, firmware=image, timing=TIMING, reboot_after_power_cut=-1, start=False)
    dev.arm_power_cut(cut, byte=byte)
    dev.start()
    wait_until(lambda: dev.power_cuts == 1 and not dev.powered, 30, "the power cut")
    evs = dev.timeline()
    assert kinds(dev, "flash_power_cut")
    assert details(dev, "qemu_exit")[0].startswith("exit 3")
    finish_rx = _index(evs, "rx", detail="POST /bs")
    assert not [e for e in evs[finish_rx:] if e.kind == "tx"], "no answer to Finish left before the cut"

    records = dev.flash_store()["records"]
    payloads = [r for r in records if r["kind"] == "payload" and r["committed"] and r["crc_ok"]]
    live = [r for r in payloads if r["live"]]
    assert len(live) == 1
    factory_seq = min(r["seq"] for r in payloads)
    kept_old = live[0]["seq"] == factory_seq
    kept = "old" if kept_old else "new"
    print(f"cut at op {cut} ({where} of {first}..{end}): the flash holds the {kept} configuration")

    dev.reboot()
    dev.wait_for("registered", timeout=60)
    evs = dev.timeline()
    after = evs[_index(evs, "reboot"):]
    assert [e.detail for e in after if e.kind == "boot"][0].startswith("boot 2,")
    first_state = [e.detail for e in after if e.kind == "state"][0]
    assert first_state == ("bootstrapping" if kept_old else "registering")
    assert dev.torn_configs == 0
    assert not kinds(dev, "boot_failed")
    assert emu.summary()["power_cuts"] == 1


def test_eight_qemu_devices_at_once(servers: tuple, image: Path) -> None:
    """Eight QEMU devices (Emulator.fleet(firmware=...)) boot side by side,
    each from its own address, and all register."""
    emu, bs, rs = servers
    t0 = time.monotonic()
    fleet = emu.fleet(8, bs.uri, prefix="qemu-", firmware=image, timing=TIMING)
    fleet.wait_for("registered", exit="finish", timeout=90)
    print(f"8 QEMU devices: all registered after {time.monotonic() - t0:.3f} s")
    assert all(f"qemu-{i}" in rs.registrations() for i in range(8))
    assert len({d.address for d in fleet}) == 8
    assert len({d.pid for d in fleet}) == 8
    summary = emu.summary()
    assert summary["states"] == {"registered": 8} and summary["exits"]["finish"] == 8


def test_run_firmware_devices_2(image: Path, package_env: dict[str, str], tmp_path: Path) -> None:
    """`run --firmware IMAGE --devices 2`: two QEMU devices through the same
    campaign and summary as native ones, NoSec (implied by --firmware)."""
    out = tmp_path / "summary.json"
    cmd = [sys.executable, "-m", "lwm2m_hil", "run", "--firmware", str(image), "--devices", "2",
           "--ack-timeout", "1", "--timeout", "60", "--json", str(out)]
    proc = subprocess.run(cmd, env=package_env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads(out.read_text())
    assert summary["devices"] == 2 and summary["registered"] == 2 and summary["failed"] == 0
    assert summary["exits"]["finish"] == 2
    assert summary["security"] == "nosec"
    assert summary["firmware"] == str(image)
    assert summary["radio"]["sent"] == 2 * 12 and summary["radio"]["dropped"] == 0
    assert "firmware" in proc.stdout and "nosec" in proc.stdout
    # DTLS is not in the image: asking for it is an error, not a silent NoSec.
    bad = subprocess.run([*cmd[:-2], "--security", "psk"], env=package_env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "NoSec only" in bad.stderr


def test_hil_qemu_run_relays_the_image_to_loopback(servers: tuple, image: Path, tmp_path: Path) -> None:
    """hil-qemu-run, the standalone host (no radio, no Python), boots the
    image and relays its UDP until it registers."""
    tool = _find_tool()
    if tool is None or not tool.exists():
        _missing("hil-qemu-run (build emulator/qemu, or set HIL_QEMU_RUN)")
    _, bs, rs = servers
    cmd = [str(tool), "--image", str(image), "--dir", str(tmp_path), "--timeout", "60", "--until-state",
           "registered", "--", "ep=qemu-tool", f"bs={bs.uri}", "ack_timeout_ms=300"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    assert "EV " in proc.stdout and "state registered" in proc.stdout
    assert "qemu-tool" in rs.registrations()


# --- images that print nothing the host understands (state from the wire) -----


@pytest.fixture(scope="module")
def foreign_image(image: Path) -> Path:
    """Our client built as a third-party image would be (firmware-images/
    CMakeLists.txt): Zephyr-like log lines, arguments built in (a server at
    192.0.2.2:5683), no flash file."""
    path = image.parent / "mps2-an385-foreign.elf"
    if not path.exists():
        _missing(f"foreign firmware image {path} (run scripts/firmware)")
    return path


def test_state_from_the_wire_alone_follows_bootstrap_and_registration(
    servers: tuple, image: Path
) -> None:
    """state_source="wire" ignores the image's state lines: state and exit
    come from its CoAP (Request Bootstrap, the 2.04 to Finish, Register,
    2.01), and agree with what the image printed."""
    emu, bs, rs = servers
    dev = emu.device("wire-1", bs.uri, firmware=image, timing=TIMING, state_source="wire")
    dev.wait_for("registered", exit="finish", timeout=30)
    timeline = dev.timeline()
    wire = details(dev, "wire")
    assert wire[:2] == ["state bootstrapping: Request Bootstrap sent", "exit finish: Finish answered 2.04"]
    assert "state registered: Register answered 2.01" in wire
    # The image said the same on its UART: its lines are still on the timeline.
    assert "finish" in [e.detail for e in timeline if e.kind == "bootstrap_exit"]
    assert dev.exit_counts() == {"finish": 1}
    assert dev.bootstrap_duration() > 0


def test_both_sources_agree_on_a_legacy_idle_timeout_exit(image: Path) -> None:
    """A device that does not ask for Finish meets a server that sends none:
    the image says idle_timeout, and so does the wire (a Register with no
    Finish answered since Request Bootstrap); the default state_source
    ("both") checks one against the other."""
    with Emulator() as emu:
        rs = emu.registration_server(timing=TIMING)
        bs = emu.bootstrap_server(bootstrap_config(rs.uri), timing=TIMING, profile="cr")
        dev = emu.device("legacy-1", bs.uri, firmware=image, timing=TIMING, request_finish=False,
                         idle_timeout=0.5)
        dev.wait_for("registered", exit="idle_timeout", timeout=30)
        wire = details(dev, "wire")
        assert "exit idle_timeout: Register sent with no Finish answered since Request Bootstrap" in wire
        assert dev.source_disagreements == 0
        assert dev.exit_counts() == {"idle_timeout": 1}


def test_foreign_image_without_append_runs_on_the_wire(servers: tuple, foreign_image: Path) -> None:
    """An image that prints nothing the host understands, configured at
    build time (firmware_args=None: no -append), its server address built in
    and mapped to the emulator's (server_map): the host learns its state and
    exit from the wire, waits work, and its flash is not the host's to read."""
    emu, bs, rs = servers
    dev = emu.device("foreign-1", bs.uri, firmware=foreign_image, firmware_args=None,
                     server_map={"192.0.2.2:5683": bs.uri})
    dev.wait_for("registered", exit="finish", timeout=60)
    timeline = dev.timeline()
    start = next(e.detail for e in timeline if e.kind == "qemu_start")
    assert "-append" not in start
    # Nothing on its UART parsed as an event of ours: all of it is "uart" text...
    uart = details(dev, "uart")
    assert any("<inf> lwm2m: state bootstrapping" in line for line in uart)
    # ...so the states and the exit on its timeline are the wire's.
    assert len(kinds(dev, "bootstrap_exit")) == 1
    assert details(dev, "state")[-1] == "registered"
    assert any("192.0.2.2:5683 (mapped to 127.0.0.1:" in d for d in details(dev, "flow"))
    assert bs.outcomes()["foreign-1"] == "SUCCESS"
    assert "foreign-1" in rs.registrations()
    assert dev.source_disagreements == 0
    for call in (dev.flash_image, dev.flash_store, lambda: dev.arm_power_cut(0)):
        with pytest.raises(lwm2m_hil.NotSupportedOnImage, match="no flash file"):
            call()


def test_without_append_the_options_it_would_carry_are_refused(servers: tuple, foreign_image: Path) -> None:
    emu, bs, _ = servers
    with pytest.raises(ValueError, match="firmware_args=None starts the image without -append, so timing"):
        emu.device("foreign-2", bs.uri, firmware=foreign_image, firmware_args=None, timing=TIMING)
    with pytest.raises(ValueError, match="state_source: 'serial' is none of"):
        emu.device("foreign-3", bs.uri, firmware=foreign_image, state_source="serial")
    with pytest.raises(ValueError, match="server_map key: 'server:5683' is not an IPv4 address"):
        emu.device("foreign-4", bs.uri, firmware=foreign_image, server_map={"server:5683": bs.uri})


def test_qemu_options_are_checked_and_written_as_for_a_native_device(servers: tuple, image: Path) -> None:
    """A QEMU device's client options make the same DeviceSpec as a native
    device's: a bad value is refused with the same message before QEMU
    starts, and a good one reaches the image as the word the image parses
    (one table, lwm2m/client/boot_words.h)."""
    emu, bs, _ = servers
    for bad, message in (({"retry_jitter": 2.0}, "retry_jitter: must be 0..1"),
                         ({"profile": "1.0", "request_finish": False}, "request_finish=False: only profile 'cr'")):
        with pytest.raises(ValueError, match=message):
            emu.device("native-bad", bs.uri, **bad)
        with pytest.raises(ValueError, match=message):
            emu.device("qemu-bad", bs.uri, firmware=image, **bad)
    dev = emu.device("words-1", bs.uri, firmware=image, timing=TIMING, finish_timeout=12.345, retry_factor=1.25,
                     hold_off=0, start=False)
    dev.start()
    dev.wait_for("registered", timeout=60)
    start = next(e.detail for e in dev.timeline() if e.kind == "qemu_start")
    for word in ("ep=words-1", f"bs={bs.uri}", "finish_timeout_ms=12345", "retry_factor=1.25",
                 f"ack_timeout_ms={int(TIMING.ack_timeout * 1000)}", "profile=cr"):
        assert word in start.split(), word


def test_hil_qemu_run_until_a_state_seen_on_the_wire(servers: tuple, image: Path, tmp_path: Path) -> None:
    """hil-qemu-run --state-from wire stops at the state the image's CoAP
    shows, whatever its UART says."""
    tool = _find_tool()
    if tool is None or not tool.exists():
        _missing("hil-qemu-run (build emulator/qemu, or set HIL_QEMU_RUN)")
    _, bs, rs = servers
    cmd = [str(tool), "--image", str(image), "--dir", str(tmp_path), "--timeout", "60", "--until-state",
           "registered", "--state-from", "wire", "--", "ep=qemu-wire", f"bs={bs.uri}",
           "ack_timeout_ms=300"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    assert "wire state registered: Register answered 2.01" in proc.stdout
    assert "until_state registered reached" in proc.stdout
