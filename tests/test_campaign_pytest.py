"""The pytest plugin at scale: --lwm2m-clock, a failed test's artifacts
(capture, timelines, devices.jsonl) and rerun command, the
assert_all_left_on_finish fixture, pytest-xdist workers."""

from __future__ import annotations

import json

import pytest

FLEET_TESTS = '''
import pytest

def start(emulator, n, profile=None, **options):
    from lwm2m_hil import bootstrap_config
    rs = emulator.registration_server()
    bs = emulator.bootstrap_server(bootstrap_config(rs.uri), profile=profile)
    return emulator.fleet(n, bs.uri, **options)

def test_clock(emulator):
    assert emulator.clock == "virtual"

def test_fleet_fails(emulator):
    fleet = start(emulator, 3)
    fleet.run_until("registered", timeout=60)
    assert fleet.exits() == {"finish": 2}, "deliberate"

def test_legacy_devices(emulator, assert_all_left_on_finish):
    # A server of the change request's dialect sends no Finish to them.
    fleet = start(emulator, 2, profile="cr", request_finish=False, idle_timeout=1.0)
    fleet.run_until("registered", timeout=60)
    assert_all_left_on_finish(fleet)

@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_passes(emulator, n):
    fleet = start(emulator, n)
    fleet.run_until("registered", timeout=60)
'''


@pytest.fixture
def inner(pytester: pytest.Pytester, package_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("PYTHONPATH", package_env["PYTHONPATH"])
    pytester.makeconftest('pytest_plugins = ["lwm2m_hil.pytest_plugin"]\n')
    pytester.makeini("[pytest]\naddopts = --strict-markers -p no:cacheprovider\n")
    pytester.makepyfile(test_fleets=FLEET_TESTS)
    return pytester


def _check_failed_artifacts(inner: pytest.Pytester, out: str) -> None:
    folder = inner.path / "lwm2m-artifacts" / "test_fleets.py-test_fleet_fails"
    assert f"artifacts: {folder}" in out
    assert "rerun: pytest test_fleets.py::test_fleet_fails --lwm2m-seed=3 --lwm2m-clock=virtual" in out
    assert (folder / "capture.pcapng").stat().st_size > 0
    devices = [json.loads(line) for line in (folder / "devices.jsonl").read_text().splitlines()]
    assert [d["endpoint"] for d in devices] == ["dev-0", "dev-1", "dev-2"]
    assert all(d["exit"] == "finish" for d in devices)
    assert "bootstrap_exit" in (folder / "timelines" / "dev-2.txt").read_text()
    # Passing tests leave nothing behind.
    kept = sorted(p.name for p in folder.parent.iterdir())
    assert kept == ["test_fleets.py-test_fleet_fails", "test_fleets.py-test_legacy_devices"]


def test_failed_test_keeps_capture_timelines_devices_and_prints_rerun(inner: pytest.Pytester) -> None:
    """On the virtual clock (--lwm2m-clock virtual), a failed test keeps
    the capture, every device's timeline and devices.jsonl in its artifact
    folder; the report prints the folder and the rerun command;
    assert_all_left_on_finish names the legacy devices and their exits."""
    result = inner.runpytest_subprocess("-q", "--lwm2m-seed=3", "--lwm2m-clock=virtual")
    result.assert_outcomes(passed=5, failed=2)
    out = result.stdout.str()
    _check_failed_artifacts(inner, out)
    assert "2 of 2 device(s) did not leave bootstrap on Finish" in out
    assert "dev-0: exit idle_timeout, state registered, exits {'idle_timeout': 1}" in out


def test_plugin_under_xdist_workers(inner: pytest.Pytester) -> None:
    """Under pytest-xdist (-n 2) every worker runs its emulators on its own
    ports; the outcome and the artifacts are the same as in one process."""
    result = inner.runpytest_subprocess("-q", "-n", "2", "--lwm2m-seed=3", "--lwm2m-clock=virtual")
    result.assert_outcomes(passed=5, failed=2)
    assert "2 workers" in result.stdout.str() or "gw1" in result.stdout.str()
    _check_failed_artifacts(inner, result.stdout.str())
