"""The command line: ``python -m lwm2m_hil run | bootstrap-server | registration-server``."""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import threading
import time
from typing import Any, Callable, Sequence

from . import _core, _run_checks as checks
from . import _egress, _serverlog
from ._bootstrap_control import follow_commands
from ._emulator import Emulator
from ._fleet import Fleet
from ._options import BOOTSTRAP_EXITS, CoapTiming
from ._logging import FORMATS, LEVELS, configure as configure_logging, log
from ._qemu import NotSupportedOnQemu
from ._run_setup import flash_ops_of_bootstrap, flash_ops_of_firmware_commit, run_timeout, start_servers
from ._version import __version__
from .campaign import commands as campaign_commands
from .campaign.progress import FleetProgress
from .campaign.results import device_record, write_jsonl
from .certs import Certificate, TestCA, certificate_files
from .config import Psk
from .decode import tshark_command

# The demo key of `run --security psk`: documented, so that a capture of a
# run decrypts in Wireshark without further ado (-o dtls.psk:THIS).
DEMO_PSK_KEY = "000102030405060708090a0b0c0d0e0f"
X509_HELP = (
    "certificate mode: the server's certificate, its key and the CA that clients' certificates "
    "must chain to (files, DER or PEM)"
)


def _percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(p / 100.0 * len(ordered)))])


def _decode_hints(args: argparse.Namespace) -> dict[str, Any]:
    """What decodes the run's capture beyond the embedded servers' ports:
    the external server's URI, and the run's key over DTLS."""
    return {
        "psk_key": bytes.fromhex(args.psk_key) if args.security == "psk" else None,
        "uris": [args.bootstrap_uri] if args.bootstrap_uri else [],
    }


def summarize(emu: Emulator, wall_s: float, virtual_s: float, args: argparse.Namespace) -> dict[str, Any]:
    """The campaign's outcome as the --json file carries it. ``virtual_s`` is
    the protocol time the run covered, on the emulator's clock."""
    s = emu.summary()
    exits = {name: int(s["exits"].get(name, 0)) for name in BOOTSTRAP_EXITS}
    registered = int(s["states"].get("registered", 0))
    return {
        "devices": int(s["devices"]),
        "exits": exits,
        "registered": registered,
        "failed": int(s["devices"]) - registered,
        "states": {k: int(v) for k, v in s["states"].items()},
        "bootstrap_ms": {"p50": _percentile(s["bootstrap_ms"], 50), "p99": _percentile(s["bootstrap_ms"], 99)},
        "wall_s": round(wall_s, 3),
        "virtual_s": round(virtual_s, 3),
        "clock": args.clock,
        "profile": args.profile,
        "seed": args.seed,
        "finish_requested": not args.no_finish,
        "finish_fallback": args.finish_fallback,
        "radio": {k: s["radio"][k] for k in ("sent", "delivered", "dropped", "send_failed")}
        | {"dropped_by": dict(s["radio"]["dropped_by"]), "duplicated": s["radio"]["duplicated"]},
        "power_cuts": int(s["power_cuts"]),
        "torn_configs": int(s["torn_configs"]),
        "security": args.security,
        "firmware": args.firmware,
        "capture": (
            {"file": args.capture, "decode": emu.decode_options(**_decode_hints(args))} if args.capture else None
        ),
    }


def print_table(summary: dict[str, Any]) -> None:
    exits = ", ".join(f"{k} {v}" for k, v in summary["exits"].items())
    kind = summary["security"]
    if summary.get("firmware"):
        kind += f", firmware {summary['firmware']} under QEMU"
    rows = [
        ("devices", f"{summary['devices']} ({kind})"),
        ("bootstrap exits", exits),
        ("registered", str(summary["registered"])),
        ("failed", str(summary["failed"])),
        ("bootstrap p50/p99", f"{summary['bootstrap_ms']['p50']:.0f} ms / {summary['bootstrap_ms']['p99']:.0f} ms"),
        ("power cuts", f"{summary['power_cuts']} fired, {summary['torn_configs']} torn configurations"),
        ("radio", f"{summary['radio']['sent']} datagrams, {summary['radio']['delivered']} delivered, "
                  f"{summary['radio']['dropped']} dropped, {summary['radio']['send_failed']} failed to send"),
        ("wall time", f"{summary['wall_s']:.2f} s"),
        ("protocol time", f"{summary['virtual_s']:.2f} s on the {summary['clock']} clock"),
    ]
    if summary.get("interrupted"):
        rows.append(("interrupted", f"by {summary['interrupted']}: a partial summary"))
    if summary.get("capture"):
        rows.append(("capture", tshark_command(summary["capture"]["file"], summary["capture"]["decode"])))
    for name, value in rows:
        print(f"{name:<18} {value}")


