"""What ``lwm2m-hil run`` sets up before its fleet starts, and what a
campaign's power cuts share with it: the run's timeout, its embedded
servers, and the flash operations of a bootstrap, measured on probe devices
(``--power-cut``)."""

from __future__ import annotations

import argparse
from typing import Any

from ._emulator import Emulator
from ._errors import DeviceTimeout
from ._options import CoapTiming
from .certs import Issuer, sign
from .config import Psk, bootstrap_config


def run_timeout(args: argparse.Namespace) -> float:
    """--timeout, or its default: 120 s real, 3600 s virtual."""
    if args.timeout is not None:
        return float(args.timeout)
    return 3600.0 if args.clock == "virtual" else 120.0


def start_servers(emu: Emulator, args: argparse.Namespace, timing: CoapTiming, issuer: Issuer | None = None) -> str:
    """The embedded servers for `run`; returns the URI devices bootstrap from.
    With PSK, the bootstrap server knows each device by its identity (its
    endpoint name) and hands out a coaps:// account for the registration
    server, with one DM identity for the fleet. With certificates (`issuer`,
    the run's test CA), each device has its own, and bootstrap hands it
    another for the registration server."""
    if args.security == "x509" and issuer is not None:
        return _start_x509_servers(emu, args, timing, issuer)
    if args.security == "nosec":
        rs = emu.registration_server(timing=timing)
        return emu.bootstrap_server(bootstrap_config(rs.uri), profile=args.profile, timing=timing).uri
    key = bytes.fromhex(args.psk_key)
    dm = Psk("lwm2m-hil-dm", key)
    rs = emu.registration_server(timing=timing, psk=[dm])
    config = bootstrap_config(rs.secure_uri, psk=Psk(args.psk_identity, key), server_psk=dm)
    return emu.bootstrap_server(config, profile=args.profile, timing=timing).secure_uri


def _start_x509_servers(emu: Emulator, args: argparse.Namespace, timing: CoapTiming, issuer: Issuer) -> str:
    """Certificate mode: both servers have certificates of the run's CA and
    trust it; each endpoint of the run gets a registration certificate."""
    rs = emu.registration_server(timing=timing, x509=sign(issuer, "lwm2m-hil-dm"))
    names = [args.prefix + str(i) for i in range(args.devices)] if args.devices > 1 or args.prefix else ["dev"]
    config = bootstrap_config(
        rs.secure_uri, x509=True, server_x509=issuer, endpoints=[*names, "probe-boot", "probe-commit"]
    )
    bs = emu.bootstrap_server(config, profile=args.profile, timing=timing, x509=sign(issuer, "lwm2m-hil-bs"))
    return bs.secure_uri


def _flash_ops(device: Any) -> int:
    c = device.flash_counters()
    return int(c["programs"] + c["erases"])


def _probe_bootstrap_uri(
    probe: Emulator, args: argparse.Namespace, timing: CoapTiming, issuer: Issuer | None = None
) -> str:
    """Where a probe device bootstraps: embedded servers of the probe's own
    emulator, configured as for the run (so that its commit writes what the
    run's devices will), or the external server the run uses."""
    return args.bootstrap_uri or start_servers(probe, args, timing, issuer)


def _wait_registered(probe: Emulator, device: Any, uri: str, args: argparse.Namespace) -> None:
    """The probe device registers within the run's --timeout, or ValueError
    says so, and whether the bootstrap server answered at all."""
    timeout = run_timeout(args)
    try:
        if probe.clock == "virtual":
            device.run_until("registered", timeout=timeout)
        else:
            device.wait_for("registered", timeout=timeout)
    except DeviceTimeout:
        heard = any(e.kind in ("rx", "dtls_connected") for e in device.timeline())
        why = "it answered, but the device did not register" if heard else "the server never answered"
        raise ValueError(
            f"--power-cut: the probe device that measures the bootstrap commit did not register within "
            f"--timeout {timeout:g} s from {uri}: {why}"
        ) from None


def flash_ops_of_bootstrap(args: argparse.Namespace, **device_options: Any) -> tuple[int, int]:
    """Flash operations of a first boot, and of the bootstrap commit that
    follows, measured on probe devices of an emulator of their own, on the
    run's clock (so they show in no summary and never meet the run's
    servers): one that only boots, one that bootstraps."""
    with Emulator(seed=0, clock=args.clock, egress_prefix=args.egress_prefix) as probe:
        uri = _probe_bootstrap_uri(probe, args, device_options["timing"], device_options.get("x509"))
        secure = "psk" in device_options or "x509" in device_options
        nowhere = "coaps://127.0.0.1:9" if secure else "coap://127.0.0.1:9"
        booted = probe.device("probe-boot", nowhere, **device_options)
        full = probe.device("probe-commit", uri, **device_options)
        _wait_registered(probe, full, uri, args)
        return _flash_ops(booted), max(1, _flash_ops(full) - _flash_ops(booted))


def flash_ops_of_firmware_commit(args: argparse.Namespace, **device_options: Any) -> tuple[int, int]:
    """The flash operations (counted from the image's boot) that the
    bootstrap commit of a firmware image takes, from the "flash_commit"
    event ("ops A..B") of a probe device in an emulator of its own."""
    with Emulator(seed=0, egress_prefix=args.egress_prefix) as probe:
        uri = _probe_bootstrap_uri(probe, args, device_options["timing"])
        dev = probe.device("probe-commit", uri, **device_options)
        _wait_registered(probe, dev, uri, args)
        span = next(e.detail for e in dev.timeline() if e.kind == "flash_commit")
        first, end = (int(v) for v in span.split()[1].split(".."))
        return first, max(1, end - first)
