"""pytest plugin for lwm2m-hil.

Enable it in a ``conftest.py``::

    pytest_plugins = ["lwm2m_hil.pytest_plugin"]

It adds the option ``--lwm2m-seed`` (group "lwm2m-hil"), the fixtures
``lwm2m_seed`` and ``emulator`` (an :class:`~lwm2m_hil.Emulator` seeded
with it, closed after the test), the marker ``slow``, and, on every failed
test, a report section "lwm2m-hil" with the seed and the command that
reruns the test with it.
"""

from __future__ import annotations

import os
import shlex
from typing import Iterator

import pytest

from ._emulator import Emulator

SECTION = "lwm2m-hil"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("lwm2m-hil", "lwm2m-hil device emulator")
    group.addoption(
        "--lwm2m-seed",
        action="store",
        type=int,
        default=0,
        dest="lwm2m_seed",
        metavar="S",
        help="seed of every emulator the `emulator` fixture creates (default: 0)",
    )


def pytest_configure(config: pytest.Config) -> None:
    seed = config.getoption("lwm2m_seed")
    if seed is not None and seed < 0:
        raise pytest.UsageError(f"--lwm2m-seed: must be >= 0, got {seed}")
    config.addinivalue_line("markers", "slow: a long-running lwm2m-hil test (large fleets, real timeouts)")


@pytest.fixture
def lwm2m_seed(request: pytest.FixtureRequest) -> int:
    """The seed given with ``--lwm2m-seed`` (0 by default)."""
    return int(request.config.getoption("lwm2m_seed"))


@pytest.fixture
def emulator(lwm2m_seed: int) -> Iterator[Emulator]:
    """An :class:`Emulator` seeded with ``--lwm2m-seed``; closed after the test."""
    emu = Emulator(seed=lwm2m_seed)
    try:
        yield emu
    finally:
        emu.close()


def rerun_command(nodeid: str, seed: int) -> str:
    """The command line that reruns one test with one seed."""
    return f"pytest {shlex.quote(nodeid)} --lwm2m-seed={seed}"


def _selector(item: pytest.Item) -> str:
    """The item's node id, its file part relative to where pytest was started
    (node ids are relative to the rootdir), so the command can be pasted."""
    nodeid = item.nodeid
    try:
        start = str(item.config.invocation_params.dir)
        rel = os.path.relpath(str(item.path), start)
    except (AttributeError, ValueError):
        return nodeid
    file_part, sep, rest = nodeid.partition("::")
    return rel + sep + rest if file_part else nodeid


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not report.failed:
        return
    seed = int(item.config.getoption("lwm2m_seed"))
    report.sections.append(
        (SECTION, f"seed: {seed}\nrerun: {rerun_command(_selector(item), seed)}")
    )