def link_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The radio link every device gets, from --loss/--delay/..."""
    link: dict[str, Any] = {}
    if args.loss:
        link["loss"] = args.loss
    if args.delay:
        delay, _, jitter = args.delay.partition(":")
        try:
            link["delay"] = float(delay) / 1000.0
            link["jitter"] = float(jitter or 0) / 1000.0
        except ValueError:
            raise ValueError(f"--delay: expected MS or MS:JITTER_MS, got {args.delay!r}") from None
    if args.duplicate:
        link["duplicate"] = args.duplicate
    if args.reorder:
        link["reorder"] = args.reorder
        link["reorder_delay"] = max(link.get("delay", 0.0), 0.05)
    return link


def cmd_run(args: argparse.Namespace) -> int:
    checks.check_run_args(args)
    timing = CoapTiming(ack_timeout=args.ack_timeout)
    key = bytes.fromhex(args.psk_key)  # checked by argparse (checks.hex_key)
    timeout = run_timeout(args)
    warning = checks.timeout_warning(args, timeout)
    if warning:
        log.warning(warning)
    if args.firmware:
        # The image speaks NoSec only (firmware-images/README.md).
        if args.security in ("psk", "x509"):
            raise NotSupportedOnQemu(f"--security {args.security}: a firmware image speaks NoSec only (coap://); "
                                     "--firmware implies --security nosec")
        args.security = "nosec"
    elif args.security is None:
        args.security = "psk"
    if args.security == "x509" and args.bootstrap_uri:
        raise ValueError("--security x509: certificates are made for the embedded servers; "
                         "drop --bootstrap-uri (an external coaps:// server means --security psk)")
    interrupted: checks.Interrupted | None = None
    with checks.interruptible(), Emulator(
        seed=args.seed,
        threads=args.threads,
        clock=args.clock,
        server_contexts=args.server_contexts,
        in_process=not args.through_kernel,
        egress_prefix=args.egress_prefix,
    ) as emu:
        # The campaign resets these when its fleet starts (after the servers and the probe).
        marks = {"start": time.monotonic(), "started": emu.now()}
        fleets: list[Fleet] = []
        try:
            _campaign(emu, args, timing, key, timeout, marks, fleets)
        except checks.Interrupted as e:
            interrupted = e
            log.warning(f"{e.name}: stopping the campaign; the summary is partial")
        summary = summarize(emu, time.monotonic() - marks["start"], emu.now() - marks["started"], args)
        if interrupted is not None:
            summary["interrupted"] = interrupted.name
        if args.devices_out and fleets:
            write_jsonl(args.devices_out, (device_record(d, legacy=args.no_finish) for d in fleets[0]))
        # Before the emulator closes: closing a large fleet takes a while.
        print_table(summary)
        if args.json:
            with open(args.json, "w") as f:
                # What rebuilds the run; where its files went does not.
                settings = {k: v for k, v in vars(args).items() if k not in ("func", "json", "devices_out", "capture")}
                json.dump(summary | {"version": __version__, "settings": settings}, f, indent=2)
                f.write("\n")
    if interrupted is not None:
        return interrupted.exit_code
    return 0 if summary["failed"] == 0 else 1


def _campaign(
    emu: Emulator,
    args: argparse.Namespace,
    timing: CoapTiming,
    key: bytes,
    timeout: float,
    marks: dict[str, float],
    fleets: list[Fleet],
) -> None:
    """Start the servers and the fleet (with its faults) and wait for it;
    ``marks`` gets the wall and emulator time the fleet started at, and
    ``fleets`` the fleet."""
    # Certificate mode: a test CA of the run's own signs every certificate.
    issuer = TestCA().issuer() if args.security == "x509" else None
    if args.bootstrap_uri:
        # An external server's scheme decides: coaps:// is DTLS-PSK.
        bootstrap_uri = args.bootstrap_uri
        args.security = "psk" if bootstrap_uri.startswith("coaps://") else "nosec"
        emu.open_egress(bootstrap_uri, name="--bootstrap-uri")  # off this host: fail fast
    else:
        bootstrap_uri = start_servers(emu, args, timing, issuer)
    options: dict[str, Any] = dict(
        profile=args.profile,
        request_finish=not args.no_finish,
        finish_fallback=args.finish_fallback,
        timing=timing,
    )
    # Left out, they keep the client's defaults (one place: the C++ ClientConfig).
    for timer in ("idle_timeout", "finish_timeout"):
        if getattr(args, timer) is not None:
            options[timer] = getattr(args, timer)
    if args.security == "psk":
        options["psk"] = Psk(args.psk_identity, key)
    if issuer is not None:
        options["x509"] = issuer
    if args.firmware:
        options["firmware"] = args.firmware
    cuts: tuple[int, int] | None = None
    if args.power_cut > 0 and args.firmware:
        # The image counts flash operations from its boot, where the cut is armed.
        cuts = flash_ops_of_firmware_commit(args, **options)
    elif args.power_cut > 0:
        cuts = flash_ops_of_bootstrap(args, **options)
    marks.update(start=time.monotonic(), started=emu.now())
    fleet = emu.fleet(args.devices, bootstrap_uri, prefix=args.prefix, start=False, **options)
    fleets.append(fleet)
    link = link_settings(args)
    if link:
        fleet.link(**link)
    if args.capture:
        emu.capture(args.capture, **_decode_hints(args))
    if cuts:
        boot_ops, commit_ops = cuts
        log.debug(f"--power-cut: a boot takes {boot_ops} flash operations, the bootstrap commit {commit_ops}")
        rng = random.Random(args.seed)
        for device in fleet:
            if rng.random() < args.power_cut:
                byte = rng.choice([None, rng.randrange(64)])
                device.arm_power_cut(boot_ops + rng.randrange(commit_ops), byte)
    fleet.start()
    log.info(f"{args.devices} devices started; waiting up to {timeout:g} s ({args.clock} clock) for them to register")
    progress = FleetProgress(emu, len(fleet))  # on a terminal only
    try:
        if emu.clock == "virtual":
            fleet.run_until("registered", timeout=timeout)
        else:
            fleet.wait_for("registered", timeout=timeout)
    except TimeoutError as e:
        log.warning(f"not every device registered: {e}")
    finally:
        progress.stop()


def _serve_until_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.2):
        pass


def _emit(lines: Sequence[str]) -> None:
    for line in lines:
        print(line, flush=True)


def _follow(poll: Callable[[], list[str]]) -> tuple[threading.Thread, threading.Event]:
    """Polls a server for new entries and prints them as they happen, until
    the returned event is set (before the emulator closes)."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(0.1):
            _emit(poll())

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    return t, stop


