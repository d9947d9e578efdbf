"""Hardening (issue 13): input that used to crash or hang, Ctrl-C and
SIGTERM on `run`, logging, and input validation. Crashes are reproduced in
a child process: the test asserts a clear error, never a signal."""

from __future__ import annotations

import json
import re
import select
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from helpers import FAST, dead_port
from lwm2m_hil import CoapTiming, Emulator, bootstrap_config


def python(env: dict[str, str], code: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a child Python with this package."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=timeout
    )


def cli(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lwm2m_hil", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def deep_json(depth: int) -> str:
    return '{"endpoints": ' + "[" * depth + "]" * depth + "}"


# --- crashes (13.4) ------------------------------------------------------------


def test_config_nested_100000_deep_is_a_value_error_not_a_crash(package_env: dict[str, str]) -> None:
    """A configuration nested 100,000 deep, as JSON text and as a dict, gives
    a ValueError that names the configuration (it was SIGSEGV)."""
    proc = python(
        package_env,
        """
        from lwm2m_hil import Emulator
        text = '{"endpoints": ' + "[" * 100000 + "]" * 100000 + "}"
        deep = {}
        for _ in range(100000):
            deep = {"a": deep}
        with Emulator() as emu:
            for config in (text, {"endpoints": deep}):
                try:
                    emu.bootstrap_server(config)
                except ValueError as e:
                    print("ValueError:", e)
        """,
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    lines = proc.stdout.splitlines()
    assert len(lines) == 2, proc.stdout
    assert "nested deeper than 32 levels" in lines[0]
    assert lines[1].startswith("ValueError: config: nested too deeply")


def test_bootstrap_server_cli_with_deep_config_exits_2(package_env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "deep.json"
    config.write_text(deep_json(100000))
    proc = cli(package_env, "bootstrap-server", "--config", str(config), "--listen", "127.0.0.1:0")
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "nested deeper than 32 levels" in proc.stderr


def test_closing_while_another_thread_reads_a_device_is_an_error_not_a_crash(package_env: dict[str, str]) -> None:
    """Threads read devices (timeline, state, link counters) in a loop while
    the main thread closes the emulator: each read either completes or
    raises "this Emulator is closed" (it was a heap use-after-free).

    The readers run under a tracer that yields the GIL at every line, so
    close() gets to run between any two lines of a reader, also between the
    check that the emulator is open and the call into it (where the old
    code let a reader into the freed runtime: it hung on the freed loop in
    10 runs of 10, or crashed). MALLOC_PERTURB_ fills freed memory, so that
    reading it goes wrong rather than finding the old values."""
    proc = python(
        package_env | {"MALLOC_PERTURB_": "165"},
        """
        import sys, threading, time
        from lwm2m_hil import Emulator

        def yielding(frame, event, arg):
            time.sleep(0)  # another thread may run between any two lines
            return yielding

        READERS = 16
        for round in range(10):
            emu = Emulator()
            fleet = emu.fleet(READERS, "coap://127.0.0.1:9", start=False)
            errors, reads = [], [0]
            started = threading.Barrier(READERS + 1)

            def read(dev):
                started.wait()
                sys.settrace(yielding)
                while True:
                    try:
                        dev.timeline(); dev.state; dev.link_counters()
                        reads[0] += 1
                    except RuntimeError as e:
                        errors.append(str(e))
                        return

            threads = [threading.Thread(target=read, args=(d,), daemon=True) for d in fleet]
            for t in threads:
                t.start()
            started.wait()
            deadline = time.monotonic() + 10
            while reads[0] < READERS and time.monotonic() < deadline:
                time.sleep(0.005)
            emu.close()
            for t in threads:
                t.join(10)
            assert not any(t.is_alive() for t in threads), f"round {round}: a reader hung in the closed emulator"
            assert len(errors) == READERS and all("this Emulator is closed" in e for e in errors), errors
            assert reads[0] > 0
        print("ok")
        """,
        timeout=180,
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert proc.stdout.strip() == "ok"


def test_wait_on_another_thread_ends_when_the_emulator_closes(package_env: dict[str, str]) -> None:
    """A long fleet.wait_for on another thread does not outlive close(): it
    ends with "this Emulator is closed" within a wait slice (it used to read
    freed devices, and hung)."""
    proc = python(
        package_env,
        """
        import threading, time
        from lwm2m_hil import CoapTiming, Emulator

        for round in range(3):
            emu = Emulator()
            fleet = emu.fleet(200, "coap://127.0.0.1:9", timing=CoapTiming(ack_timeout=0.1))
            outcome = []

            def wait():
                try:
                    fleet.wait_for("registered", timeout=600)
                except BaseException as e:
                    outcome.append(e)

            t = threading.Thread(target=wait, daemon=True)
            t.start()
            time.sleep(0.3)
            emu.close()
            t.join(30)
            assert not t.is_alive(), "the wait outlived close()"
            assert isinstance(outcome[0], RuntimeError) and "this Emulator is closed" in str(outcome[0]), outcome
        print("ok")
        """,
        timeout=120,
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert proc.stdout.strip() == "ok"


def test_close_inside_a_run_until_condition_is_refused(package_env: dict[str, str]) -> None:
    """close() from a run_until condition (the runtime is on the stack)
    raises RuntimeError instead of freeing it under the running loop; the
    emulator closes normally afterwards."""
    proc = python(
        package_env,
        """
        from lwm2m_hil import Emulator

        emu = Emulator(clock="virtual")
        emu.device("d", "coap://127.0.0.1:9")
        try:
            emu.run_until(lambda: emu.close(), 5)
        except RuntimeError as e:
            print("RuntimeError:", e)
        emu.close()
        """,
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert proc.stdout.startswith("RuntimeError: close(): called from inside a call of this emulator")


# --- Ctrl-C and SIGTERM on run (13.5) -------------------------------------------


@pytest.mark.parametrize(
    ("sig", "code", "clock"),
    [(signal.SIGINT, 130, "real"), (signal.SIGTERM, 143, "real"), (signal.SIGINT, 130, "virtual")],
)
def test_signal_stops_run_with_a_partial_summary(
    package_env: dict[str, str], tmp_path: Path, sig: signal.Signals, code: int, clock: str
) -> None:
    """A campaign that cannot finish (its bootstrap server never answers,
    --timeout far away) stops on SIGINT/SIGTERM, prints and writes its
    summary marked interrupted, and exits 128 + the signal."""
    out = tmp_path / "summary.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "lwm2m_hil", "run", "--devices", "50", "--clock", clock, "--timeout", "100000",
         "--bootstrap-uri", f"coap://127.0.0.1:{dead_port()}", "--json", str(out)],
        env=package_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stderr is not None
        ready, _, _ = select.select([proc.stderr], [], [], 30)
        line = proc.stderr.readline() if ready else ""
        assert "devices started" in line, line  # the campaign announces its start
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == code, stderr
    assert "interrupted" in stdout and sig.name in stdout
    summary = json.loads(out.read_text())
    assert summary["interrupted"] == sig.name
    assert summary["devices"] == 50
    assert "Traceback" not in stderr


# --- logging (13.6) --------------------------------------------------------------


def test_log_format_json_and_log_level(package_env: dict[str, str]) -> None:
    """--log-format json: every diagnostic on stderr is a JSON object; the
    summary table stays on stdout. --log-level error hides warnings."""
    args = ["run", "--devices", "2", "--timeout", "0.5", "--ack-timeout", "0.05",
            "--bootstrap-uri", f"coap://127.0.0.1:{dead_port()}"]
    proc = cli(package_env, "--log-format", "json", *args)
    assert proc.returncode == 1, proc.stderr
    entries = [json.loads(line) for line in proc.stderr.splitlines()]
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    assert any(e["level"] == "warning" and "not every device registered" in e["message"] for e in entries)
    assert "failed             2" in proc.stdout

    quiet = cli(package_env, "--log-level", "error", *args)
    assert quiet.returncode == 1
    assert quiet.stderr == ""
    # scripts/run passes every flag after "run"
    after = cli(package_env, *args, "--log-level", "warning", "--log-format", "json")
    assert after.returncode == 1
    levels = [json.loads(line)["level"] for line in after.stderr.splitlines()]
    assert levels and set(levels) == {"warning"}


# --- input validation (13.7) -----------------------------------------------------


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--power-cut", "2"], "--power-cut"),
        (["--power-cut", "-1"], "--power-cut"),
        (["--loss", "1.5"], "--loss"),
        (["--timeout", "-1"], "--timeout"),
        (["--timeout", "0"], "--timeout"),
        (["--psk-key", ""], "--psk-key"),
        (["--psk-key", "abc"], "--psk-key"),
        (["--devices", "0"], "--devices"),
        (["--json", "/nonexistent-dir/summary.json"], "--json"),
        (["--profile", "1.0", "--no-finish"], "--no-finish"),
        (["--prefix", "x" * 300], "--prefix"),
    ],
)
def test_run_refuses_bad_flags_before_starting(package_env: dict[str, str], args: list[str], named: str) -> None:
    base = [] if "--devices" in args else ["--devices", "2"]
    proc = cli(package_env, "run", *base, *args)
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert named in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""  # nothing ran


def test_unwritable_json_is_found_before_the_campaign(package_env: dict[str, str], tmp_path: Path) -> None:
    proc = cli(package_env, "run", "--devices", "2", "--json", str(tmp_path))
    assert proc.returncode == 2
    assert "--json" in proc.stderr and "is a directory" in proc.stderr
    assert proc.stdout == ""


def test_power_cut_probe_honours_timeout_and_says_the_server_never_answered(package_env: dict[str, str]) -> None:
    proc = cli(package_env, "run", "--devices", "2", "--power-cut", "0.5", "--timeout", "1", "--ack-timeout", "0.05",
               "--bootstrap-uri", f"coap://127.0.0.1:{dead_port()}", timeout=25)
    assert proc.returncode == 2, proc.stderr
    assert "--power-cut" in proc.stderr and "never answered" in proc.stderr and "--timeout 1 s" in proc.stderr


def test_timeout_shorter_than_loss_needs_is_warned(package_env: dict[str, str]) -> None:
    """With --loss, a --timeout under --finish-timeout + the retransmission
    budget gets a warning that suggests --clock virtual or a longer timeout;
    without loss, none."""
    common = ["run", "--devices", "2", "--security", "nosec", "--ack-timeout", "0.05", "--timeout", "10"]
    proc = cli(package_env, *common, "--loss", "0.01")
    assert "--timeout 10 s may be too short for --loss 0.01" in proc.stderr
    assert "--clock virtual" in proc.stderr and "--timeout 250 or more" in proc.stderr
    calm = cli(package_env, *common)
    assert "too short" not in calm.stderr


def test_endpoint_names_empty_too_long_or_taken_are_refused(emulator: Emulator) -> None:
    uri = f"coap://127.0.0.1:{dead_port()}"
    with pytest.raises(ValueError, match="endpoint: an endpoint name must not be empty"):
        emulator.device("", uri, start=False)
    with pytest.raises(ValueError, match="endpoint: an endpoint name of 100000 bytes is too long"):
        emulator.device("x" * 100000, uri, start=False)
    with pytest.raises(ValueError, match="prefix: an endpoint name of 301 bytes"):
        emulator.fleet(2, uri, prefix="x" * 300, start=False)
    emulator.device("dev-1", uri, start=False)
    with pytest.raises(ValueError, match="endpoint: a device named 'dev-1' already exists"):
        emulator.device("dev-1", uri, start=False)
    with pytest.raises(ValueError, match="prefix: a device named 'dev-1' already exists"):
        emulator.fleet(3, uri, prefix="dev-", start=False)
    emulator.fleet(3, uri, prefix="node-", start=False)
    with pytest.raises(ValueError, match="endpoint: a device named 'node-2' already exists"):
        emulator.device("node-2", uri, start=False)
    assert emulator.summary()["devices"] == 4


def test_duplicate_key_in_json_config_is_refused(emulator: Emulator) -> None:
    text = '{"endpoints": [{"match": "*", "match": "dev-*"}]}'
    with pytest.raises(ValueError, match=r'endpoints\[0\]: duplicate key "match"'):
        emulator.bootstrap_server(text)


def test_timing_that_is_not_coap_timing_is_a_type_error(emulator: Emulator) -> None:
    uri = f"coap://127.0.0.1:{dead_port()}"
    with pytest.raises(TypeError, match="timing: expected a CoapTiming"):
        emulator.device("d", uri, timing="fast")
    with pytest.raises(TypeError, match="timing: expected a CoapTiming"):
        emulator.registration_server(timing="fast")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="timing: expected a CoapTiming"):
        emulator.bootstrap_server(bootstrap_config(uri), timing=0.5)  # type: ignore[arg-type]
    assert isinstance(FAST, CoapTiming)


@pytest.mark.parametrize("profile", ["1.0", "1.1"])
def test_request_finish_false_outside_profile_cr_is_refused(emulator: Emulator, profile: str) -> None:
    """As ``--profile 1.0 --no-finish`` on the command line: under 1.0 and
    1.1 the server always sends Finish, so ``request_finish=False`` would be
    ignored silently; it is a ValueError naming both parameters."""
    uri = f"coap://127.0.0.1:{dead_port()}"
    want = rf"request_finish=False: only profile 'cr' .* with profile='{re.escape(profile)}' .*profile='cr'"
    with pytest.raises(ValueError, match=want):
        emulator.device("dev-1", uri, profile=profile, request_finish=False, start=False)
    with pytest.raises(ValueError, match=want):
        emulator.fleet(2, uri, profile=profile, request_finish=False, start=False)
    assert emulator.device("dev-1", uri, profile="cr", request_finish=False, start=False).endpoint == "dev-1"
    assert emulator.device("dev-2", uri, profile=profile, start=False).endpoint == "dev-2"


@pytest.mark.parametrize("path", ["/1/0/99", "/3/0/200", "/3/7"])
def test_read_of_missing_resource_is_404(emulator: Emulator, path: str) -> None:
    """An LwM2M server's Read of a resource or instance the device does not
    have is 4.04 Not Found (it was 4.06)."""
    rs = emulator.registration_server(timing=FAST)
    bs = emulator.bootstrap_server(bootstrap_config(rs.uri), timing=FAST)
    dev = emulator.device("reader", bs.uri, timing=FAST)
    dev.wait_for("registered", timeout=20)
    assert rs.request("reader", "GET", path) == ("4.04", b"")
    assert rs.request("reader", "GET", "/3/0")[0] == "2.05"
