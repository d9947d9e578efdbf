"""One run of a campaign: a fleet from a cell's settings and a seed, run
to registration in a fresh Emulator; returns everything the report needs
as plain data, so any process (a Dask worker on another machine) can run
it and hand the result back."""

from __future__ import annotations

import argparse
import os
import random
import socket
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, cast

from .._egress import DEFAULT_PREFIX
from .._emulator import Emulator
from .._fleet import Fleet
from .._options import Burst, CoapTiming, DeviceOptions
from .._run_setup import flash_ops_of_bootstrap
from ..config import Psk, bootstrap_config
from .results import SessionLog, device_record, message_events, tally


def _start_servers(emu: Emulator, settings: dict[str, Any], timing: CoapTiming) -> tuple[str, Any]:
    """The embedded servers; returns the bootstrap URI and server (None
    when the campaign names an external ``server.bootstrap_uri``)."""
    external = settings["server"].get("bootstrap_uri")
    if external:
        return external, None
    fleet = settings["fleet"]
    profile = fleet["profile"]
    if fleet["security"] == "nosec":
        rs = emu.registration_server(timing=timing)
        bs = emu.bootstrap_server(bootstrap_config(rs.uri), profile=profile, timing=timing)
        return bs.uri, bs
    key = bytes.fromhex(fleet["psk_key"])
    dm = Psk("lwm2m-hil-dm", key)
    rs = emu.registration_server(timing=timing, psk=[dm])
    config = bootstrap_config(rs.secure_uri, psk=Psk("{endpoint}", key), server_psk=dm)
    bs = emu.bootstrap_server(config, profile=profile, timing=timing)
    return bs.secure_uri, bs


def _coap_timing(settings: dict[str, Any]) -> CoapTiming:
    """The campaign's ack_timeout, or RFC 7252's."""
    timing = settings["timing"]
    return CoapTiming(ack_timeout=float(timing["ack_timeout"])) if "ack_timeout" in timing else CoapTiming()


def _device_options(settings: dict[str, Any], uri: str) -> dict[str, Any]:
    fleet, timing = settings["fleet"], settings["timing"]
    # request_finish is profile cr's choice (a device refuses it under 1.0
    # and 1.1, where the server always sends Finish); a matrix may cross
    # profiles with legacy devices, which then ask like the others.
    options: dict[str, Any] = dict(
        profile=fleet["profile"],
        request_finish=fleet["request_finish"] or fleet["profile"] != "cr",
    )
    for key in ("idle_timeout", "finish_timeout"):
        if key in timing:
            options[key] = float(timing[key])
    options["timing"] = _coap_timing(settings)
    if uri.startswith("coaps://"):
        options["psk"] = Psk("{endpoint}", bytes.fromhex(fleet["psk_key"]))
    return options


def _link(settings: dict[str, Any]) -> dict[str, Any]:
    link = dict(settings["link"])
    if "burst" in link:
        link["burst"] = Burst(**link["burst"])
    if link.get("reorder") and not link.get("reorder_delay"):
        link["reorder_delay"] = max(float(link.get("delay", 0.0)), 0.05)
    for key in ("partitions", "sleeps"):
        if key in link:
            link[key] = [tuple(w) for w in link[key]]
    return link


def _arm_power_cuts(settings: dict[str, Any], seed: int, uri: str, fleet: list[Any], options: dict[str, Any]) -> None:
    """As `run --power-cut P`: a seeded fraction of the devices loses power
    at a random flash operation of its bootstrap commit."""
    f = settings["fleet"]
    args = argparse.Namespace(clock=settings["clock"], bootstrap_uri=settings["server"].get("bootstrap_uri"),
                              security=f["security"], profile=f["profile"], psk_key=f["psk_key"],
                              psk_identity="{endpoint}", timeout=settings.get("timeout"),
                              egress_prefix=DEFAULT_PREFIX)
    boot_ops, commit_ops = flash_ops_of_bootstrap(args, **options)
    rng = random.Random(seed)
    for device in fleet:
        if rng.random() < settings["power"]["cut"]:
            device.arm_power_cut(boot_ops + rng.randrange(commit_ops), rng.choice([None, rng.randrange(64)]))


# How often a run looks at the server's log and the fleet's progress: often
# enough to see every bootstrap session (each lasts at least a round trip
# and the device's idle or finish timer), rarely enough to cost little.
SLICE_S = 1.0


def _registered_within(emu: Emulator, handles: list[Any], seconds: float) -> bool:
    """One slice: True once every device is registered. The runtime's own
    call, not Fleet.run_until, which explains a timeout with the timeline
    of a device behind: a slice ending early is no failure here."""
    rt = emu._runtime
    if emu.clock == "virtual":
        return bool(rt.run_until_devices(handles, ["registered"], [], rt.now_ms() + int(round(seconds * 1000))))
    return bool(rt.wait_devices(handles, ["registered"], [], seconds))


