"""Commands the standalone bootstrap server (``lwm2m-hil bootstrap-server``)
reads on its standard input, one per line:

``start ENDPOINT``
    server-initiated bootstrap (LwM2M 1.0) of ENDPOINT over its last session
    with the server (:meth:`BootstrapServer.start_session`).

Each command answers with one line on standard output; the session's outcome
follows in the log as usual.
"""

from __future__ import annotations

import threading
from typing import Callable, TextIO

from ._servers import BootstrapServer
from ._serverlog import escape_name, escape_text

USAGE = "commands: start ENDPOINT"


def run_command(bs: BootstrapServer, line: str) -> str | None:
    """The answer to one command line, or None for a blank line."""
    words = line.split()
    if not words:
        return None
    if words[0] != "start" or len(words) != 2:
        return f"error: unknown command {escape_text(line.strip())!r} ({USAGE})"
    endpoint = words[1]
    try:
        bs.start_session(endpoint)
    except ValueError as e:
        return f"start {escape_name(endpoint)}: refused: {escape_text(str(e))}"
    return f"start {escape_name(endpoint)}: server-initiated bootstrap started"


def follow_commands(bs: BootstrapServer, lines: TextIO, emit: Callable[[list[str]], None]) -> threading.Thread:
    """Reads commands from ``lines`` until it ends, in a daemon thread (the
    server keeps running after end of input)."""

    def loop() -> None:
        for line in lines:
            answer = run_command(bs, line)
            if answer is not None:
                emit([answer])

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    return t
