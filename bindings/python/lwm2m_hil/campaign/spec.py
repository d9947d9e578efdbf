"""The campaign file: what one TOML file names, validated up front.

A campaign is a base run (fleet, link, rules, power cuts, timing, clock,
server), a matrix of values that replace parts of it, and seeds. Every
cell of the matrix, with every seed, is one run. Errors name the key the
user wrote (``link.loss: must be a probability 0..1, got 2``).
"""

from __future__ import annotations

import copy
import itertools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._options import BOOTSTRAP_EXITS, CLOCKS

PROFILES = ("cr", "1.0", "1.1")
SECURITY = ("nosec", "psk")

# Every key a section may hold, with the type its value must have. Numbers
# accept ints where floats are wanted (TOML writes 0 and 0.0 apart).
_NUM = (int, float)
SECTIONS: dict[str, dict[str, Any]] = {
    "fleet": {"devices": int, "profile": str, "security": str, "request_finish": bool, "legacy": int,
              "prefix": str, "psk_key": str},
    "link": {"loss": _NUM, "burst": dict, "delay": _NUM, "jitter": _NUM, "duplicate": _NUM, "reorder": _NUM,
             "reorder_delay": _NUM, "corrupt": _NUM, "bandwidth_bps": int, "mtu": int, "nat_idle": _NUM,
             "partitions": list, "sleeps": list},
    "power": {"cut": _NUM},
    "timing": {"ack_timeout": _NUM, "idle_timeout": _NUM, "finish_timeout": _NUM},
    "server": {"bootstrap_uri": str},
    "report": {"sequence_devices": list, "sequence_failed": int},
}
TOP_LEVEL = {"name": str, "clock": str, "timeout": _NUM, "capture": bool, "seeds": (str, list, int)}
EXPECT = {"exit": str, "registered": (str, int), "torn": int, "failed": int, "premature": int}
RULE_KEYS = {"action", "direction", "type", "code", "path", "dtls", "nth", "count", "probability", "delay", "name"}
BURST_KEYS = {"p_good_to_bad", "p_bad_to_good", "loss_in_good", "loss_in_bad"}

DEFAULTS: dict[str, Any] = {
    "clock": "virtual",
    "timeout": 3600.0,
    "capture": True,
    "fleet": {"devices": 10, "profile": "cr", "security": "nosec", "request_finish": True, "legacy": 0,
              "prefix": "dev-", "psk_key": "000102030405060708090a0b0c0d0e0f"},
    "link": {},
    "rules": [],
    "power": {"cut": 0.0},
    "timing": {},  # a timer left out keeps the device's default (the C++ ClientConfig)
    "server": {},
}


class CampaignError(ValueError):
    """The campaign file is wrong; the message names the key."""


@dataclass
class Run:
    """One run: a cell's settings with one seed."""

    run_id: str
    cell_id: str
    seed: int
    settings: dict[str, Any]


@dataclass
class Cell:
    """One point of the matrix: the values it sets, by dotted key."""

    cell_id: str
    values: dict[str, Any]

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.values.items()) or "base"


@dataclass
class Campaign:
    name: str
    base: dict[str, Any]
    matrix: dict[str, list[Any]]
    seeds: list[int]
    expect: dict[str, Any]
    cells: list[Cell] = field(default_factory=list)

    def runs(self) -> list[Run]:
        """Every cell with every seed, cells first."""
        out = []
        for cell in self.cells:
            settings = copy.deepcopy(self.base)
            for key, value in cell.values.items():
                section, _, name = key.partition(".")
                if name:
                    settings[section][name] = value
                else:
                    settings[section] = value
            for seed in self.seeds:
                out.append(Run(f"{cell.cell_id}-seed{seed}", cell.cell_id, seed, settings))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "base": self.base, "matrix": self.matrix, "seeds": self.seeds,
                "expect": self.expect, "cells": [{"cell_id": c.cell_id, "label": c.label, "values": c.values}
                                                 for c in self.cells]}


def _type_name(want: Any) -> str:
    kinds = want if isinstance(want, tuple) else (want,)
    return " or ".join({int: "integer", float: "number", str: "string", bool: "true/false", dict: "table",
                        list: "array"}[k] for k in kinds)


def _check_type(key: str, value: Any, want: Any) -> None:
    kinds = want if isinstance(want, tuple) else (want,)
    if isinstance(value, bool) and bool not in kinds:
        raise CampaignError(f"{key}: expected {_type_name(want)}, got {value!r}")
    if not isinstance(value, kinds):
        raise CampaignError(f"{key}: expected {_type_name(want)}, got {type(value).__name__} {value!r}")


