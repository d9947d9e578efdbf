"""The pytest plugin: --lwm2m-seed, the emulator fixture, the failure report."""

from __future__ import annotations

import pytest

INNER = '''
import pytest

def test_seed_reaches_the_emulator(emulator, lwm2m_seed):
    assert emulator.seed == lwm2m_seed == {seed}

def test_fails(emulator):
    assert emulator.seed == -1, "deliberate"

@pytest.mark.slow
def test_marked_slow():
    pass
'''


@pytest.fixture
def inner(pytester: pytest.Pytester, package_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytest run in a scratch directory, with the plugin enabled as users do."""
    monkeypatch.setenv("PYTHONPATH", package_env["PYTHONPATH"])  # absolute: the child runs elsewhere
    pytester.makeconftest('pytest_plugins = ["lwm2m_hil.pytest_plugin"]\n')
    pytester.makeini("[pytest]\naddopts = --strict-markers -p no:cacheprovider\n")
    return pytester


@pytest.mark.parametrize("seed", [0, 42])
def test_seed_option_reaches_fixture_and_failure_report_names_rerun_command(
    inner: pytest.Pytester, seed: int
) -> None:
    """--lwm2m-seed seeds the `emulator` fixture (default 0); a failed test's
    report has an "lwm2m-hil" section with the seed and the exact command to
    rerun it; passing tests get none; the `slow` marker is registered."""
    inner.makepyfile(test_inner=INNER.format(seed=seed))
    args = ["-q"] + ([f"--lwm2m-seed={seed}"] if seed else [])
    result = inner.runpytest_subprocess(*args)
    result.assert_outcomes(passed=2, failed=1)
    out = result.stdout.str()
    assert f"seed: {seed}" in out
    assert f"rerun: pytest test_inner.py::test_fails --lwm2m-seed={seed}" in out
    assert out.count("rerun: pytest") == 1


def test_emulator_fixture_is_closed_after_the_test(inner: pytest.Pytester) -> None:
    """The fixture's emulator is closed when the test ends: using it later
    raises RuntimeError."""
    inner.makepyfile(
        test_inner='''
kept = []

def test_a(emulator):
    kept.append(emulator)
    emulator.registration_server()

def test_b():
    import pytest
    with pytest.raises(RuntimeError, match="closed"):
        kept[0].registration_server()
'''
    )
    inner.runpytest_subprocess("-q").assert_outcomes(passed=2)


def test_option_appears_in_help_group(inner: pytest.Pytester) -> None:
    """`pytest --help` lists the option under the "lwm2m-hil" group."""
    result = inner.runpytest_subprocess("--help")
    out = result.stdout.str()
    assert "lwm2m-hil" in out
    assert "--lwm2m-seed" in out


def test_negative_seed_is_a_usage_error(inner: pytest.Pytester) -> None:
    """--lwm2m-seed=-1 stops pytest before any test runs, naming the option."""
    inner.makepyfile(test_inner="def test_x():\n    pass\n")
    result = inner.runpytest_subprocess("--lwm2m-seed=-1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--lwm2m-seed" in result.stderr.str()