def _serve(uris: Sequence[str], poll: Callable[[], list[str]]) -> None:
    """Announces the server's URIs, prints what ``poll`` returns as it
    happens, and stops at SIGINT or SIGTERM, printing what is left."""
    _emit([f"listening on {uri}" for uri in uris])
    follower, stop = _follow(poll)
    try:
        _serve_until_signal()
    finally:
        stop.set()
        follower.join()
        _emit(poll())


def cmd_bootstrap_server(args: argparse.Namespace) -> int:
    with Emulator(seed=_serverlog.os_seed() if args.seed is None else args.seed) as emu:
        bs = emu.bootstrap_server(args.config, profile=args.profile, listen=args.listen, x509=_x509_arg(args.x509),
                                  result_ttl=args.result_ttl)

        def new_lines() -> list[str]:
            # Only what ended since the last call: every session, once.
            return _serverlog.bootstrap_lines(*bs.take_log())

        follow_commands(bs, sys.stdin, _emit)  # "start ENDPOINT": server-initiated bootstrap
        _serve([bs.uri, bs.secure_uri], new_lines)
    return 0


def _x509_arg(value: str | None) -> Certificate | None:
    """``--x509 CERT,KEY,CA``: the server's certificate, its key and the CA
    its clients' certificates must chain to (files, DER or PEM)."""
    if value is None:
        return None
    paths = value.split(",")
    if len(paths) != 3 or not all(paths):
        raise ValueError(f"--x509: expected CERT,KEY,CA (three files, DER or PEM), got {value!r}")
    try:
        return certificate_files(*paths)
    except (OSError, TypeError) as e:
        raise ValueError(f"--x509: {e}") from None