def wait_registered(emu: Emulator, fleet: Fleet, timeout: float, on_slice: Callable[[], None]) -> None:
    """Run (virtual clock) or wait (real clock) until every device is
    registered or ``timeout`` seconds passed, calling ``on_slice`` after
    every slice of it; the device records then say who did not make it."""
    handles = [d._handle for d in fleet]  # the runtime's own call takes them unwrapped
    waited = 0.0
    while waited < timeout:
        step = min(SLICE_S, timeout - waited)
        done = _registered_within(emu, handles, step)
        waited += step
        on_slice()
        if done:
            return


def _chosen(settings: dict[str, Any], records: list[dict[str, Any]]) -> list[str]:
    """Devices whose messages the report draws: the named ones, and up to
    ``report.sequence_failed`` (3) of those that failed."""
    report = settings.get("report", {})
    named = [str(n) for n in report.get("sequence_devices", [])]
    failed = [r["endpoint"] for r in records if not r["registered"]][: int(report.get("sequence_failed", 3))]
    return list(dict.fromkeys(named + failed))


def shard_range(devices: int, shard: tuple[int, int]) -> range:
    """The devices (by index in the fleet) shard ``(i, n)`` runs."""
    i, n = shard
    return range(devices * i // n, devices * (i + 1) // n)


def _make_devices(emu: Emulator, uri: str, fleet: dict[str, Any], options: dict[str, Any],
                  shard: tuple[int, int]) -> tuple[list[Any], set[str]]:
    """This shard's devices, not started, and the names of the legacy ones:
    the fleet's first ``legacy`` devices (``PREFIX legacy-K``) do not ask
    for Finish, the others are ``PREFIX K``."""
    count, prefix = int(fleet["devices"]), fleet["prefix"]
    legacy = min(int(fleet["legacy"]), count)
    span = shard_range(count, shard)
    legacy_span = range(max(span.start, 0), min(span.stop, legacy))
    finish_span = range(max(span.start, legacy) - legacy, span.stop - legacy) if span.stop > legacy else range(0)
    devices: list[Any] = []
    names: set[str] = set()
    # Only profile cr lets a device skip the finish indication.
    legacy_options = cast(DeviceOptions, options | {"request_finish": options["profile"] != "cr", "start": False})
    for k in legacy_span:
        names.add(f"{prefix}legacy-{k}")
        devices.append(emu.device(f"{prefix}legacy-{k}", uri, **legacy_options))
    for k in finish_span:
        devices.append(emu.device(f"{prefix}{k}", uri, **cast(DeviceOptions, options | {"start": False})))
    return devices, names


def run_one(run_id: str, settings: dict[str, Any], seed: int, shard: tuple[int, int] = (0, 1)) -> dict[str, Any]:
    """Run one fleet, or shard ``(i, n)`` of it (its own emulator and
    servers, the i-th n-th of the devices); returns ``summary``, ``devices``
    (devices.jsonl records), ``sequences`` (message events of chosen
    devices, with the server's log) and ``capture`` (pcapng bytes, or
    None)."""
    f = settings["fleet"]
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lwm2m-hil-run-") as tmp, \
            Emulator(seed=seed, clock=settings["clock"]) as emu:
        timing = _coap_timing(settings)
        uri, bs = _start_servers(emu, settings, timing)
        options = _device_options(settings, uri)
        devices, legacy = _make_devices(emu, uri, f, options, shard)
        link = _link(settings)
        for d in devices:
            if link:
                d.link(**link)
            for rule in settings["rules"]:
                d.add_rule(**rule)
        capture = os.path.join(tmp, "capture.pcapng")
        if settings.get("capture"):
            emu.capture(capture)
        if settings["power"]["cut"] > 0:
            _arm_power_cuts(settings, seed, uri, devices, options)
        started = emu.now()
        for d in devices:
            d.start()
        log = SessionLog() if bs is not None else None

        def on_slice() -> None:
            if log is not None:
                log.snapshot(bs._h.results())

        wait_registered(emu, Fleet(emu, devices), float(settings["timeout"]), on_slice)
        bs_results = bs.results() if bs is not None else {}
        records = [device_record(d, log, legacy=d.endpoint in legacy) for d in devices]
        by_name = {d.endpoint: d for d in devices}
        sequences = {}
        for name in _chosen(settings, records):
            if name in by_name:
                server = bs_results.get(name)
                sequences[name] = {"device": message_events(by_name[name]),
                                   "server": [[round(e.time, 3), e.kind, e.detail]
                                              for e in (server["events"] if server else [])]}
        virtual_s = emu.now() - started
        emu.capture(None)
        emu.close()
        data = Path(capture).read_bytes() if settings.get("capture") and os.path.exists(capture) else None
    summary = tally(records) | {"run_id": run_id, "seed": seed, "wall_s": round(time.monotonic() - start, 3),
                                "virtual_s": round(virtual_s, 3), "clock": settings["clock"]}
    # Where it ran is bookkeeping: it stays out of the summary, which is the
    # same whichever worker runs it.
    worker = f"{socket.gethostname()}:{os.getpid()}"
    return {"run_id": run_id, "shard": shard[0], "summary": summary, "devices": records, "sequences": sequences,
            "capture": data, "worker": worker}
