"""The README's Python example is a test: it must run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def first_python_block(text: str) -> str:
    match = re.search(r"^```python[^\n]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    assert match, f"{README} has no ```python code block"
    return match.group(1)


def test_readme_python_example_runs_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    """The first ```python block of README.md runs with exec in a fresh
    namespace, unchanged, and every assert in it holds."""
    assert README.is_file(), f"{README} is missing: the integrator writes it, with a ```python example"
    code = first_python_block(README.read_text())
    namespace: dict[str, object] = {"__name__": "__readme__"}
    exec(compile(code, str(README), "exec"), namespace)
    capsys.readouterr()  # whatever the example prints is for readers, not for us
