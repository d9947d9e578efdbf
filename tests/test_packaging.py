"""`pip install .`: a wheel built from the repository (pyproject.toml,
setup.py driving the CMake build) installs into a venv with the system's
site packages, without PyPI, and brings the `lwm2m-hil` command, the
version and the pytest plugin (found through its pytest11 entry point)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lwm2m_hil import __version__

REPO = Path(__file__).resolve().parent.parent


def run(*args: str | os.PathLike[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # only what the venv installed
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def test_pip_install_gives_command_version_and_pytest_plugin(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    built = run(sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-w", wheels, REPO)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = wheels.glob("lwm2m_hil-*.whl")
    venv = tmp_path / "venv"
    assert run(sys.executable, "-m", "venv", "--system-site-packages", venv).returncode == 0
    installed = run(venv / "bin" / "pip", "install", "--no-deps", "--no-index", wheel)
    assert installed.returncode == 0, installed.stderr
    version = run(venv / "bin" / "lwm2m-hil", "--version")
    assert version.stdout.strip() == f"lwm2m-hil {__version__}", version.stderr
    where = run(venv / "bin" / "python", "-c", "import lwm2m_hil; print(lwm2m_hil.__version__, lwm2m_hil.__file__)")
    assert where.stdout.split()[0] == __version__ and str(venv) in where.stdout.split()[1]
    # No conftest, no pytest_plugins line: the entry point brings the plugin.
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_uses_plugin.py").write_text(
        "def test_seed(emulator, lwm2m_seed):\n    assert lwm2m_seed == 5 and emulator.seed == 5\n")
    r = run(venv / "bin" / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--lwm2m-seed", "5", cwd=suite)
    assert r.returncode == 0 and "1 passed" in r.stdout, r.stdout + r.stderr
