"""Errors of the emulator core reach Python as subclasses of
``lwm2m_hil.Error`` chosen by their code (bindings/errors.cc), each also a
subclass of the builtin exception a caller would expect, and each carrying
the code as ``code``."""

from __future__ import annotations

import builtins
from pathlib import Path

import pytest

import lwm2m_hil
from helpers import FAST
from lwm2m_hil import Emulator, bootstrap_config


def test_a_request_to_an_unknown_endpoint_is_a_config_error_and_a_value_error() -> None:
    with Emulator() as emu:
        rs = emu.registration_server(timing=FAST)
        with pytest.raises(lwm2m_hil.ConfigError, match="dev-9 is not registered here") as info:
            rs.request("dev-9", "GET", "/3/0/0")
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, lwm2m_hil.Error)
    assert info.value.code == "invalid_argument"


def test_a_device_that_does_not_answer_is_a_timeout_error() -> None:
    with Emulator(seed=3) as emu:
        rs = emu.registration_server(timing=FAST)
        bs = emu.bootstrap_server(bootstrap_config(rs.uri), timing=FAST)
        dev = emu.device("dev-1", bs.uri, timing=FAST, reboot_after_power_cut=-1)
        dev.wait_for("registered", timeout=20)
        dev.power_cut()
        with pytest.raises(lwm2m_hil.TimeoutError) as info:
            rs.request("dev-1", "GET", "/3/0/0", timeout=0.5)
    assert isinstance(info.value, builtins.TimeoutError)
    assert info.value.code == "timeout"


def test_a_capture_file_that_cannot_be_opened_is_an_os_error(tmp_path: Path) -> None:
    with Emulator() as emu:
        with pytest.raises(lwm2m_hil.OSError, match="cannot open") as info:
            emu.capture(tmp_path / "no-such-dir" / "run.pcapng")
    assert isinstance(info.value, builtins.OSError)
    assert info.value.code == "io"


def test_the_flash_of_a_device_without_one_is_not_supported() -> None:
    with Emulator() as emu:
        dev = emu.device("ram", "coap://127.0.0.1:9", flash=None, start=False)
        with pytest.raises(lwm2m_hil.NotSupportedError, match="no flash") as info:
            dev.flash_image()
    assert isinstance(info.value, NotImplementedError)
    assert info.value.code == "unsupported"


def test_python_side_errors_share_the_base() -> None:
    """The package's own exceptions fit under the same base."""
    assert issubclass(lwm2m_hil.DeviceTimeout, lwm2m_hil.TimeoutError)
    assert issubclass(lwm2m_hil.ClockError, lwm2m_hil.StateError)
    assert issubclass(lwm2m_hil.StateError, RuntimeError)
    assert issubclass(lwm2m_hil.NotSupportedOnImage, lwm2m_hil.NotSupportedError)
    with Emulator(clock="virtual") as emu:
        with pytest.raises(lwm2m_hil.Error, match="run_until"):
            emu.device("dev-1", "coap://127.0.0.1:9").wait_for("registered")
