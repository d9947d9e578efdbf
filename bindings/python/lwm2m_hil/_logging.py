"""Logging for the package: modules log to ``lwm2m_hil.*`` loggers; the
command line configures them (``--log-level``, ``--log-format``). A program
that imports the package configures logging as it likes."""

from __future__ import annotations

import json
import logging
import sys
from typing import IO

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("text", "json")

log = logging.getLogger("lwm2m_hil")


class _TextFormatter(logging.Formatter):
    """``lwm2m-hil: warning: message``, as argparse words its errors."""

    def format(self, record: logging.LogRecord) -> str:
        return f"lwm2m-hil: {record.levelname.lower()}: {record.getMessage()}"


class _JsonFormatter(logging.Formatter):
    """One JSON object a line: time (s since the epoch), level, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure(level: str = "info", fmt: str = "text", stream: IO[str] | None = None) -> None:
    """Send the package's log records at ``level`` and above to ``stream``
    (stderr), as text or JSON lines; replaces an earlier configuration."""
    if level not in LEVELS:
        raise ValueError(f"--log-level: {level!r} is not one of {', '.join(LEVELS)}")
    if fmt not in FORMATS:
        raise ValueError(f"--log-format: {fmt!r} is not one of {', '.join(FORMATS)}")
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _TextFormatter())
    for old in list(log.handlers):
        log.removeHandler(old)
    log.addHandler(handler)
    log.setLevel(level.upper())
    log.propagate = False
