"""Objects of a user's own from DDF XML files (``objects=[...]``): the device
takes bootstrap writes to them, typed by the file, registers them and reads
them back; a file that is not a DDF file is refused naming file and line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from coap_peer import TEXT, ScriptedBootstrapServer, tlv_resources
from helpers import FAST, PATIENT
from lwm2m_hil import Emulator, NotSupportedOnQemu

METER_DDF = """<?xml version="1.0" encoding="utf-8"?>
<LWM2M>
  <Object ObjectType="MODefinition">
    <Name>Water Meter</Name>
    <ObjectID>33000</ObjectID>
    <MultipleInstances>Multiple</MultipleInstances>
    <Mandatory>Optional</Mandatory>
    <Resources>
      <Item ID="0"><Name>Location</Name><Operations>RW</Operations>
        <MultipleInstances>Single</MultipleInstances><Mandatory>Mandatory</Mandatory>
        <Type>String</Type></Item>
      <Item ID="1"><Name>Litres</Name><Operations>RW</Operations>
        <MultipleInstances>Single</MultipleInstances><Mandatory>Mandatory</Mandatory>
        <Type>Integer</Type></Item>
    </Resources>
  </Object>
</LWM2M>
"""


@pytest.fixture
def meter_ddf(tmp_path: Path) -> Path:
    path = tmp_path / "33000.xml"
    path.write_text(METER_DDF)
    return path


def test_bootstrap_writes_user_object_typed_and_registers_it(
    scripted_bs: ScriptedBootstrapServer, meter_ddf: Path
) -> None:
    with Emulator() as emu:
        rs = emu.registration_server(timing=FAST)
        dev = emu.device("meter-1", scripted_bs.uri, timing=PATIENT, objects=[meter_ddf], bootstrap_linger=30)
        _, addr, _ = scripted_bs.accept()

        written = scripted_bs.write(addr, "/33000/0", tlv_resources({0: "kitchen", 1: 42}))
        assert written.code_text == "2.04"
        # Text for an Integer resource that is not a number: refused by the definition.
        mistyped = scripted_bs.write(addr, "/33000/0/1", b"many", content_format=TEXT)
        assert mistyped.code_text == "4.00"
        assert b"integer" in mistyped.payload.lower()
        scripted_bs.write_account(addr, rs.uri)
        assert scripted_bs.finish(addr).code_text == "2.04"

        dev.wait_for("registered", exit="finish")
        assert dev.read("/33000/0/1") == 42  # the refused write left the value as it was
        assert dev.read("/33000/0/0") == "kitchen"
        assert "</33000/0>" in rs.registrations()["meter-1"]["object_links"]
        code, body = rs.request("meter-1", "GET", "/33000/0/0")
        assert (code, body) == ("2.05", b"\xc7\x00kitchen")


def test_without_the_ddf_file_the_object_is_unknown(scripted_bs: ScriptedBootstrapServer) -> None:
    with Emulator() as emu:
        emu.device("meter-2", scripted_bs.uri, timing=PATIENT)
        _, addr, _ = scripted_bs.accept()
        assert scripted_bs.write(addr, "/33000/0", tlv_resources({1: 42})).code_text == "4.04"


def test_bad_ddf_file_refused_naming_option_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text(METER_DDF.replace("<Type>Integer</Type>", "<Type>Decimal</Type>"))
    with Emulator() as emu:
        with pytest.raises(ValueError, match=re.escape(f"objects: {bad}:14: <Type> 'Decimal' is not String")):
            emu.device("meter-3", "coap://127.0.0.1:9", objects=[bad])
        device_ddf = tmp_path / "3.xml"
        device_ddf.write_text(METER_DDF.replace("33000", "3"))
        with pytest.raises(ValueError, match="object 3 is builtin; give your object another id"):
            emu.device("meter-4", "coap://127.0.0.1:9", objects=[device_ddf])
        with pytest.raises(TypeError, match="objects: expected a list of DDF file paths"):
            emu.device("meter-5", "coap://127.0.0.1:9", objects=device_ddf)


def test_firmware_device_refuses_user_objects(meter_ddf: Path, tmp_path: Path) -> None:
    """A firmware image has its objects compiled in: ``objects`` says so."""
    with Emulator() as emu:
        with pytest.raises(NotSupportedOnQemu, match="compiles in the DDF files"):
            emu.device("fw-1", "coap://127.0.0.1:9", firmware=tmp_path / "any.elf", objects=[meter_ddf])
