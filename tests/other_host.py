"""Another host for tests and benchmarks of the egress: a network namespace
reached through a veth pair, with addresses from 10.100-199.x.y (random, so
that tests in parallel do not meet), and the standalone registration and
bootstrap servers running inside it. Needs root (CAP_NET_ADMIN)."""

from __future__ import annotations

import json
import secrets
import select
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from lwm2m_hil import bootstrap_config
from helpers import child_env

LWM2M_HIL = [sys.executable, "-m", "lwm2m_hil"]


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@dataclass
class OtherHost:
    """A network namespace reached through a veth pair: ``host_ip`` is this
    side's address, ``server_ip`` the namespace's."""

    name: str
    host_ip: str
    server_ip: str

    def exec(self, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]


@contextmanager
def other_host(*, linked: bool = True) -> Iterator[OtherHost]:
    """A fresh namespace; with ``linked``, a veth pair to it with a /30 from
    10.100-199.x.y. Unlinked, it has nothing but lo: no route anywhere."""
    token = secrets.token_hex(3)
    a, b, c = 100 + secrets.randbelow(100), secrets.randbelow(256), secrets.randbelow(64) * 4
    host = OtherHost(f"hil-egress-{token}", f"10.{a}.{b}.{c + 1}", f"10.{a}.{b}.{c + 2}")
    outside, inside = f"hegh{token}", f"hegn{token}"
    try:
        ip("netns", "add", host.name)
        ip("-n", host.name, "link", "set", "lo", "up")
        if linked:
            ip("link", "add", outside, "type", "veth", "peer", "name", inside, "netns", host.name)
            ip("addr", "add", f"{host.host_ip}/30", "dev", outside)
            ip("link", "set", outside, "up")
            ip("-n", host.name, "addr", "add", f"{host.server_ip}/30", "dev", inside)
            ip("-n", host.name, "link", "set", inside, "up")
        yield host
    finally:
        # Deleting the namespace destroys the veth end inside, and with it
        # the pair; the explicit delete covers a namespace never made.
        subprocess.run(["ip", "link", "del", outside], capture_output=True)
        subprocess.run(["ip", "netns", "del", host.name], capture_output=True)


def _read_line(proc: subprocess.Popen[str], starts: str, timeout: float = 30.0) -> str:
    """The first line of ``proc``'s stdout that starts with ``starts``."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            if line.startswith(starts):
                return line.strip()
            if not line and proc.poll() is not None:
                break
    raise AssertionError(f"{proc.args}: no line starting {starts!r} (exit {proc.poll()})")


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


@contextmanager
def servers_on(host: OtherHost | None, workdir: Path) -> Iterator[str]:
    """The standalone registration and bootstrap servers inside ``host``'s
    namespace, on its veth address (None: on 127.0.0.1 here); yields the
    bootstrap server's URI."""
    procs: list[subprocess.Popen[str]] = []
    try:

        def serve(*args: str) -> str:
            argv = [*LWM2M_HIL, *args, "--listen", f"{host.server_ip if host else '127.0.0.1'}:0"]
            proc = subprocess.Popen(
                host.exec(*argv) if host else argv,
                env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            )
            procs.append(proc)
            uri = _read_line(proc, "listening on coap://").split()[-1]
            # Drain what it prints (a line per session or registration), so
            # that a large fleet never fills the pipe and blocks the server.
            threading.Thread(target=proc.stdout.read, daemon=True).start()  # type: ignore[union-attr]
            return uri

        rs_uri = serve("registration-server")
        config = workdir / "bootstrap.json"
        config.write_text(json.dumps(bootstrap_config(rs_uri)))
        yield serve("bootstrap-server", "--config", str(config))
    finally:
        for proc in procs:
            stop(proc)
