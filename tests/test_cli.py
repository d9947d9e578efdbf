"""The command line, `python -m lwm2m_hil`, run as a user runs it: a child process."""

from __future__ import annotations

import json
import queue
import re
import shutil
import subprocess
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Callable, Iterator, Sequence

import pytest

from coap_peer import LINK_FORMAT, POST, TLV, CoapPeer, ScriptedClient, SENML_JSON
from helpers import FAST, outcome_of
from lwm2m_hil import Emulator, Psk, bootstrap_config

EXIT_NAMES = {"finish", "idle_timeout", "finish_timeout", "rejected", "none"}
DEMO_KEY = "000102030405060708090a0b0c0d0e0f"  # the key `run` uses without --psk-key


def cli(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lwm2m_hil", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def run_fast(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`run` with loopback timing, so failures show up in seconds."""
    return cli(env, "run", "--ack-timeout", "0.05", "--timeout", "30", *args)


def run_counted(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`run` with the RFC's 2 s ACK timeout, for tests that count datagrams:
    nothing is lost on loopback, and on a loaded machine a 50 ms timeout
    would let retransmissions into the count."""
    return cli(env, "run", "--ack-timeout", "2", "--timeout", "60", *args)


def test_run_50_devices_writes_summary_json(package_env: dict[str, str], tmp_path: Path) -> None:
    """`run --devices 50 --json F` exits 0, prints the summary table, and the
    JSON says 50 devices over DTLS-PSK (the default), 50 Finish exits (every
    other exit 0), 50 registered, 0 failed, bootstrap p50 <= p99, and the
    wall time."""
    out = tmp_path / "summary.json"
    proc = run_counted(package_env, "--devices", "50", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(out.read_text())
    assert summary["devices"] == 50
    assert summary["exits"] == {"finish": 50, "idle_timeout": 0, "finish_timeout": 0, "rejected": 0, "none": 0}
    assert summary["registered"] == 50
    assert summary["failed"] == 0
    assert 0 <= summary["bootstrap_ms"]["p50"] <= summary["bootstrap_ms"]["p99"]
    assert summary["wall_s"] > 0
    assert re.search(r"^registered\s+50$", proc.stdout, re.MULTILINE), proc.stdout
    assert re.search(r"^devices\s+50 \(psk\)$", proc.stdout, re.MULTILINE), proc.stdout
    assert summary["security"] == "psk"
    assert summary["radio"]["sent"] == 50 * 24  # a handshake each way, then the CoAP


def test_run_security_nosec_sends_plain_coap(package_env: dict[str, str], tmp_path: Path) -> None:
    """`run --security nosec`: the same campaign without DTLS, half the datagrams."""
    out = tmp_path / "summary.json"
    proc = run_counted(package_env, "--devices", "20", "--security", "nosec", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(out.read_text())
    assert summary["security"] == "nosec"
    assert summary["registered"] == 20
    assert summary["radio"]["sent"] == 20 * 12


def test_run_on_the_virtual_clock_same_seed_same_summary(package_env: dict[str, str], tmp_path: Path) -> None:
    """`run --clock virtual` with the default CoAP timing and 30 % loss: all
    100 devices register, the summary adds "virtual_s" (the protocol time
    covered, minutes here) beside "wall_s", and a second run with the same
    --seed writes the same summary apart from the wall time."""
    summaries = []
    for run in ("a", "b"):
        out = tmp_path / f"{run}.json"
        proc = cli(package_env, "run", "--clock", "virtual", "--devices", "100", "--loss", "0.3",
                   "--seed", "9", "--timeout", "3600", "--json", str(out))
        assert proc.returncode == 0, proc.stderr
        summaries.append(json.loads(out.read_text()))
    first, second = summaries
    assert first["registered"] == 100 and first["clock"] == "virtual"
    assert first["virtual_s"] > 30 and first["radio"]["dropped"] > 0
    assert first.pop("wall_s") >= 0 and second.pop("wall_s") >= 0
    assert first == second
    assert re.search(r"^protocol time\s+[\d.]+ s on the virtual clock$", proc.stdout, re.MULTILINE), proc.stdout


def test_run_no_finish_devices_leave_by_idle_timer(package_env: dict[str, str], tmp_path: Path) -> None:
    """`run --devices 20 --no-finish`: no device asks for Finish, so every
    one leaves bootstrap by the idle timer (--idle-timeout 0.3) and still
    registers: exits idle_timeout == 20, finish == 0."""
    out = tmp_path / "summary.json"
    proc = run_fast(package_env, "--devices", "20", "--no-finish", "--idle-timeout", "0.3", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(out.read_text())
    assert summary["exits"]["idle_timeout"] == 20
    assert summary["exits"]["finish"] == 0
    assert summary["registered"] == 20


@pytest.mark.parametrize("profile", ["1.0", "1.1"])
def test_run_with_published_profiles(package_env: dict[str, str], tmp_path: Path, profile: str) -> None:
    """`run --profile 1.0|1.1` bootstraps by Finish as well."""
    out = tmp_path / "summary.json"
    proc = run_fast(package_env, "--devices", "10", "--profile", profile, "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["exits"]["finish"] == 10


def test_run_exits_nonzero_when_devices_do_not_register(package_env: dict[str, str], tmp_path: Path) -> None:
    """`run` exits non-zero when not every device registered: here the
    --bootstrap-uri points where nothing listens."""
    from helpers import dead_port

    out = tmp_path / "summary.json"
    proc = cli(
        package_env, "run", "--devices", "3", "--ack-timeout", "0.05", "--timeout", "1",
        "--bootstrap-uri", f"coap://127.0.0.1:{dead_port()}", "--json", str(out),
    )
    assert proc.returncode != 0
    summary = json.loads(out.read_text())
    assert (summary["registered"], summary["failed"]) == (0, 3)


def test_run_against_external_bootstrap_server(package_env: dict[str, str], tmp_path: Path) -> None:
    """`run --bootstrap-uri` aims the fleet at a bootstrap server this test
    process started (with its registration server): all devices register
    there, and that server records a SUCCESS per device."""
    with Emulator() as emu:
        rs = emu.registration_server(timing=FAST)
        bs = emu.bootstrap_server(bootstrap_config(rs.uri), timing=FAST)
        out = tmp_path / "summary.json"
        proc = run_fast(package_env, "--devices", "10", "--bootstrap-uri", bs.uri, "--json", str(out))
        assert proc.returncode == 0, proc.stderr
        summary = json.loads(out.read_text())
        assert summary["registered"] == 10
        names = {f"dev-{i}" for i in range(10)}
        assert set(rs.registrations()) == names
        assert all(outcome_of(bs, n)["outcome"] == "SUCCESS" for n in names)


@pytest.mark.parametrize("clock", ["real", "virtual"])
def test_run_power_cut_devices_reboot_and_register_none_torn(
    package_env: dict[str, str], tmp_path: Path, clock: str
) -> None:
    """`run --power-cut 0.5`: about half of 40 devices lose power at a seeded
    flash operation of their bootstrap commit, reboot, and still register;
    the summary counts the cuts that fired (> 0, at most one per device) and
    no torn configuration. On both clocks: the operations of a commit are
    counted on a probe emulator of the run's own clock."""
    out = tmp_path / "summary.json"
    args = ["--devices", "40", "--power-cut", "0.5", "--seed", "4", "--json", str(out)]
    if clock == "virtual":
        proc = cli(package_env, "run", "--clock", "virtual", *args)
    else:
        proc = run_fast(package_env, "--security", "nosec", *args)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(out.read_text())
    assert summary["registered"] == 40
    assert 0 < summary["power_cuts"] <= 40
    assert summary["torn_configs"] == 0
    assert re.search(rf"^power cuts\s+{summary['power_cuts']} fired, 0 torn configurations$", proc.stdout,
                     re.MULTILINE), proc.stdout


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_run_link_options_shape_traffic_and_capture_says_how(package_env: dict[str, str], tmp_path: Path) -> None:
    """`run --delay 30:10 --duplicate 0.3 --reorder 0.3 --capture F`: every
    device registers; the summary's "radio" counts every datagram sent as
    delivered, none dropped; tshark, told that the
    bootstrap server's port carries CoAP, decodes Request Bootstrap and
    Finish (POST /bs) and the Writes from the capture, and the packet
    comments say what the radio did (delayed, duplicated, reordered)."""
    out, pcap = tmp_path / "summary.json", tmp_path / "run.pcapng"
    proc = run_fast(package_env, "--devices", "10", "--security", "nosec", "--delay", "30:10",
                    "--duplicate", "0.3", "--reorder", "0.3", "--capture", str(pcap), "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    radio = json.loads(out.read_text())["radio"]
    assert radio["dropped"] == 0
    assert radio["delivered"] == radio["sent"] > 0

    ports = subprocess.run(["tshark", "-r", str(pcap), "-T", "fields", "-e", "udp.dstport", "-c", "1"],
                           capture_output=True, text=True, check=True).stdout.split()
    bs_port = int(ports[0])  # the first datagram is a Request Bootstrap
    fields = subprocess.run(
        ["tshark", "-r", str(pcap), "-d", f"udp.port=={bs_port},coap", "-Y", "coap", "-T", "fields",
         "-e", "coap.code", "-e", "coap.opt.uri_path_recon", "-e", "frame.comment"],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    rows = [line.split("\t") for line in fields]
    requests = Counter((code, path) for code, path, *_ in rows if path)
    assert requests[("2", "/bs")] >= 10  # Request Bootstrap (POST), retransmissions included
    assert requests[("3", "/0/1")] >= 10 and requests[("3", "/1/0")] >= 10  # the Writes (PUT)
    comments = " ".join(row[2] for row in rows if len(row) > 2)
    for what in ("delayed by", "duplicated", "reordered"):
        assert what in comments, f"no capture comment says {what!r}"


def test_bootstrap_server_with_bad_config_exits_2_naming_the_field(
    package_env: dict[str, str], tmp_path: Path
) -> None:
    """`bootstrap-server --config BAD.json` exits 2 and stderr names the field."""
    bad = tmp_path / "bad.json"
    servers = [{"ssid": 1, "uri": "coap://x:1", "lifetime": 0}]
    bad.write_text(json.dumps({"endpoints": [{"match": "*", "servers": servers}]}))
    proc = cli(package_env, "bootstrap-server", "--config", str(bad), "--listen", "127.0.0.1:0", timeout=30)
    assert proc.returncode == 2
    assert "endpoints[0].servers[0].lifetime" in proc.stderr


def test_run_with_bad_arguments_exits_2(package_env: dict[str, str]) -> None:
    """argparse refuses an unknown profile with exit 2, naming the option."""
    proc = cli(package_env, "run", "--profile", "2.0", timeout=30)
    assert proc.returncode == 2
    assert "--profile" in proc.stderr


def test_run_server_contexts_flag_sets_the_contexts_and_refuses_0(package_env: dict[str, str]) -> None:
    """`run --server-contexts 2` registers its fleet; 0 and 2000 exit 2 naming the flag."""
    proc = run_fast(package_env, "--devices", "10", "--security", "nosec", "--server-contexts", "2")
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^registered\s+10$", proc.stdout, re.MULTILINE), proc.stdout
    for bad in ("0", "2000"):
        proc = cli(package_env, "run", "--server-contexts", bad, timeout=30)
        assert proc.returncode == 2
        assert "--server-contexts" in proc.stderr


def test_run_through_kernel_flag_registers_its_fleet(package_env: dict[str, str]) -> None:
    """`run --through-kernel` (Emulator(in_process=False), whose effect on
    the wire test_in_process.py shows) registers its fleet."""
    proc = run_fast(package_env, "--devices", "10", "--security", "nosec", "--through-kernel")
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^registered\s+10$", proc.stdout, re.MULTILINE), proc.stdout


class Server:
    """A CLI server in a child process; its stdout lines arrive on a queue."""

    def __init__(self, env: dict[str, str], *args: str, command: Sequence[str] = ()) -> None:
        self.proc = subprocess.Popen(
            [*(command or (sys.executable, "-m", "lwm2m_hil")), *args],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        assert self.proc.stdout is not None
        threading.Thread(target=self._pump, args=(self.proc.stdout,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))

    def wait_line(self, pattern: str, timeout: float = 20.0) -> re.Match[str]:
        seen = []
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r} in {timeout} s; saw {seen}") from None
            seen.append(line)
            if m := re.search(pattern, line):
                return m

    def lines_until(self, pattern: str, timeout: float = 20.0) -> list[str]:
        """Every line up to and including the first that matches ``pattern``."""
        seen = []
        while True:
            try:
                seen.append(self.lines.get(timeout=timeout))
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r} in {timeout} s; saw {seen}") from None
            if re.search(pattern, seen[-1]):
                return seen

    def send(self, line: str) -> None:
        """One line on the server's standard input (a control command)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self) -> tuple[int, str]:
        """Terminate by PID (SIGTERM), kill if it lingers; exit status and stderr."""
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        err = ""
        if self.proc.stderr and not self.proc.stderr.closed:
            err = self.proc.stderr.read()
            self.proc.stderr.close()
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode, err


@pytest.fixture
def cli_server(package_env: dict[str, str]) -> Iterator[Callable[..., Server]]:
    """Starts CLI servers; stops every one of them (by PID) after the test."""
    started: list[Server] = []

    def start(*args: str, command: Sequence[str] = ()) -> Server:
        s = Server(package_env, *args, command=command)
        started.append(s)
        return s

    try:
        yield start
    finally:
        for s in started:
            s.stop()


def test_standalone_bootstrap_server_logs_outcome_per_endpoint(
    cli_server: Callable[..., Server], tmp_path: Path
) -> None:
    """`bootstrap-server --config F --listen 127.0.0.1:0` prints "listening on
    coap://127.0.0.1:PORT" first; a device bootstrapping against that port
    registers, and the server logs "dev-x SUCCESS"; SIGTERM ends it with 0
    and nothing on stderr."""
    with Emulator() as emu:
        rs = emu.registration_server(timing=FAST)
        config = tmp_path / "bs.json"
        config.write_text(json.dumps(bootstrap_config(rs.uri)))
        server = cli_server("bootstrap-server", "--config", str(config), "--listen", "127.0.0.1:0")
        uri = server.wait_line(r"^listening on (coap://127\.0\.0\.1:(\d+))$").group(1)
        assert not uri.endswith(":0")

        dev = emu.device("dev-x", uri, timing=FAST)
        dev.wait_for("registered", exit="finish", timeout=20)
        server.wait_line(r"^dev-x SUCCESS errors=0 duration=\d+ms profile=cr format=tlv$")
        assert "dev-x" in rs.registrations()
    assert server.stop() == (0, "")


def test_standalone_registration_server_registers_devices(cli_server: Callable[..., Server]) -> None:
    """`registration-server --listen 127.0.0.1:0` prints its URI first; a
    device provisioned with it registers, and the server logs it."""
    server = cli_server("registration-server", "--listen", "127.0.0.1:0")
    uri = server.wait_line(r"^listening on (coap://127\.0\.0\.1:\d+)$").group(1)
    with Emulator() as emu:
        dev = emu.device("dev-r", "coap://127.0.0.1:9", timing=FAST, server_uri=uri)
        dev.wait_for("registered", timeout=20)
        server.wait_line(r"registered.*dev-r")
    assert server.stop() == (0, "")


def _address(uri: str) -> tuple[str, int]:
    host, port = uri.removeprefix("coap://").rsplit(":", 1)
    return host, int(port)


def _start_bootstrap_server(cli_server: Callable[..., Server], tmp_path: Path, config: dict, *args: str,
                            command: Sequence[str] = ()) -> tuple[Server, tuple[str, int]]:
    path = tmp_path / "bs.json"
    path.write_text(json.dumps(config))
    server = cli_server("bootstrap-server", "--config", str(path), "--listen", "127.0.0.1:0", *args,
                        command=command)
    uri = server.wait_line(r"^listening on (coap://127\.0\.0\.1:\d+)$", timeout=120).group(1)
    return server, _address(uri)


def test_standalone_bootstrap_server_starts_server_initiated_bootstrap_on_stdin_command(
    cli_server: Callable[..., Server], tmp_path: Path
) -> None:
    """`start ENDPOINT` on the standalone bootstrap server's stdin: refused,
    with the reason, for an endpoint that never came; for a client that
    bootstrapped before, the server Discovers and writes again with no
    request, the client answers, and the log has a second SUCCESS line and
    the Discover's answer as text."""
    config = bootstrap_config("coap://127.0.0.1:9")
    config["endpoints"][0].update(profile="1.0", discover=["/"])
    server, addr = _start_bootstrap_server(cli_server, tmp_path, config)
    server.send("start nobody")
    server.wait_line(r"^start nobody: refused: 'nobody' has never come to this bootstrap server")
    server.send("stop everything")
    server.wait_line(r"^error: unknown command 'stop everything' \(commands: start ENDPOINT\)$")
    link = b'</>;lwm2m="1.0",</0/0>'
    with ScriptedClient("peer-s", answers={"/": ("2.05", LINK_FORMAT, link)}) as client:
        assert client.bootstrap(addr) == "finish"
        server.wait_line(r"^peer-s SUCCESS errors=0 .*profile=1\.0")
        server.send("start peer-s")
        server.wait_line(r"^start peer-s: server-initiated bootstrap started$")
        assert client.serve() == "finish"
        server.wait_line(r"^peer-s SUCCESS errors=0 .*profile=1\.0")
        server.wait_line(r'^peer-s discover / 2\.05 ct=40 </>;lwm2m="1\.0",</0/0>$')
    assert server.stop()[0] == 0


def test_standalone_bootstrap_server_logs_every_session_of_a_looping_client(
    cli_server: Callable[..., Server], tmp_path: Path
) -> None:
    """A client that rejects TLV and starts over at once (stock Wakaama 1.1):
    the log has one WRITE_REJECTED line per session, with its error count,
    duration and the rejected path, none of them SUCCESS; the request past
    the budget gets 5.03 and a "throttled:" line. (The log used to poll
    results() and drop sessions that ended between polls.)"""
    server, addr = _start_bootstrap_server(cli_server, tmp_path, bootstrap_config("coap://127.0.0.1:9"))
    with ScriptedClient("wk-loop", rejects=[TLV]) as client:
        answers = [client.bootstrap(addr, stop_on_reject=True) for _ in range(6)]
    assert answers == ["rejected"] * 5 + ["5.03"]
    lines = server.lines_until(r"^throttled: wk-loop: Request Bootstrap answered 5\.03")
    assert server.stop()[0] == 0
    while not server.lines.empty():
        lines.append(server.lines.get())
    sessions = [ln for ln in lines if ln.startswith("wk-loop ")]
    assert len(sessions) == 5, lines
    for ln in sessions:
        assert re.match(r"^wk-loop WRITE_REJECTED errors=1 duration=\d+ms profile=1\.0 format=tlv", ln), ln
        assert "PUT /0/1" in ln and "answered 4.00" in ln


def test_standalone_bootstrap_server_escapes_endpoint_names_and_logs_bad_requests(
    cli_server: Callable[..., Server], tmp_path: Path
) -> None:
    """An endpoint name with newline, NUL, ESC and spaces cannot forge a log
    line: it prints as one escaped token. A request without an endpoint
    name is logged as a "rejected:" notice."""
    server, addr = _start_bootstrap_server(cli_server, tmp_path, bootstrap_config("coap://127.0.0.1:9", match="dev-*"))
    forged = "x\nvictim-1 SUCCESS\x00\x1b[2J"
    with CoapPeer() as client:
        query = ["ep=" + forged]
        assert client.call(addr, POST, "/bs", query=query).code_text == "4.00"  # no entry matches
        assert client.call(addr, POST, "/bs").code_text == "4.00"
    lines = [server.wait_line(r"NO_BOOTSTRAP_CONFIG|^rejected:").string for _ in range(2)]
    assert server.stop()[0] == 0
    while not server.lines.empty():
        lines.append(server.lines.get())
    assert any(ln.startswith("x\\x0avictim-1\\x20SUCCESS\\x00\\x1b[2J NO_BOOTSTRAP_CONFIG") for ln in lines), lines
    assert "rejected: POST /bs: 4.00, no endpoint name" in lines
    assert not any(ln.startswith("victim-1") or "\n" in ln or "\x1b" in ln for ln in lines)


def _first_token(cli_server: Callable[..., Server], tmp_path: Path, *args: str) -> bytes:
    server, addr = _start_bootstrap_server(cli_server, tmp_path, bootstrap_config("coap://127.0.0.1:9"), *args)
    with CoapPeer() as client:
        client.call(addr, POST, "/bs", query=["ep=tok-1"])
        msg, _ = client.wait_request()
    server.stop()
    return msg.token


def test_standalone_bootstrap_server_tokens_are_unpredictable_unless_seeded(
    cli_server: Callable[..., Server], tmp_path: Path
) -> None:
    """Two runs without --seed send their first command with different
    tokens (seeded from the OS); two runs with --seed 7 with the same one."""
    assert _first_token(cli_server, tmp_path) != _first_token(cli_server, tmp_path)
    assert _first_token(cli_server, tmp_path, "--seed", "7") == _first_token(cli_server, tmp_path, "--seed", "7")


LWM2M_HIL = str(Path(__file__).resolve().parent.parent / "scripts" / "lwm2m-hil")


def test_default_standalone_servers_register_100_standard_clients(
    cli_server: Callable[..., Server], tmp_path: Path
) -> None:
    """Issue 17's acceptance: `scripts/lwm2m-hil registration-server` and
    `bootstrap-server` with a config that names no profile and no format,
    on ephemeral ports; 50 plain 1.0 clients and 50 1.1 clients with
    pct=110 (as Wakaama and Anjay behave: no Finish=true) each request,
    answer the writes, answer Finish and register at the URI they were
    given. All 100 register, the 1.1 ones got SenML-JSON, and the bootstrap
    log has 100 SUCCESS lines."""
    rs = cli_server("registration-server", "--listen", "127.0.0.1:0", command=[LWM2M_HIL])
    rs_uri = rs.wait_line(r"^listening on (coap://127\.0\.0\.1:\d+)$", timeout=300).group(1)
    config = {"endpoints": [{"match": "*", "servers": [{"ssid": 1, "uri": rs_uri, "lifetime": 300}]}]}
    bs, bs_addr = _start_bootstrap_server(cli_server, tmp_path, config, command=[LWM2M_HIL])

    def one(i: int) -> tuple[str, str, set[int | None]]:
        pct = SENML_JSON if i % 2 else None
        with ScriptedClient(f"std-{i:03d}", pct=pct) as client:
            assert client.bootstrap(bs_addr) == "finish"
            formats = {m.content_format for m in client.commands if m.code != POST}
            return client.endpoint, client.register().code_text, formats

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(one, range(100)))
    assert [code for _, code, _ in results] == ["2.01"] * 100
    assert all(f == ({SENML_JSON} if i % 2 else {TLV}) for i, (_, _, f) in enumerate(results))
    registered = {rs.wait_line(r"^registered ep=(std-\d+) ").group(1) for _ in range(100)}
    assert registered == {f"std-{i:03d}" for i in range(100)}
    successes = {bs.wait_line(r"^(std-\d+) SUCCESS errors=0 ").group(1) for _ in range(100)}
    assert successes == registered


def test_standalone_registration_server_escapes_endpoint_names(cli_server: Callable[..., Server]) -> None:
    """A Register whose endpoint name carries a newline and ESC prints as
    one line, the bytes escaped: no forged "registered ep=victim" line."""
    server = cli_server("registration-server", "--listen", "127.0.0.1:0")
    uri = server.wait_line(r"^listening on (coap://127\.0\.0\.1:\d+)$").group(1)
    with ScriptedClient("x\nregistered ep=victim\x1b[2J") as client:
        client.server_uri = uri
        assert client.register().code_text == "2.01"
    lines = server.lines_until(r"^registered ")
    assert lines[-1].startswith("registered ep=x\\x0aregistered ep=victim\\x1b[2J id="), lines
    assert server.stop()[0] == 0
    while not server.lines.empty():
        assert not server.lines.get().startswith("registered ep=victim")


@pytest.mark.skipif(shutil.which("tshark") is None or shutil.which("capinfos") is None,
                    reason="tshark and capinfos are not installed")
@pytest.mark.parametrize("security", ["psk", "nosec"])
def test_run_capture_prints_the_decode_options_that_decode_it(
    package_env: dict[str, str], tmp_path: Path, security: str
) -> None:
    """`run --capture F --json J`: the JSON's capture.decode are tshark
    options for the servers' ephemeral ports (and, over DTLS, the run's
    key); tshark given exactly those decodes CoAP from the capture (over PSK
    decrypted from DTLS): Request Bootstrap, the Writes and the Register.
    The summary prints the whole tshark line, and the capture's section
    comment (capinfos -k) carries the same options."""
    out, pcap = tmp_path / "summary.json", tmp_path / "run.pcapng"
    proc = run_fast(package_env, "--devices", "4", "--security", security, "--capture", str(pcap), "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    capture = json.loads(out.read_text())["capture"]
    decode = capture["decode"]
    assert capture["file"] == str(pcap)
    assert any(o.endswith(",coap") for o in decode)
    assert (f"dtls.psk:{DEMO_KEY}" in decode) == (security == "psk")
    assert re.search(r"^capture\s+tshark -r \S+ " + re.escape(" ".join(decode)) + "$", proc.stdout, re.MULTILINE)

    fields = subprocess.run(
        ["tshark", "-r", str(pcap), *decode, "-Y", "coap", "-T", "fields", "-e", "coap.code",
         "-e", "coap.opt.uri_path_recon"],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    requests = Counter(tuple(line.split("\t")) for line in fields)
    assert requests[("2", "/bs")] >= 4  # Request Bootstrap (POST)
    assert requests[("3", "/0/1")] >= 4 and requests[("3", "/1/0")] >= 4  # the Writes (PUT)
    assert requests[("2", "/rd")] >= 4  # Register
    without = subprocess.run(["tshark", "-r", str(pcap), "-Y", "coap"], capture_output=True, text=True, check=True)
    assert without.stdout.strip() == ""  # the options are what makes it CoAP

    comment = subprocess.run(["capinfos", "-k", str(pcap)], capture_output=True, text=True, check=True).stdout
    assert " ".join(decode) in comment, comment


def test_standalone_registration_server_with_psk_announces_coaps_and_takes_dtls(
    cli_server: Callable[..., Server]
) -> None:
    """`registration-server --psk dm:HEX@dev-*` prints its coap:// and its
    coaps:// URI; a device bootstrapped with that account and key registers
    over DTLS, and the server logs it."""
    dm = Psk("dm", bytes.fromhex("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"))
    server = cli_server("registration-server", "--listen", "127.0.0.1:0", "--psk", f"dm:{dm.key.hex()}@dev-*")
    server.wait_line(r"^listening on coap://127\.0\.0\.1:\d+$")
    secure = server.wait_line(r"^listening on (coaps://127\.0\.0\.1:\d+)$").group(1)
    with Emulator() as emu:
        bs = emu.bootstrap_server(bootstrap_config(secure, server_psk=dm), timing=FAST)
        dev = emu.device("dev-s", bs.uri, timing=FAST)
        dev.wait_for("registered", timeout=20)
        server.wait_line(r"^registered ep=dev-s ")
    assert server.stop() == (0, "")


@pytest.mark.parametrize("value", ["nokey", "dm:xyz", ":00ff", "dm:@dev-*"])
def test_registration_server_with_a_bad_psk_exits_2_naming_the_flag(package_env: dict[str, str], value: str) -> None:
    proc = cli(package_env, "registration-server", "--listen", "127.0.0.1:0", "--psk", value, timeout=30)
    assert proc.returncode == 2
    assert f"--psk: expected IDENTITY:HEXKEY[@GLOB] (e.g. dm:000102...0f@dev-*), got {value!r}" in proc.stderr
