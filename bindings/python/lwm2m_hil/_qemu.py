"""Devices that run a firmware image under QEMU (emulator/qemu/qemu_device.h).

``Emulator.device(..., firmware=IMAGE)`` and ``Emulator.fleet(...,
firmware=IMAGE)`` make them; they are :class:`Device` objects like any other,
on the same radio and with their flash decoded by the same code. What a
firmware image cannot do raises :class:`NotSupportedOnQemu`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence, cast

from . import _core
from ._device import Device
from ._host import DeviceHost
from ._options import STATE_SOURCES, DeviceOptions, check_device_uri, native_spec


class NotSupportedOnQemu(_core.NotSupportedError):
    """The operation (or option) exists for native devices but not for a
    device running a firmware image under QEMU; the message says why."""


class NotSupportedOnImage(NotSupportedOnQemu):
    """The operation needs something this image was not given or does not
    offer (an image started without ``-append`` has no flash file the host
    knows of); the message says what."""


_UNSUPPORTED_OPTIONS = {
    "psk": "the firmware image speaks NoSec only (coap://); DTLS in firmware is not built "
    "(firmware-images/README.md, 'DTLS in firmware')",
    "x509": "the firmware image speaks NoSec only (coap://); DTLS in firmware is not built "
    "(firmware-images/README.md, 'DTLS in firmware')",
    "bootstrap_linger": "the image keeps its bootstrap session for MAX_TRANSMIT_SPAN, as set by its timing",
    "flash_program_latency": "the image's flash takes the time semihosting takes",
    "flash_erase_latency": "the image's flash takes the time semihosting takes",
    "objects": "the image compiles in the DDF files of emulator/lwm2m/objects/ and reads none at run time",
}
# Options for the host's side of a QEMU device; every other option is the
# client's and reaches the image as -append words.
_HOST_OPTIONS = ("firmware", "firmware_args", "qemu", "machine", "work_dir", "start", "flash",
                 "reboot_after_power_cut", "record_messages", "state_source", "server_map")


def _unsupported(what: str, why: str) -> NotSupportedOnQemu:
    return NotSupportedOnQemu(f"{what} is not supported on a QEMU device (a firmware image under QEMU): {why}")


def _extra_args(extra: Mapping[str, object] | Sequence[str] | str) -> list[str]:
    """``firmware_args`` as key=value words, after the client's own."""
    if isinstance(extra, Mapping):
        return [f"{k}={v}" for k, v in extra.items()]
    if isinstance(extra, str):
        return extra.split()
    return [str(a) for a in extra]


def _no_append(options: dict[str, Any]) -> None:
    """firmware_args=None: the image is configured at build time and is
    passed no -append, so the client's options cannot reach it and are
    refused."""
    told = sorted(k for k, v in options.items() if k not in _HOST_OPTIONS and v is not None)
    if told:
        raise ValueError(
            f"firmware_args=None starts the image without -append, so {', '.join(told)} cannot reach it; "
            "build them into the image or drop firmware_args=None"
        )


def _check_server_uri(value: object) -> None:
    if not value:
        return
    check_device_uri("server_uri", value)
    if not str(value).startswith("coap://"):
        raise _unsupported("a coaps:// server_uri", _UNSUPPORTED_OPTIONS["psk"])
    if "://localhost" in str(value):
        raise ValueError(f"server_uri: {value!r}: a firmware image has no DNS; use 127.0.0.1")


def _image(firmware: str | os.PathLike[str]) -> Path:
    image = Path(os.fspath(firmware))
    if not image.is_file():
        raise ValueError(
            f"firmware: {image} is not a file (scripts/firmware builds build/firmware/mps2-an385-lwm2m.elf)"
        )
    return image


def _check_qemu(qemu: str) -> None:
    if shutil.which(qemu) is None:
        raise ValueError(f"qemu: {qemu} not found (apt-get install --no-install-recommends qemu-system-arm)")


def _work_base(emu: DeviceHost[Device], names: list[str]) -> str:
    """A directory under the emulator's QEMU root where none of ``names``
    exists yet (one device directory each; the same name twice gets a new base)."""
    root = Path(emu._qemu_root())
    base, n = root, 1
    while any((base / name).exists() for name in names):
        n += 1
        base = root / str(n)
    for name in names:
        (base / name).mkdir(parents=True)
    return str(base)


