"""Per-device results (devices.jsonl), premature exits, verdicts, JUnit XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Iterable, Sequence

# Timeline kinds the sequence chart draws; the rest is bookkeeping.
MESSAGE_KINDS = ("tx", "rx", "radio", "bootstrap_request", "register", "bootstrap_exit")
LAST_EVENTS = 12


def _event(e: Any) -> list[Any]:
    return [round(e.time, 3), e.kind, e.detail]


class SessionLog:
    """The bootstrap server's command log, every session of every endpoint.

    The server keeps only each endpoint's latest session, so the run looks
    at it often (every slice of its wait) and keeps what it saw: per
    endpoint and session, when the session began and when the server sent
    its last command (a ``tx`` of its log), in seconds."""

    def __init__(self) -> None:
        self.sessions: dict[str, dict[int, tuple[float, float | None]]] = {}

    def snapshot(self, raw_results: Iterable[dict[str, Any]]) -> None:
        """Record what the server shows now: its handle's raw ``results()``
        (events as ``(ms, kind, detail)``; it runs once a slice, so it skips
        the conversion to :class:`Event`)."""
        for r in raw_results:
            last = max((t for t, kind, _ in r["events"] if kind == "tx"), default=None)
            self.sessions.setdefault(r["endpoint"], {})[int(r["sessions"])] = (
                r["started_ms"] / 1000.0, None if last is None else last / 1000.0)

    def premature_exits(self, endpoint: str, timeline: Sequence[Any]) -> int:
        """How many of the device's bootstrap exits came before the server
        sent the last command of the session they ended: the first exit at
        or after a session began, and before the next one began, earlier
        than that session's last command."""
        sessions = sorted(self.sessions.get(endpoint, {}).values())
        exits = [e.time for e in timeline if e.kind == "bootstrap_exit"]
        count = 0
        for i, (started, last_command) in enumerate(sessions):
            ends = sessions[i + 1][0] if i + 1 < len(sessions) else float("inf")
            ended = [t for t in exits if started <= t < ends]
            if ended and last_command is not None and ended[0] < last_command:
                count += 1
        return count


def device_record(device: Any, log: SessionLog | None = None, *, legacy: bool = False) -> dict[str, Any]:
    """One line of devices.jsonl; ``premature_exits`` needs the server's
    :class:`SessionLog` (null without one)."""
    timeline = device.timeline()
    links = device.link_counters()["total"]
    exits = device.exit_counts()
    registered = device.state == "registered"
    duration = device.bootstrap_duration()
    record: dict[str, Any] = {
        "endpoint": device.endpoint,
        "kind": "legacy" if legacy else "finish",
        "state": device.state,
        "exit": device.bootstrap_exit,
        "exits": sum(exits.values()),
        "exit_counts": exits,
        "bootstrap_s": duration,
        "registered": registered,
        "retries": max(0, sum(1 for e in timeline if e.kind == "bootstrap_request") - 1),  # beyond the first
        "power_cuts": device.power_cuts,
        "torn_configs": device.torn_configs,
        "dropped_by": {k: v for k, v in links["dropped_by"].items() if v},
        "premature_exits": None if log is None else log.premature_exits(device.endpoint, timeline),
        "late_commands": sum(1 for e in timeline if e.kind == "ignored" and "outside bootstrap" in e.detail),
    }
    if not registered:
        record["last_events"] = [_event(e) for e in timeline[-LAST_EVENTS:]]
    return record


def message_events(device: Any) -> list[list[Any]]:
    """The device's messages and radio verdicts, for a sequence chart."""
    return [_event(e) for e in device.timeline() if e.kind in MESSAGE_KINDS]


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    with open(path, "w") as f:
        for r in records:
            f.write(json.dumps(r, sort_keys=True) + "\n")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def tally(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A run's or a cell's outcome from its device records."""
    exits: dict[str, int] = {}
    for r in records:
        exits[r["exit"]] = exits.get(r["exit"], 0) + 1
    legacy = [r for r in records if r["kind"] == "legacy"]
    finish = [r for r in records if r["kind"] == "finish"]
    return {
        "devices": len(records),
        "exits": exits,
        "registered": sum(1 for r in records if r["registered"]),
        "failed": sum(1 for r in records if not r["registered"]),
        "torn_configs": sum(r["torn_configs"] for r in records),
        "power_cuts": sum(r["power_cuts"] for r in records),
        "premature": {"legacy": sum(1 for r in legacy if r["premature_exits"]), "legacy_devices": len(legacy),
                      "finish": sum(1 for r in finish if r["premature_exits"]), "finish_devices": len(finish)},
    }


def verdicts(expect: dict[str, Any], records: Sequence[dict[str, Any]]) -> list[str]:
    """What broke the campaign's expectations in one run, one line each,
    naming the devices (at most 10 per line). Empty: the run passed."""
    broken = []

    def offenders(bad: list[dict[str, Any]], what: str) -> None:
        if bad:
            names = ", ".join(f"{r['endpoint']} ({r['state']}, exit {r['exit']})" for r in bad[:10])
            more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
            broken.append(f"{what}: {len(bad)} device(s): {names}{more}")

    if "exit" in expect:
        offenders([r for r in records if r["exit"] != expect["exit"]], f"expect.exit = {expect['exit']!r}")
    if expect.get("registered") == "all":
        offenders([r for r in records if not r["registered"]], "expect.registered = \"all\"")
    elif isinstance(expect.get("registered"), int):
        n = sum(1 for r in records if r["registered"])
        if n < expect["registered"]:
            broken.append(f"expect.registered = {expect['registered']}: {n} registered")
    if "torn" in expect:
        torn = [r for r in records if r["torn_configs"]]
        if sum(r["torn_configs"] for r in torn) > expect["torn"]:
            offenders(torn, f"expect.torn = {expect['torn']}")
    if "failed" in expect:
        failed = [r for r in records if not r["registered"]]
        if len(failed) > expect["failed"]:
            offenders(failed, f"expect.failed = {expect['failed']}")
    if "premature" in expect:
        early = [r for r in records if r["premature_exits"]]
        if len(early) > expect["premature"]:
            offenders(early, f"expect.premature = {expect['premature']}")
    return broken


def junit_xml(path: Path, name: str, runs: Sequence[dict[str, Any]]) -> None:
    """One test case per run; a run that broke an expectation fails, with
    the broken expectations as the failure's text."""
    failures = sum(1 for r in runs if r["verdicts"])
    suite = ET.Element("testsuite", name=name, tests=str(len(runs)), failures=str(failures), errors="0",
                       time=f"{sum(r['summary']['wall_s'] for r in runs):.3f}")
    for r in runs:
        case = ET.SubElement(suite, "testcase", classname=f"{name}.{r['cell_id']}", name=r["run_id"],
                             time=f"{r['summary']['wall_s']:.3f}")
        if r["verdicts"]:
            failure = ET.SubElement(case, "failure", message=r["verdicts"][0][:200])
            failure.text = "\n".join(r["verdicts"])
        out = ET.SubElement(case, "system-out")
        out.text = json.dumps({k: r["summary"][k] for k in ("exits", "registered", "failed")})
    root = ET.Element("testsuites", name=name, tests=suite.get("tests", "0"), failures=str(failures))
    root.append(suite)
    tree = ET.ElementTree(root)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