def parse_seeds(value: Any) -> list[int]:
    """``"1..50"`` (inclusive), a list of integers, or a count N (0..N-1)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise CampaignError(f"seeds: a count must be >= 1, got {value}")
        return list(range(value))
    if isinstance(value, str):
        first, sep, last = value.partition("..")
        if not sep or not first.strip().isdigit() or not last.strip().isdigit():
            raise CampaignError(f"seeds: expected FIRST..LAST (e.g. \"1..50\"), got {value!r}")
        a, b = int(first), int(last)
        if b < a:
            raise CampaignError(f"seeds: {value!r} is empty (LAST < FIRST)")
        return list(range(a, b + 1))
    if isinstance(value, list) and value and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                                                 for s in value):
        return list(value)
    raise CampaignError(f"seeds: expected \"FIRST..LAST\", a list of integers >= 0, or a count; got {value!r}")


def _probability(key: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise CampaignError(f"{key}: must be a probability 0..1, got {value}")


def _check_section(section: str, table: Any) -> None:
    _check_type(section, table, dict)
    allowed = SECTIONS[section]
    for key, value in table.items():
        if key not in allowed:
            raise CampaignError(f"{section}.{key}: unknown key; {section} takes {', '.join(sorted(allowed))}")
        _check_value(f"{section}.{key}", value)


def _check_value(key: str, value: Any) -> None:
    """One setting's type and range; ``key`` is ``section.name``."""
    section, _, name = key.partition(".")
    if section == "rules":
        _check_rules(value)
        return
    if not name:
        want = TOP_LEVEL[section]
        _check_type(key, value, want)
        if section == "clock" and value not in CLOCKS:
            raise CampaignError(f"clock: {value!r} is not one of {', '.join(CLOCKS)}")
        if section == "timeout" and value <= 0:
            raise CampaignError(f"timeout: must be > 0 seconds, got {value}")
        return
    _check_type(key, value, SECTIONS[section][name])
    if key == "fleet.profile" and value not in PROFILES:
        raise CampaignError(f"fleet.profile: {value!r} is not one of {', '.join(PROFILES)}")
    if key == "fleet.security" and value not in SECURITY:
        raise CampaignError(f"fleet.security: {value!r} is not one of {', '.join(SECURITY)}")
    if key == "fleet.devices" and value < 1:
        raise CampaignError(f"fleet.devices: must be >= 1, got {value}")
    if key == "fleet.legacy" and value < 0:
        raise CampaignError(f"fleet.legacy: must be >= 0 (devices that do not ask for Finish), got {value}")
    if key == "fleet.psk_key":
        try:
            bytes.fromhex(value)
        except ValueError:
            raise CampaignError(f"fleet.psk_key: expected hex digits, got {value!r}") from None
    if key in ("link.loss", "link.duplicate", "link.reorder", "link.corrupt", "power.cut"):
        _probability(key, value)
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        raise CampaignError(f"{key}: must be >= 0, got {value}")
    if key == "link.burst":
        unknown = set(value) - BURST_KEYS
        missing = {"p_good_to_bad", "p_bad_to_good"} - set(value)
        if unknown or missing:
            raise CampaignError(f"link.burst: needs p_good_to_bad and p_bad_to_good (optional loss_in_good, "
                                f"loss_in_bad); unknown {sorted(unknown)}, missing {sorted(missing)}")
        for k, v in value.items():
            _check_type(f"link.burst.{k}", v, _NUM)
            _probability(f"link.burst.{k}", v)
    if key in ("link.partitions", "link.sleeps"):
        for i, w in enumerate(value):
            ok = isinstance(w, list) and len(w) in (2, 3) and all(isinstance(x, (int, float)) for x in w[:2])
            if key == "link.sleeps":
                ok = ok and len(w) == 2
            if not ok or (len(w) == 3 and w[2] not in ("both", "up", "down")):
                shape = ("[start_s, duration_s]" if key == "link.sleeps"
                         else "[start_s, duration_s, \"both\"|\"up\"|\"down\"]")
                raise CampaignError(f"{key}[{i}]: expected {shape}, got {w!r}")
    if key == "server.bootstrap_uri" and not value.startswith(("coap://", "coaps://")):
        raise CampaignError(f"server.bootstrap_uri: expected coap://HOST:PORT or coaps://HOST:PORT, got {value!r}")