def qemu_spec(
    emu: DeviceHost[Device], bootstrap_uri: str, endpoint: str, names: list[str], options: dict[str, Any]
) -> _core.QemuSpec:
    """A QemuSpec from Emulator.device/fleet options. The client's options
    make the same DeviceSpec as a native device's, checked by the same C++,
    and become the image's -append words there."""
    check_device_uri("bootstrap_uri", bootstrap_uri)
    if not bootstrap_uri.startswith("coap://"):
        raise _unsupported("a coaps:// bootstrap_uri", _UNSUPPORTED_OPTIONS["psk"])
    if "://localhost" in bootstrap_uri:
        raise ValueError(f"bootstrap_uri: {bootstrap_uri!r}: a firmware image has no DNS; use 127.0.0.1")
    for key, why in _UNSUPPORTED_OPTIONS.items():
        if options.get(key) is not None:
            raise _unsupported(f"the option {key!r}", why)
        options.pop(key, None)
    _check_server_uri(options.get("server_uri"))
    spec = _core.QemuSpec()
    image = _image(options.pop("firmware"))
    spec.image = str(image.resolve())
    for key in ("qemu", "machine"):
        if options.get(key) is not None:
            setattr(spec, key, str(options[key]))
        options.pop(key, None)
    _check_qemu(spec.qemu)
    work_dir = options.pop("work_dir", None)
    spec.work_dir = str(Path(work_dir).resolve()) if work_dir is not None else _work_base(emu, names)
    state_source = options.pop("state_source", "both")
    if state_source not in STATE_SOURCES:
        raise ValueError(f"state_source: {state_source!r} is none of {', '.join(map(repr, STATE_SOURCES))}")
    spec.state_source = state_source
    server_map = options.pop("server_map", None) or {}
    if not isinstance(server_map, Mapping):
        raise TypeError("server_map: expected a dict {'a.b.c.d:port' (as the image has it): 'coap://127.0.0.1:port'}")
    spec.server_map = {str(k): str(v) for k, v in server_map.items()}
    options.pop("start", None)
    if "firmware_args" in options and options["firmware_args"] is None:
        _no_append(options)
        spec.append = False
    spec.args = _extra_args(options.pop("firmware_args", None) or ())
    if options.get("flash_image"):
        options["flash_image"] = str(Path(os.fspath(options["flash_image"])).resolve())
    spec.client = native_spec(bootstrap_uri, cast(DeviceOptions, options))
    spec.client.endpoint = endpoint
    spec.validate()
    return spec