def cmd_registration_server(args: argparse.Namespace) -> int:
    def psk_arg(value: str) -> Psk:
        """``IDENTITY:HEXKEY[@GLOB]``; the glob (default ``*``) names the
        endpoints that must come over DTLS with it."""
        identity, _, rest = value.rpartition(":")
        hexkey, _, match = rest.partition("@")
        try:
            key = bytes.fromhex(hexkey)
        except ValueError:
            key = b""
        if not identity or not key:
            raise ValueError(f"--psk: expected IDENTITY:HEXKEY[@GLOB] (e.g. dm:000102...0f@dev-*), got {value!r}")
        return Psk(identity, key, match=match or "*")

    psk = [psk_arg(v) for v in args.psk]
    with Emulator(seed=_serverlog.os_seed() if args.seed is None else args.seed) as emu:
        rs = emu.registration_server(
            listen=args.listen,
            psk=psk,
            max_lifetime=args.max_lifetime,
            max_registrations=args.max_registrations,
            x509=_x509_arg(args.x509),
        )
        printed = 0

        def new_events() -> list[str]:
            nonlocal printed
            printed, events = rs.events_since(printed)
            return [_serverlog.registration_line(e) for e in events]

        _serve([rs.uri, rs.secure_uri], new_events)
    return 0


def add_logging_flags(p: argparse.ArgumentParser, default: bool) -> None:
    """--log-level and --log-format; a subcommand's copy (``default`` off)
    overrides the top-level one only when given."""
    level: Any = "info" if default else argparse.SUPPRESS
    fmt: Any = "text" if default else argparse.SUPPRESS
    p.add_argument("--log-level", choices=LEVELS, default=level, help="diagnostics on stderr from this level up")
    p.add_argument("--log-format", choices=FORMATS, default=fmt, help="diagnostics as text or JSON lines")


def _server_contexts(text: str) -> int:
    """argparse type of --server-contexts: what the runtime accepts."""
    value = checks.positive_int(text)
    if value > 1024:
        raise argparse.ArgumentTypeError(f"must be 1..1024, got {text}")
    return value