def _check_rules(rules: Any) -> None:
    _check_type("rules", rules, list)
    for i, rule in enumerate(rules):
        key = f"rules[{i}]"
        _check_type(key, rule, dict)
        unknown = set(rule) - RULE_KEYS
        if unknown:
            raise CampaignError(f"{key}: unknown key(s) {sorted(unknown)}; a rule takes {', '.join(sorted(RULE_KEYS))}")
        if rule.get("action") not in ("drop", "delay", "duplicate", "corrupt"):
            raise CampaignError(f"{key}.action: expected drop, delay, duplicate or corrupt, got {rule.get('action')!r}")
        if rule["action"] == "delay" and "delay" not in rule:
            raise CampaignError(f"{key}.delay: required (seconds) for action \"delay\"")


def _check_expect(expect: Any) -> dict[str, Any]:
    _check_type("expect", expect, dict)
    for key, value in expect.items():
        if key not in EXPECT:
            raise CampaignError(f"expect.{key}: unknown expectation; expect takes {', '.join(sorted(EXPECT))}")
        _check_type(f"expect.{key}", value, EXPECT[key])
    if "exit" in expect and expect["exit"] not in BOOTSTRAP_EXITS:
        raise CampaignError(f"expect.exit: {expect['exit']!r} is not one of {', '.join(BOOTSTRAP_EXITS)}")
    if isinstance(expect.get("registered"), str) and expect["registered"] != "all":
        raise CampaignError(f"expect.registered: expected \"all\" or a count, got {expect['registered']!r}")
    return dict(expect)


def _flatten_matrix(table: Any, prefix: str = "") -> dict[str, list[Any]]:
    """``[matrix] "link.loss" = [...]`` and ``[matrix.link] loss = [...]`` alike."""
    _check_type(f"matrix{'.' + prefix if prefix else ''}", table, dict)
    out: dict[str, list[Any]] = {}
    for key, value in table.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and path in SECTIONS:
            out.update(_flatten_matrix(value, path))
            continue
        if not isinstance(value, list) or not value:
            raise CampaignError(f"matrix.{path}: expected a non-empty array of values, got {value!r}")
        section, _, name = path.partition(".")
        known = ((section in SECTIONS and name in SECTIONS[section])
                 or (not name and section in TOP_LEVEL and section != "seeds") or path == "rules")
        if not known:
            raise CampaignError(f"matrix.{path}: not a setting a campaign has (e.g. link.loss, fleet.profile)")
        for i, v in enumerate(value):
            try:
                _check_value(path, v)
            except CampaignError as e:
                raise CampaignError(f"matrix.{path}[{i}]: {e}") from None
        out[path] = value
    return out


def parse(data: dict[str, Any], name: str = "campaign") -> Campaign:
    """A campaign from a parsed TOML document; CampaignError names the key."""
    base = copy.deepcopy(DEFAULTS)
    for key, value in data.items():
        if key in SECTIONS and key not in ("report",):
            _check_section(key, value)
            base[key].update(value)
        elif key == "report":
            _check_section(key, value)
            base["report"] = dict(value)
        elif key == "rules":
            _check_rules(value)
            base["rules"] = value
        elif key in TOP_LEVEL:
            _check_value(key, value)
            if key != "seeds":
                base[key] = value
        elif key not in ("matrix", "expect"):
            allowed = sorted(set(SECTIONS) | set(TOP_LEVEL) | {"matrix", "expect", "rules"})
            raise CampaignError(f"{key}: unknown key; a campaign takes {', '.join(allowed)}")
    fleet = base["fleet"]
    if fleet["legacy"] > fleet["devices"]:
        raise CampaignError(f"fleet.legacy: {fleet['legacy']} legacy devices in a fleet of {fleet['devices']}")
    matrix = _flatten_matrix(data.get("matrix", {}))
    seeds = parse_seeds(data.get("seeds", 1))
    campaign = Campaign(str(data.get("name", name)), base, matrix, seeds, _check_expect(data.get("expect", {})))
    keys = list(matrix)
    for i, combo in enumerate(itertools.product(*(matrix[k] for k in keys))):
        campaign.cells.append(Cell(f"c{i}", dict(zip(keys, combo))))
    return campaign


def load(path: str | Path) -> Campaign:
    """Read and validate a campaign file."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as e:
        raise CampaignError(f"{p}: not valid TOML: {e}") from None
    return parse(data, name=p.stem)