class QemuDevice(Device):
    """A device running a firmware image under QEMU: state, bootstrap exit,
    timeline (its UART log, stamped with the host's clock, plus the radio's
    and the host's events), link, capture, flash (the image's flash file,
    decoded), reboot and power cut, as for native devices. Operations a
    firmware image has no way to support raise :class:`NotSupportedOnQemu`."""

    @property
    def work_dir(self) -> Path:
        """QEMU's working directory (qemu.log, the flash file)."""
        return Path(self._h.work_dir)

    @property
    def flash_path(self) -> Path | None:
        """The flash file the image writes through semihosting; None without flash."""
        path = self._h.flash_path
        return Path(path) if path else None

    @property
    def pid(self) -> int | None:
        """QEMU's process id while it runs."""
        pid = self._h.pid
        return None if pid < 0 else pid

    def reboot(self) -> None:
        """Kill QEMU (between two flash operations) and start it again on
        the same flash file: a bootstrapped image registers without bootstrap."""
        self._h.reboot()

    def power_cut(self) -> None:
        """Kill QEMU now; it starts again after ``reboot_after_power_cut``."""
        self._h.power_cut()

    def arm_power_cut(self, op: int = 0, byte: int | None = None) -> None:
        """Cut the power at flash operation ``op`` of the image's **next
        boot** (counted from 0 at that boot: start, reboot, or restart after
        a cut), before it or at ``byte`` inside it. The image's own flash
        model tears the write (seeded, as native devices), logs
        ``power_cut`` and exits with code 3; the host then restarts it after
        ``reboot_after_power_cut``. Its ``flash_commit`` events ("ops A..B")
        say which operations a commit takes."""
        if op < 0 or (byte is not None and byte < 0):
            raise ValueError("arm_power_cut: op and byte must be >= 0")
        self._needs_flash("arm_power_cut()")
        self._h.arm_power_cut(op, byte)

    def flash_image(self) -> bytes:
        """The image's flash file as it is now."""
        self._needs_flash("flash_image()")
        return super().flash_image()

    def flash_store(self) -> dict[str, Any]:
        """The image's flash file, decoded as native devices' flash."""
        self._needs_flash("flash_store()")
        return super().flash_store()

    @property
    def source_disagreements(self) -> int:
        """Bootstrap exits on which the image's UART and the wire disagreed
        (``state_source="both"``): 0 for an image that tells the truth."""
        return int(self._h.source_disagreements)

    def _needs_flash(self, what: str) -> None:
        if self.flash_path is None:
            raise NotSupportedOnImage(
                f"{what}: this image has no flash file the host knows of (it was started with flash=None, "
                "or without -append, firmware_args=None, so it keeps its flash to itself)"
            )

    # --- what a firmware image under QEMU does not offer ------------------

    def objects(self, staged: bool = False) -> dict[int, dict[int, dict[int, Any]]]:
        raise _unsupported("objects()", "the object tree lives in the image's RAM; read it "
                           "through the registration server (rs.request(endpoint, 'GET', '/1/0'))")

    def read(self, path: str, staged: bool = False) -> Any:
        raise _unsupported("read()", "the object tree lives in the image's RAM; read it "
                           "through the registration server (rs.request(endpoint, 'GET', path))")

    def deregister(self) -> None:
        raise _unsupported("deregister()", "the host has no command channel into the image")

    def factory_reset(self) -> None:
        raise _unsupported("factory_reset()", "delete the flash file (flash_path) and reboot() instead")

    def arm_random_power_cut(self, within_ops: int, seed: int | None = None) -> None:
        raise _unsupported("arm_random_power_cut()", "choose the operation yourself with "
                           "arm_power_cut(op, byte) from the image's flash_commit events")

    def flip_bit(self, addr: int, bit: int) -> None:
        raise _unsupported("flip_bit()", "the image holds its flash in RAM and reads the file only at boot")

    def flip_random_bits(self, count: int, addr: int = 0, length: int | None = None) -> None:
        raise _unsupported("flip_random_bits()", "the image holds its flash in RAM and reads the file only at boot")

    def wear_out(self, sector: int) -> None:
        raise _unsupported("wear_out()", "the image runs its own flash model; pass flash_endurance instead")

    def flash_counters(self) -> dict[str, Any]:
        raise _unsupported("flash_counters()", "the image's flash model counts inside the image; "
                           "see its flash_commit events on the timeline")

    def __repr__(self) -> str:
        if self._emu._rt is None:
            return "<QemuDevice (emulator closed)>"
        return f"<QemuDevice {self.endpoint} {self.state} exit={self.bootstrap_exit}>"


def warm(
    emu: DeviceHost[Device], firmware: str | os.PathLike[str], count: int, *, qemu: str, machine: str, timeout: float
) -> int:
    """Emulator.warm_qemu(): ``count`` paused QEMUs in the emulator's QEMU
    root (the devices' directories are on the same filesystem: their logs
    move there when they resume). Returns how many loaded the image."""
    if emu.clock == "virtual":
        raise NotSupportedOnQemu("warm_qemu: QEMU runs in real time; create the Emulator with clock='real'")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count: {count!r}: the number of QEMU processes to pre-start, >= 1")
    image = _image(firmware)
    _check_qemu(qemu)
    if timeout < 0:
        raise ValueError("timeout: must be >= 0 (seconds)")
    # Beside the devices' directories (a name no endpoint takes by chance).
    pool_dir = tempfile.mkdtemp(prefix=".pool-", dir=emu._qemu_root())
    return int(emu._runtime.warm_qemu(str(image.resolve()), qemu, str(machine), pool_dir, count, timeout))


def add(
    emu: DeviceHost[Device], count: int, bootstrap_uri: str, prefix: str, endpoint: str, device_options: DeviceOptions
) -> list[QemuDevice]:
    if emu.clock == "virtual":
        raise NotSupportedOnQemu(
            "firmware: QEMU runs in real time, so a firmware image cannot join a virtual-clock emulator; "
            "create the Emulator with clock='real'"
        )
    options: dict[str, Any] = dict(device_options)  # consumed key by key below
    start = bool(options.get("start", True))
    names = [f"{prefix}{i}" for i in range(count)] if count > 1 or prefix else [endpoint]
    if not all(names) or any("/" in n or " " in n for n in names):
        raise ValueError(f"endpoint: {names[0]!r}: a QEMU device needs a name without spaces or '/'")
    spec = qemu_spec(emu, bootstrap_uri, endpoint, names, options)
    handles = emu._runtime.add_devices(spec, count, prefix, start)
    return [QemuDevice(emu, h) for h in handles]
