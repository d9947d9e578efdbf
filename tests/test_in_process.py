"""The radio hands datagrams to the embedded servers of its own loop thread
in memory, and they answer the same way (Emulator(in_process=True), the
default): tshark capturing on ``lo`` sees nothing of a fleet's bootstrap and
registration, while a peer outside the emulator, a raw socket, is still
served by the same servers through their sockets, and the radio's own
capture still shows every datagram. in_process=False puts the fleet back on
the wire."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from coap_peer import GET, CoapPeer, request
from helpers import FAST, read_pcapng, wait_until
from lwm2m_hil import Emulator, bootstrap_config

pytestmark = [
    pytest.mark.skipif(shutil.which("dumpcap") is None or shutil.which("tshark") is None,
                       reason="tshark (dumpcap) is not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="capturing on lo takes root"),
]

DEVICES = 12


class LoCapture:
    """A pcapng file dumpcap writes from lo, and the port of the probe that
    proved it was capturing."""

    def __init__(self, pcap: Path, probe_port: int) -> None:
        self.pcap = pcap
        self.probe_port = probe_port

    def udp_ports(self, keep_probe: bool = False) -> list[tuple[int, int]]:
        """(source port, destination port) of each UDP packet tshark reads,
        without the probes unless asked."""
        if not self.pcap.exists():
            return []
        out = subprocess.run(["tshark", "-r", str(self.pcap), "-Y", "udp", "-T", "fields", "-e", "udp.srcport",
                              "-e", "udp.dstport"], capture_output=True, text=True).stdout  # dumpcap may be mid-write
        ports = [(int(a), int(b)) for a, b in (line.split("\t") for line in out.splitlines() if line)]
        return ports if keep_probe else [p for p in ports if self.probe_port not in p]


@contextmanager
def capture_on_lo(ports: list[int], pcap: Path) -> Iterator[LoCapture]:
    """dumpcap on lo for UDP to or from `ports`, from when a probe datagram
    to a port of its own shows in the file (dumpcap says it is capturing a
    little before it is) until the block ends; stopped by its PID, also on
    failure."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        capture = LoCapture(pcap, probe.getsockname()[1])
        udp = " or ".join(f"udp port {p}" for p in [*ports, capture.probe_port])
        proc = subprocess.Popen(["dumpcap", "-i", "lo", "-f", udp, "-w", str(pcap)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            def probe_seen() -> bool:
                probe.sendto(b"probe", ("127.0.0.1", capture.probe_port))
                return any(capture.probe_port in p for p in capture.udp_ports(keep_probe=True))
            wait_until(probe_seen, timeout=30, what="dumpcap capturing on lo")
            yield capture
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def port_of(uri: str) -> int:
    return int(uri.rsplit(":", 1)[1])


@pytest.mark.parametrize("clock", ["virtual", "real"])
@pytest.mark.parametrize("in_process", [True, False])
def test_fleet_traffic_leaves_the_wire_in_process_while_outside_peers_are_served(
        clock: str, in_process: bool, tmp_path: Path) -> None:
    """On the real clock with two loop threads the bootstrap server works on
    the first and the registration server on the last, and devices on both:
    half the fleet's datagrams cross between loops, in memory too."""
    radio_pcap = tmp_path / "radio.pcapng"
    with Emulator(seed=5, clock=clock, threads=2, in_process=in_process) as emu:  # type: ignore[arg-type]
        rs = emu.registration_server(timing=FAST)
        bs = emu.bootstrap_server(bootstrap_config(rs.uri), timing=FAST)
        emu.capture(str(radio_pcap))
        servers = [port_of(rs.uri), port_of(bs.uri)]
        with capture_on_lo(servers, tmp_path / "lo.pcapng") as lo, CoapPeer() as outsider:
            fleet = emu.fleet(DEVICES, bs.uri, timing=FAST)
            if clock == "virtual":
                fleet.run_until("registered", timeout=60)
            else:
                fleet.wait_for("registered", timeout=60)
            outsider.send(request(GET, "/rd", mid=outsider.new_mid(), token=b"\x01"), ("127.0.0.1", servers[0]))
            if clock == "virtual":  # its loop reads the socket only while it runs
                emu.run_for(1.0)
            answer, _ = outsider.receive(timeout=10)
            assert answer.code_text.startswith("4."), answer
            mine = outsider.address[1]
            wait_until(lambda: any(mine in p for p in lo.udp_ports()), what="the outsider's exchange on lo")
        on_wire = lo.udp_ports()
    outsiders = [p for p in on_wire if mine in p]
    fleet_on_wire = [p for p in on_wire if mine not in p]
    assert len(outsiders) == 2, on_wire  # its request and the answer, through the server's socket
    # Request Bootstrap, Writes, Finish, Register: at least 4 exchanges per device.
    radio_saw = read_pcapng(radio_pcap)
    assert len(radio_saw) >= 8 * DEVICES
    if in_process:
        assert fleet_on_wire == []
    else:
        assert len(fleet_on_wire) == len(radio_saw)


def test_in_process_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="in_process: must be True or False"):
        Emulator(in_process="no")  # type: ignore[arg-type]
