"""The README's Python examples are tests: each must run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks(text: str) -> list[str]:
    blocks = re.findall(r"^```python[^\n]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    assert blocks, f"{README} has no ```python code block"
    return blocks


@pytest.mark.parametrize("index", range(len(python_blocks(README.read_text()))))
def test_readme_python_example_runs_as_written(index: int, capsys: pytest.CaptureFixture[str]) -> None:
    """Each ```python block of README.md runs with exec in a fresh namespace,
    unchanged, and every assert in it holds."""
    code = python_blocks(README.read_text())[index]
    namespace: dict[str, object] = {"__name__": "__readme__"}
    exec(compile(code, str(README), "exec"), namespace)
    capsys.readouterr()  # whatever the example prints is for readers, not for us
