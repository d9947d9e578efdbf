"""File descriptors: a fleet on the radio holds none per device, a fleet that
cannot fit under RLIMIT_NOFILE is refused before it starts, and every
datagram the radio could not send is counted in the summary.

Each limit is set in a child process (``resource.setrlimit``, soft and hard),
so the test process keeps its own."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from helpers import FAST
from lwm2m_hil import Emulator

# Runs in the child, after setrlimit: prints one JSON line.
_FLEET = """
import json, resource, sys
from lwm2m_hil import Emulator, bootstrap_config
from helpers import FAST
soft, hard, count, radio, servers = {soft}, {hard}, {count}, {radio}, {servers}
resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
with Emulator(seed=1, clock="virtual", radio=radio) as emu:
    uri = "coap://127.0.0.1:9"
    if servers:
        rs = emu.registration_server(timing=FAST)
        uri = emu.bootstrap_server(bootstrap_config(rs.uri), timing=FAST).uri
    try:
        fleet = emu.fleet(count, uri, timing=FAST, flash=None)
    except OSError as e:  # lwm2m_hil.OSError: no room for the descriptors
        print(json.dumps({{"refused": str(e)}}))
        sys.exit(0)
    if servers:
        fleet.run_until("registered", timeout=600)
    s = emu.summary()
    print(json.dumps({{"states": s["states"], "send_failed": s["radio"]["send_failed"],
                      "soft": resource.getrlimit(resource.RLIMIT_NOFILE)[0]}}))
"""


def _run_child(soft: int, hard: int, count: int, radio: bool = True, servers: bool = True) -> dict:
    code = textwrap.dedent(
        _FLEET.format(soft=soft, hard=hard, count=count, radio=radio, servers=servers)
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_fleet_larger_than_the_descriptor_limit_registers_on_the_radio() -> None:
    """600 devices in a process that may open 300 files: with a socket per
    session they could not even start; on the radio every one registers and
    no datagram failed to leave."""
    result = _run_child(soft=300, hard=300, count=600)
    assert result["states"] == {"registered": 600}
    assert result["send_failed"] == 0


def test_default_server_contexts_shrink_to_fit_and_a_chosen_number_does_not() -> None:
    """Under a hard limit of 300 descriptors the servers' default contexts
    (128 each on the virtual clock, 5 descriptors apiece) halve until they
    fit, and the servers start; server_contexts=128, asked for, is refused
    with a message that names the limit and the option (it used to crash in
    libcoap)."""
    code = textwrap.dedent("""
        import resource
        from lwm2m_hil import Emulator, bootstrap_config
        resource.setrlimit(resource.RLIMIT_NOFILE, (300, 300))
        with Emulator(clock="virtual") as emu:
            rs = emu.registration_server()
            emu.bootstrap_server(bootstrap_config(rs.uri))
        try:
            with Emulator(clock="virtual", server_contexts=128) as emu:
                emu.registration_server()
        except OSError as e:
            print(e)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert "128 contexts" in out.stdout and "RLIMIT_NOFILE" in out.stdout, out.stdout
    assert "server_contexts" in out.stdout


def test_fleet_that_cannot_fit_is_refused_with_what_to_do() -> None:
    """Without the radio each device needs a socket: 400 of them under a hard
    limit of 256 are refused before any starts, and the message names the
    limit and the way out (fewer devices per process, shards)."""
    result = _run_child(soft=256, hard=256, count=400, radio=False, servers=False)
    message = result["refused"]
    assert "400 devices" in message
    assert "RLIMIT_NOFILE" in message and "at most 256" in message
    assert "fewer devices per process" in message and "shards" in message


def test_soft_limit_is_raised_to_the_hard_limit_when_that_suffices() -> None:
    """The same 400 socket-backed devices with a soft limit of 256 and a hard
    limit of 4096: the soft limit is raised and the fleet is created."""
    result = _run_child(soft=256, hard=4096, count=400, radio=False, servers=False)
    assert "refused" not in result
    assert result["soft"] == 4096
    assert sum(result["states"].values()) == 400


def test_datagram_the_radio_cannot_send_is_counted_in_the_summary() -> None:
    """A device whose bootstrap server is loopback's broadcast address: the
    radio's socket may not send there (EACCES), so each try is counted in
    summary()["radio"]["send_failed"] and shows on the device's timeline."""
    with Emulator(seed=3, clock="virtual") as emu:
        dev = emu.device("dev-0", "coap://127.255.255.255:5683", timing=FAST, flash=None)
        emu.run_until(lambda: False, timeout=5)
        failed = emu.summary()["radio"]["send_failed"]
        assert failed > 0
        radio_events = [e.detail for e in dev.timeline() if e.kind == "radio"]
        assert radio_events.count("up: send failed: Permission denied") == failed
