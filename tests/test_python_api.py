"""The Python face as a user's code meets it: typed options that mypy checks,
waits that work on either clock, and close() that stops the runtime whatever
still refers to it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from lwm2m_hil import CoapTiming, Emulator, bootstrap_config

PACKAGE = Path(__file__).resolve().parent.parent / "bindings" / "python"
PYPROJECT = PACKAGE.parent.parent / "pyproject.toml"


def test_registration_server_request_runs_the_virtual_clock() -> None:
    """On the virtual clock nothing moves while a caller blocks, so a
    request must run the clock until the answer arrives (it used to wait in
    real time and always fail): a Read of /3/0/0 answers 2.05 with the
    manufacturer."""
    with Emulator(seed=3, clock="virtual") as emu:
        rs = emu.registration_server()
        bs = emu.bootstrap_server(bootstrap_config(rs.uri))
        emu.device("dev-1", bs.uri).run_until("registered", timeout=60)
        assert rs.request("dev-1", "GET", "/3/0/0") == ("2.05", b"\xc8\x00\x09lwm2m-hil")


def test_request_times_out_on_the_virtual_clock_in_virtual_seconds() -> None:
    """A device that never answers: the request gives up after its timeout
    in virtual seconds (TimeoutError), and the clock stands exactly there."""
    with Emulator(seed=3, clock="virtual") as emu:
        rs = emu.registration_server()
        bs = emu.bootstrap_server(bootstrap_config(rs.uri))
        dev = emu.device("dev-1", bs.uri)
        dev.run_until("registered", timeout=60)
        dev.link(partitions=[(0, 1000)])
        start = emu.now()
        with pytest.raises(TimeoutError, match="no answer from dev-1 to GET /3/0/0 within 5 s"):
            rs.request("dev-1", "GET", "/3/0/0", timeout=5)
        assert emu.now() == pytest.approx(start + 5, abs=0.002)


def test_wait_outcome_runs_the_virtual_clock() -> None:
    """BootstrapServer.wait_outcome on the virtual clock runs it until the
    session has an outcome (it used to wait in real time while nothing moved)."""
    with Emulator(seed=5, clock="virtual") as emu:
        rs = emu.registration_server()
        bs = emu.bootstrap_server(bootstrap_config(rs.uri))
        emu.device("dev-1", bs.uri)
        assert bs.wait_outcome("dev-1", timeout=60)["outcome"] == "SUCCESS"


def test_close_stops_the_runtime_while_something_still_refers_to_it() -> None:
    """close() frees every socket now, even while another reference to the
    runtime lives on (here one kept on purpose): the server's port is free
    again, and the device no longer answers from its address."""
    emu = Emulator(seed=1)
    rs = emu.registration_server(timing=CoapTiming(ack_timeout=0.05))
    port = int(rs.uri.rsplit(":", 1)[1])
    kept = emu._rt  # a frame, a cache or a thread holding the runtime
    emu.close()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", port))  # EADDRINUSE if the server still listened
    with pytest.raises(RuntimeError, match="this Emulator is closed"):
        emu.device("dev-1", rs.uri)
    del kept


def test_fleet_refuses_an_empty_prefix() -> None:
    with Emulator() as emu:
        with pytest.raises(ValueError, match="prefix: must not be empty"):
            emu.fleet(3, "coap://127.0.0.1:5683", prefix="", start=False)


MISTAKES = '''
from lwm2m_hil import Emulator

with Emulator(clock="virtual") as emu:
    dev = emu.device("dev-1", "coap://127.0.0.1:5683", profil="cr")
    emu.fleet(10, "coap://127.0.0.1:5683", finish_timeout="247")
    dev.run_until("registred")
    Emulator(clock="virtul")
'''


def test_mypy_finds_the_mistakes_a_user_makes_with_options(tmp_path: Path) -> None:
    """device() and fleet() take typed keyword arguments, and states and
    clocks are Literal types: mypy (as scripts/lint runs it) flags a
    misspelt option, a wrong type, a misspelt state and a misspelt clock."""
    user = tmp_path / "user_code.py"
    user.write_text(MISTAKES)
    env = dict(os.environ, MYPYPATH=str(PACKAGE))
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(PYPROJECT), "--no-incremental",
         "--cache-dir", str(tmp_path / "cache"), str(user)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    out = proc.stdout
    assert proc.returncode == 1, out
    assert 'Unexpected keyword argument "profil"' in out
    assert 'Argument "finish_timeout" to "fleet" of "Emulator" has incompatible type "str"; expected "float"' in out
    assert 'Argument 1 to "run_until" of "Device" has incompatible type "Literal[\'registred\']"' in out
    assert 'Argument "clock" to "Emulator" has incompatible type "Literal[\'virtul\']"' in out


def test_a_device_that_is_off_reads_as_empty_instead_of_crashing() -> None:
    """objects() and exit_counts() of a device created with start=False (its
    RAM does not exist yet) used to dereference an empty client core: a
    std::bad_alloc or SIGSEGV. Now an off device holds nothing in RAM."""
    with Emulator() as emu:
        fleet = emu.fleet(16, "coap://127.0.0.1:9", start=False)
        for dev in fleet:
            assert dev.objects() == {}
            assert dev.exit_counts() == {}
            assert dev.state == "factory"


def test_device_options_and_the_cpp_device_spec_are_one_schema() -> None:
    """Every option of ``Emulator.device`` sets the C++ DeviceSpec field of
    its name, or the fields it stands for; every DeviceSpec field is set by
    some option. A field added on one side only fails here."""
    from lwm2m_hil import _core
    from lwm2m_hil._options import DeviceOptions

    composite = {
        "psk": {"psk_identity", "psk_key"},
        "x509": {"x509_cert", "x509_key", "x509_server_cert", "x509_ca_cert", "x509_ca_key", "x509_cn",
                 "x509_not_before", "x509_not_after"},
        "timing": {"ack_timeout", "ack_random_factor", "max_retransmit"},
        "flash": {"flash_size", "flash_sector_size", "flash_page_size"},
    }
    host_only = {"start", "firmware", "firmware_args", "qemu", "machine", "work_dir", "state_source", "server_map"}
    positional = {"endpoint", "bootstrap_uri"}
    spec = _core.DeviceSpec()
    fields = {name for name in dir(spec) if not name.startswith("_") and not callable(getattr(spec, name))}
    reached: set[str] = set(positional)
    for option in DeviceOptions.__annotations__:
        if option in host_only:
            continue
        targets = composite.get(option, {option})
        assert targets <= fields, f"option {option!r} sets no DeviceSpec field {sorted(targets - fields)}"
        reached |= targets
    assert fields == reached, f"DeviceSpec fields no option sets: {sorted(fields - reached)}"