def _egress_prefix(text: str) -> str:
    """--egress-prefix: an IPv4 prefix /8../16 (the error says what to change)."""
    try:
        _egress.check_prefix(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("egress_prefix: ")) from None
    return text


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lwm2m-hil", description="LwM2M bootstrap emulator")
    p.add_argument("--version", action="version", version=f"lwm2m-hil {__version__}")
    add_logging_flags(p, default=True)
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="bootstrap and register a fleet, print a summary")
    run.add_argument("--devices", type=checks.positive_int, default=1000)
    run.add_argument("--profile", choices=["cr", "1.0", "1.1"], default="cr")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--no-finish", action="store_true", help="devices do not ask for Finish (profile cr)")
    run.add_argument("--finish-fallback", action="store_true",
                     help="a Request Bootstrap with Finish=true refused 4.00/4.02 (a server that does not "
                          "know the query) is sent once more without it; the idle timer ends bootstrap")
    run.add_argument("--bootstrap-uri", help="an external bootstrap server; the embedded ones are not started")
    run.add_argument("--egress-prefix", type=_egress_prefix, default=_egress.DEFAULT_PREFIX, metavar="A.B.C.D/N",
                     help="devices send to servers on other hosts from their own address in this "
                          "prefix, masqueraded to the host's (needs root; emulator/radio/README.md)")
    run.add_argument("--json", help="write the summary to this file")
    run.add_argument("--clock", choices=["real", "virtual"], default="real",
                     help="real time, or the virtual clock: one thread, seed-reproducible, no waiting")
    run.add_argument("--timeout", type=checks.positive_seconds, default=None,
                     help="seconds to wait for registration: 120 on the real clock; on the virtual "
                          "clock 3600 virtual seconds, which cost little wall time")
    run.add_argument("--ack-timeout", type=checks.positive_seconds, default=2.0, help="CoAP ACK_TIMEOUT, seconds")
    run.add_argument("--idle-timeout", type=checks.seconds, help="legacy idle timer, seconds (default: the client's)")
    run.add_argument("--finish-timeout", type=checks.seconds,
                     help="seconds after the last command (default: the client's, EXCHANGE_LIFETIME)")
    run.add_argument("--threads", type=int, default=2)
    run.add_argument("--server-contexts", type=_server_contexts, default=None, metavar="N",
                     help="libcoap contexts behind each embedded server's port (1..1024); "
                          "default 64 on the real clock, 128 on the virtual one")
    run.add_argument("--through-kernel", action="store_true",
                     help="send every datagram between devices and the embedded servers through the kernel "
                          "(tshark on lo sees them), not in memory")
    run.add_argument("--loss", type=checks.probability, default=0.0, metavar="P", help="radio loss, both directions")
    run.add_argument("--delay", metavar="MS[:JITTER_MS]", help="radio delay, one way")
    run.add_argument("--duplicate", type=checks.probability, default=0.0, metavar="P")
    run.add_argument("--reorder", type=checks.probability, default=0.0, metavar="P")
    run.add_argument("--capture", metavar="FILE", help="write every datagram to a pcapng file")
    run.add_argument("--devices-out", metavar="FILE", help="write one JSON line per device (devices.jsonl)")
    run.add_argument("--power-cut", type=checks.probability, default=0.0, metavar="P",
                     help="cut power on a fraction P of the devices at a random flash operation of their commit")
    run.add_argument("--prefix", default="dev-", help="endpoint names are PREFIX + index")
    run.add_argument("--security", choices=["psk", "x509", "nosec"], default=None,
                     help="DTLS with a pre-shared key (as devices in the field; the default), DTLS with "
                          "certificates of a test CA made for the run (x509), or NoSec; --firmware implies nosec")
    run.add_argument("--firmware", metavar="IMAGE",
                     help="the devices run this firmware image under QEMU (qemu-system-arm) instead of "
                          "the native client; NoSec only (firmware-images/README.md)")
    run.add_argument("--psk-identity", default="{endpoint}", help="{endpoint} is each device's name")
    run.add_argument("--psk-key", type=checks.hex_key, default=DEMO_PSK_KEY, metavar="HEX",
                     help="the devices' bootstrap key (and the fleet's DM key); default: a demo key")
    add_logging_flags(run, default=False)  # scripts/run puts every flag after "run"
    run.set_defaults(func=cmd_run)

    bs = sub.add_parser("bootstrap-server", help="run the bootstrap server on its own; reads commands on stdin "
                        "(start ENDPOINT: server-initiated bootstrap)")
    bs.add_argument("--config", required=True, help="JSON configuration (emulator/server/README.md)")
    bs.add_argument("--listen", default="127.0.0.1:5783")
    bs.add_argument("--x509", metavar="CERT,KEY,CA", help=X509_HELP)
    bs.add_argument("--profile", choices=["cr", "1.0", "1.1"], default=None,
                    help="for entries without one; default: each client's own dialect (Finish=true: cr, "
                         "else 1.x with Finish); only an explicit cr leaves clients without Finish")
    bs.add_argument("--seed", type=int, default=None,
                    help="seed CoAP tokens and message ids (reproducible runs); default: from the OS")
    bs.add_argument("--result-ttl", type=checks.positive_int, default=86400, metavar="S",
                    help="forget an endpoint's result this long after its session ended")
    bs.set_defaults(func=cmd_bootstrap_server)

    rs = sub.add_parser("registration-server", help="run the registration server on its own")
    rs.add_argument("--listen", default="127.0.0.1:5784")
    rs.add_argument("--x509", metavar="CERT,KEY,CA", help=X509_HELP)
    rs.add_argument("--seed", type=int, default=None,
                    help="seed CoAP tokens and message ids (reproducible runs); default: from the OS")
    rs.add_argument("--psk", action="append", default=[], metavar="IDENTITY:HEXKEY[@GLOB]",
                    help="a pre-shared key for DTLS on the coaps:// port (repeatable); endpoints the glob "
                         "matches (default: all) must register over DTLS with this identity, "
                         "{endpoint} in it is each device's name")
    rs.add_argument("--max-lifetime", type=int, default=86400, metavar="S",
                    help="longer registration lifetimes are cut to this")
    rs.add_argument("--max-registrations", type=int, default=100000, metavar="N",
                    help="a Register of a new endpoint beyond this is answered 5.03")
    rs.set_defaults(func=cmd_registration_server)
    campaign_commands.add(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    configure_logging(args.log_level, args.log_format)
    try:
        return int(args.func(args))
    except (ValueError, OSError, _core.Error) as e:  # _core.Error: the emulator's, and NotSupportedOnQemu
        log.error(str(e))
        return 2
