"""Shared fixtures for the lwm2m-hil behaviour suite.

Run from the repository: PYTHONPATH=build/dev/python python3 -m pytest tests/
(without PYTHONPATH the package is taken from build/dev/python).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parent.parent

try:
    import lwm2m_hil  # noqa: F401  (only: is it on PYTHONPATH?)
except ImportError:  # not on PYTHONPATH: use the dev build tree
    sys.path.insert(0, str(REPO / "build" / "dev" / "python"))

from lwm2m_hil import CoapTiming  # noqa: E402

from coap_peer import ScriptedBootstrapServer  # noqa: E402
from helpers import FAST, child_env  # noqa: E402

pytest_plugins = ["lwm2m_hil.pytest_plugin", "pytester"]


@pytest.fixture
def fast() -> CoapTiming:
    """CoAP timing for loopback: 100 ms ACK timeout."""
    return FAST


@pytest.fixture
def scripted_bs() -> Iterator[ScriptedBootstrapServer]:
    """A raw-CoAP bootstrap server on 127.0.0.1:<ephemeral>, scripted by the test."""
    with ScriptedBootstrapServer() as peer:
        yield peer


@pytest.fixture
def package_env() -> dict[str, str]:
    """Environment for a child Python that must import this same lwm2m_hil."""
    return child_env()
