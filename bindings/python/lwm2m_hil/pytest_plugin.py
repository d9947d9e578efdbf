"""pytest plugin for lwm2m-hil.

Enable it in a ``conftest.py``::

    pytest_plugins = ["lwm2m_hil.pytest_plugin"]

(An installed package, ``pip install .``, enables it through its pytest11
entry point: no line needed.) It adds the options ``--lwm2m-seed``,
``--lwm2m-clock`` and ``--lwm2m-artifacts`` (group "lwm2m-hil"), the
fixtures ``lwm2m_seed``, ``emulator`` (an :class:`~lwm2m_hil.Emulator`
seeded with it, on the chosen clock, capturing every datagram, closed after
the test) and ``assert_all_left_on_finish``, the marker ``slow``, and, on
every failed test, a report section "lwm2m-hil" with the seed, the command
that reruns the test with it and the folder where the emulator's capture,
every device's timeline and devices.jsonl were saved.

Under pytest-xdist (``-n auto``) every worker runs its own emulators on
ephemeral ports; a test's seed is the same whichever worker runs it, so the
rerun command replays it.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any, Callable, Generator, Iterable, Iterator

import pytest

from ._emulator import Emulator
from ._options import CLOCKS
from .pytest_artifacts import TrackedEmulator, artifact_dir, discard, make_folder, save_devices
from .pytest_artifacts import assert_all_left_on_finish as _assert_all_left_on_finish

SECTION = "lwm2m-hil"
FAILED = pytest.StashKey[bool]()


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
    group.addoption(
        "--lwm2m-clock",
        action="store",
        choices=CLOCKS,
        default="real",
        dest="lwm2m_clock",
        help="the clock of the `emulator` fixture: real (default) or virtual",
    )
    group.addoption(
        "--lwm2m-artifacts",
        action="store",
        default="lwm2m-artifacts",
        dest="lwm2m_artifacts",
        metavar="DIR",
        help="where a failed test's capture, timelines and devices.jsonl go, one folder per test "
             "(default: lwm2m-artifacts)",
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
def emulator(lwm2m_seed: int, request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """An :class:`Emulator` seeded with ``--lwm2m-seed`` on the
    ``--lwm2m-clock`` clock; closed after the test. It captures every
    datagram; if the test fails, the capture, every device's timeline and
    devices.jsonl stay in the test's artifact folder."""
    root = Path(request.config.getoption("lwm2m_artifacts"))
    if not root.is_absolute():
        root = Path(request.config.invocation_params.dir) / root
    folder = artifact_dir(root, request.node.nodeid)
    discard(folder)
    make_folder(folder)
    emu = TrackedEmulator(seed=lwm2m_seed, clock=request.config.getoption("lwm2m_clock"))
    try:
        emu.capture(folder / "capture.pcapng")
        yield emu
    finally:
        if request.node.stash.get(FAILED, False):
            save_devices(folder, emu.tracked)
        emu.close()
        if not request.node.stash.get(FAILED, False):
            discard(folder)
            try:
                root.rmdir()  # only when empty: other tests (xdist workers) may keep theirs
            except OSError:
                pass


@pytest.fixture
def assert_all_left_on_finish() -> Callable[[Iterable[object]], None]:
    """``assert_all_left_on_finish(fleet)``: fails, listing every device
    that left bootstrap otherwise than on Finish and its exits."""
    return _assert_all_left_on_finish  # type: ignore[return-value]


def rerun_command(nodeid: str, seed: int, clock: str = "real") -> str:
    """The command line that reruns one test with one seed (and clock)."""
    virtual = " --lwm2m-clock=virtual" if clock == "virtual" else ""
    return f"pytest {shlex.quote(nodeid)} --lwm2m-seed={seed}{virtual}"


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


@pytest.hookimpl(hookwrapper=True)  # type: ignore[misc]  # pytest's decorators are untyped
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not report.failed:
        return
    item.stash[FAILED] = True
    seed = int(item.config.getoption("lwm2m_seed"))
    clock = item.config.getoption("lwm2m_clock")
    text = f"seed: {seed}\nrerun: {rerun_command(_selector(item), seed, clock)}"
    if report.when == "call" and "emulator" in getattr(item, "fixturenames", ()):
        # The fixture saves them at teardown, right after this report.
        root = Path(item.config.invocation_params.dir) / item.config.getoption("lwm2m_artifacts")
        text += f"\nartifacts: {artifact_dir(root, item.nodeid)}"
    report.sections.append((SECTION, text))
