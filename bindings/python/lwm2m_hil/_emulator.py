"""The emulator: its event loops and clock, and the servers and devices
it starts."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from typing import Any, Callable, Sequence, Unpack

from . import _core, _egress, _qemu
from ._device import Device
from ._errors import ClockError, DeviceTimeout
from ._fleet import Fleet
from ._lifetime import Guarded, Lifetime
from ._options import (
    BOOTSTRAP_EXITS,
    CLOCKS,
    STATES,
    BootstrapExit,
    Clock,
    CoapTiming,
    DeviceOptions,
    Profile,
    State,
    as_list,
    check_device_uri,
    check_endpoint,
    check_names,
    check_timing,
    native_spec,
    server_certificate,
)
from ._servers import BootstrapServer, RegistrationServer, config_text
from .certs import Certificate
from .config import Psk
from .decode import capture_comment, decode_options

# Long waits run in slices this long (s): between slices, Python handles
# signals (Ctrl-C) and close() from another thread gets its turn.
_WAIT_SLICE_S = 0.25


class Emulator:
    """Owns the event loops, servers and devices. Use it as a context
    manager: leaving the ``with`` block stops everything it started.

    ``clock="real"`` (the default) runs in real time on ``threads`` event
    loops, for external servers and firmware. ``clock="virtual"`` runs on a
    simulated clock: nothing happens until :meth:`run_for` or
    :meth:`run_until` (or a device's or fleet's ``run_until``) runs the
    emulator on the calling thread (``threads`` is ignored), in a fixed
    order, jumping from one deadline to the next. The same seed and the same
    calls give the same timelines and the same captures, in any process
    (servers on port 0 get ports drawn from the seed); a 247 s finish
    timeout passes in milliseconds::

        with Emulator(seed=7, clock="virtual") as emu:
            rs = emu.registration_server()
            bs = emu.bootstrap_server(bootstrap_config(rs.uri))
            dev = emu.device("dev-1", bs.uri)
            dev.run_until("registered", timeout=60)
            assert dev.bootstrap_exit == "finish"
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        clock: Clock = "real",
        threads: int = 2,
        devices_per_context: int = 100,
        radio: bool = True,
        device_handshakes: int = 64,
        server_handshakes: int = 256,
        server_contexts: int | None = None,
        in_process: bool = True,
        egress_prefix: str = _egress.DEFAULT_PREFIX,
    ) -> None:
        """``device_handshakes``: DTLS handshakes the devices of one loop
        thread run at once (the rest wait their turn); ``server_handshakes``:
        handshakes each server context accepts at once; ``server_contexts``:
        libcoap contexts behind each embedded server's port (1..1024; each
        searches only its clients' sessions per datagram, and holds 4
        descriptors); None: 64 on the real clock, 128 on the virtual one
        (where a fleet that starts at one instant has thousands of CONs in
        flight at once).

        ``in_process``: the radio hands a datagram to an embedded server in
        memory (to another loop thread, in one batch per turn of its loop),
        and the server answers the same way: no system call, no kernel hop. The
        servers' sockets still serve every other peer, and captures
        (:meth:`capture`) still show every datagram. False sends them all
        through the kernel, where tshark on ``lo`` sees them too.

        ``egress_prefix``: the addresses devices send from to servers on
        other hosts (see :meth:`open_egress`)."""
        if seed < 0:
            raise ValueError("seed: must be >= 0")
        if clock not in CLOCKS:
            raise ValueError(f"clock: {clock!r} is not one of {', '.join(CLOCKS)}")
        _egress.check_prefix(egress_prefix)
        if not isinstance(in_process, bool):
            raise TypeError(f"in_process: must be True or False, got {in_process!r}")
        if server_contexts is not None and not 1 <= server_contexts <= 1024:
            raise ValueError(f"server_contexts: must be 1..1024 or None (the clock's default), got {server_contexts}")
        self._rt: _core.Runtime | None = _core.Runtime(
            seed,
            threads,
            devices_per_context,
            radio,
            clock == "virtual",
            device_handshakes,
            server_handshakes,
            server_contexts or 0,
            in_process,
        )
        self._life = Lifetime()
        self._egress_prefix = egress_prefix
        self._endpoints: set[str] = set()  # names are unique within an emulator
        self._devices = 0
        self._server_uris: list[str] = []  # of the servers started here, for decode_options()
        self._qemu_dir: str | None = None  # working directories of QEMU devices, made on demand

    @property
    def seed(self) -> int:
        return self._runtime.seed

    @property
    def clock(self) -> Clock:
        """``"real"`` or ``"virtual"``."""
        return "virtual" if self._runtime.is_virtual else "real"

    def now(self) -> float:
        """Seconds since the emulator started, on its clock."""
        return self._runtime.now_ms() / 1000.0

    def run_for(self, seconds: float) -> None:
        """Virtual clock: run everything due in the next ``seconds`` virtual
        seconds; the clock then reads ``now() + seconds``."""
        self._run(None, seconds, "run_for")

    def run_until(self, condition: Callable[[], object], timeout: float) -> bool:
        """Virtual clock: run until ``condition()`` is true (checked once
        every instant has settled; it runs on this thread, so keep it cheap:
        for device states :meth:`Fleet.run_until` checks in C++), at most
        ``timeout`` virtual seconds. True if it held; False if the time ran
        out, the clock then at ``now() + timeout``."""
        if not callable(condition):
            raise TypeError(f"condition: expected a callable, got {type(condition).__name__}")
        return self._run(condition, timeout, "run_until")

    def _run(self, condition: Callable[[], object] | None, seconds: float, what: str) -> bool:
        if not self._runtime.is_virtual:
            raise ClockError(
                f"{what}: this emulator runs in real time; create it with Emulator(clock='virtual'), "
                "or wait in real time with wait_for"
            )
        if not seconds >= 0:
            raise ValueError(f"{what}: seconds must be >= 0, got {seconds}")
        until_ms = self._runtime.now_ms() + int(round(seconds * 1000))
        return bool(self._runtime.run_until(condition, until_ms))

    @property
    def _runtime(self) -> _core.Runtime:
        if self._rt is None:
            raise RuntimeError("this Emulator is closed; create a new one")
        return Guarded(self._rt, self._life)  # type: ignore[return-value]

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every loop and close every socket (and kill QEMU devices),
        now, whatever still refers to the runtime. Idempotent. Calls running
        on other threads finish first; calls after it raise RuntimeError."""
        self._life.close()
        if self._rt is not None:
            self._rt.close()
        self._rt = None
        if self._qemu_dir is not None:
            shutil.rmtree(self._qemu_dir, ignore_errors=True)
            self._qemu_dir = None

    def _qemu_root(self) -> str:
        if self._qemu_dir is None:
            self._qemu_dir = tempfile.mkdtemp(prefix="lwm2m-hil-qemu-")
        return self._qemu_dir

    def bootstrap_server(
        self,
        config: dict[str, Any] | str | os.PathLike[str],
        *,
        profile: Profile | None = None,
        listen: str = "127.0.0.1:0",
        secure_listen: str = "",
        timing: CoapTiming = CoapTiming(),
        max_results: int = 100_000,
        max_endpoint_events: int = 256,
        max_events: int = 10_000,
        result_ttl: int = 86400,
        x509: Certificate | None = None,
    ) -> BootstrapServer:
        """Start a bootstrap server. ``config`` is a dict, a JSON string, or a
        path to a JSON file (format: emulator/server/README.md). ValueError
        names the offending field. It listens on ``listen`` (``uri``) and,
        for DTLS, on ``secure_listen`` (``secure_uri``; default: the same
        host, a free port). ``profile`` ('cr', '1.0', '1.1') is the default
        of entries without one; None serves each client in its own dialect
        (``Finish=true``: cr, else 1.x with Finish), so only an explicit
        'cr' leaves a client without Finish. Caps, oldest first out
        (emulator/server/README.md, "Limits"): ``max_results`` endpoints
        whose session ended, ``max_endpoint_events`` events per endpoint,
        ``max_events`` in :meth:`BootstrapServer.events`; a result goes
        ``result_ttl`` seconds after its session ended. ``x509``
        (:meth:`TestCA.server <lwm2m_hil.certs.TestCA.server>`): the
        server's certificate for entries in certificate mode; their devices'
        certificates must chain to its ``trust``."""
        check_timing(timing)
        h = self._runtime.add_bootstrap_server(
            config_text(config),
            "auto" if profile is None else profile,
            listen,
            secure_listen,
            timing.ack_timeout,
            timing.ack_random_factor,
            timing.max_retransmit,
            max_results=max_results,
            max_endpoint_events=max_endpoint_events,
            max_events=max_events,
            result_ttl=result_ttl,
            x509=server_certificate(x509),
        )
        server = BootstrapServer(self, h)
        self._server_uris += [server.uri, server.secure_uri]
        return server

    def registration_server(
        self,
        *,
        listen: str = "127.0.0.1:0",
        secure_listen: str = "",
        timing: CoapTiming = CoapTiming(),
        psk: Sequence[Psk] = (),
        max_lifetime: int = 86400,
        max_registrations: int = 100_000,
        max_events: int = 10_000,
        x509: Certificate | None = None,
    ) -> RegistrationServer:
        """Start a registration server. Endpoints that an entry of ``psk``
        matches must register over DTLS (``secure_uri``) with an identity
        that entry allows; the others over NoSec (``uri``). A longer
        lifetime than ``max_lifetime`` seconds is cut to it; a Register of a
        new endpoint beyond ``max_registrations`` is answered 5.03;
        :meth:`RegistrationServer.events` keeps the latest ``max_events``.
        ``x509``: the server's certificate; a device may then also register
        over DTLS with a certificate that chains to its ``trust``, as the
        endpoint the certificate names."""
        check_timing(timing)
        for p in psk:
            if not isinstance(p, Psk):
                raise TypeError(f"psk: expected Psk entries, got {type(p).__name__}")
        h = self._runtime.add_registration_server(
            listen,
            secure_listen,
            timing.ack_timeout,
            timing.ack_random_factor,
            timing.max_retransmit,
            [(p.match, p.identity, p.key) for p in psk],
            max_lifetime=max_lifetime,
            max_registrations=max_registrations,
            max_events=max_events,
            x509=server_certificate(x509),
        )
        server = RegistrationServer(self, h)
        self._server_uris += [server.uri, server.secure_uri]
        return server

    def device(self, endpoint: str, bootstrap_uri: str, **options: Unpack[DeviceOptions]) -> Device:
        """Create and start one device (options: :class:`DeviceOptions`).
        ``endpoint``: 1..252 bytes, unique within the emulator. With
        ``firmware``, a :class:`QemuDevice` that runs the image under QEMU."""
        names = self._new_endpoints("endpoint", [check_endpoint("endpoint", endpoint)])
        self._egress_for(bootstrap_uri, options)
        made = self._make(1, bootstrap_uri, "", endpoint, options)[0]
        self._endpoints.update(names)
        return made

    def fleet(
        self, count: int, bootstrap_uri: str, *, prefix: str = "dev-", **options: Unpack[DeviceOptions]
    ) -> Fleet:
        """Create and start ``count`` devices named ``prefix`` + index
        (options: :class:`DeviceOptions`, the same for every device)."""
        if count < 1:
            raise ValueError("count: must be >= 1")
        if not isinstance(prefix, str):
            raise TypeError(f"prefix: expected a string, got {type(prefix).__name__}")
        if not prefix:
            raise ValueError("prefix: must not be empty (device() makes one device with a name of its own)")
        check_endpoint("prefix", prefix + str(count - 1))
        names = self._new_endpoints("prefix", [prefix + str(i) for i in range(count)])
        self._egress_for(bootstrap_uri, options)
        made = Fleet(self, self._make(count, bootstrap_uri, prefix, "", options))
        self._endpoints.update(names)
        return made

    def warm_qemu(
        self,
        firmware: str | os.PathLike[str],
        count: int,
        *,
        qemu: str = "qemu-system-arm",
        machine: str = "mps2-an385",
        timeout: float = 30.0,
    ) -> int:
        """Pre-start ``count`` QEMU processes for ``firmware``, paused before
        its first instruction, for QEMU devices to take when they boot:
        a fleet then boots without paying QEMU's start (about 75 ms of CPU
        each). Waits up to ``timeout`` s (0: not at all) until they have
        loaded the image and returns how many did; :class:`OSError` with
        QEMU's own words if one exited instead. Each boot of a QEMU device
        with the same image, ``qemu`` and ``machine`` takes one while any is
        left; ``close()`` kills the rest (emulator/qemu/README.md,
        "Pre-started QEMU")."""
        return _qemu.warm(self, firmware, count, qemu=qemu, machine=machine, timeout=timeout)

    @property
    def qemu_pooled(self) -> int:
        """Pre-started QEMU processes (:meth:`warm_qemu`) no device has taken yet."""
        return int(self._runtime.qemu_pool_idle)

    def open_egress(self, uri: str | None = None, *, name: str = "uri") -> bool:
        """Set up the way out to servers on other hosts (root only;
        emulator/radio/README.md, "Egress"): devices then send to a server
        off loopback from their own address in ``egress_prefix``,
        masqueraded to the host's address. Creating a device whose
        bootstrap or server URI is off loopback calls this; call it
        yourself for servers that only a bootstrap configuration names.
        With ``uri`` (``name`` is what the caller called it, for messages),
        only if that server is off loopback, after checking there is a
        route to it. True if the egress is open. :class:`EgressError` says
        what to do when it cannot be set up or the server has no route."""
        if uri is not None:
            check_device_uri(name, uri)
        return _egress.prepare(self, self._runtime, name, uri, self._egress_prefix)

    def _egress_for(self, bootstrap_uri: str, options: DeviceOptions) -> None:
        """Opens the egress if a device's server is off loopback."""
        for name, uri in (("bootstrap_uri", bootstrap_uri), ("server_uri", options.get("server_uri"))):
            if uri:
                self.open_egress(uri, name=name)

    def _make(
        self, count: int, bootstrap_uri: str, prefix: str, endpoint: str, options: DeviceOptions
    ) -> list[Device]:
        if options.get("firmware") is not None:
            return list(_qemu.add(self, count, bootstrap_uri, prefix, endpoint, options))
        spec = native_spec(bootstrap_uri, options)
        spec.endpoint = endpoint
        handles = self._runtime.add_devices(spec, count, prefix, bool(options.get("start", True)))
        return [Device(self, h) for h in handles]

    def _new_endpoints(self, name: str, endpoints: list[str]) -> list[str]:
        """``endpoints`` if no device of this emulator has one of these
        names yet: servers tell devices apart by name, and two devices with
        one name steal each other's sessions."""
        taken = next((e for e in endpoints if e in self._endpoints), None)
        if taken is None and len(set(endpoints)) < len(endpoints):
            taken = endpoints[0]
        if taken is not None:
            raise ValueError(f"{name}: a device named {taken!r} already exists in this emulator; names must be unique")
        return endpoints

    def capture(
        self, path: str | os.PathLike[str] | None, *, psk_key: bytes | None = None, uris: Sequence[str] = ()
    ) -> None:
        """Capture every datagram of the run into a pcapng file (None
        stops). Its section comment carries :meth:`decode_options` as they
        are when it starts (start the servers first). On the virtual clock
        its time starts at 2020-01-01T00:00:00Z, and the devices' source
        ports are numbered 50000, 50001, ... (the radio's ports, which the
        kernel chose)."""
        if path is None:
            self._runtime.capture("")
            return
        comment = capture_comment(self.decode_options(psk_key=psk_key, uris=uris))
        self._runtime.capture(os.fspath(path), comment)

    def decode_options(self, *, psk_key: bytes | None = None, uris: Sequence[str] = ()) -> list[str]:
        """tshark arguments that decode a capture of this emulator: CoAP on
        the ports of the servers started here and of ``uris`` (external
        servers), DTLS and the CoAP inside it on their coaps:// ports,
        decrypted with ``psk_key`` (``-o dtls.psk:HEX``; one key)::

            subprocess.run(["tshark", "-r", "run.pcapng", *emu.decode_options(psk_key=key)])
        """
        return decode_options([*self._server_uris, *uris], psk_key)

    def summary(self) -> dict[str, Any]:
        """Devices by state and by bootstrap exit, and bootstrap durations (ms)."""
        return dict(self._runtime.summary())

    def _until(
        self, condition: Callable[[], bool], timeout: float, block: Callable[[float], object] | None = None
    ) -> bool:
        """Whether ``condition()`` holds within ``timeout`` seconds on this
        emulator's clock: the virtual clock runs on this thread until it
        does; the real one waits in slices, in ``block(seconds)`` (which
        releases the GIL) or a short sleep."""
        if self._runtime.is_virtual:
            return self._run(condition, timeout, "wait")
        deadline = time.monotonic() + timeout
        while not condition():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if block is not None:
                block(min(_WAIT_SLICE_S, left))
            else:
                time.sleep(min(0.01, left))
        return True

    def _wait(
        self,
        devices: Sequence[Device],
        state: State | Sequence[State] | None,
        exit: BootstrapExit | Sequence[BootstrapExit] | None,
        timeout: float,
    ) -> None:
        if self._runtime.is_virtual:
            raise ClockError(
                "wait_for waits in real time, and on the virtual clock nothing moves while it waits: "
                "use run_until (the same arguments, timeout in virtual seconds) on the device or fleet"
            )
        states, exits = self._conditions(states_arg=state, exits_arg=exit, what="wait_for")
        handles = [d._handle for d in devices]
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            piece = max(0.0, min(_WAIT_SLICE_S, left))
            done = self._runtime.wait_devices(handles, states, exits, piece)
            if done:
                return
            if left <= _WAIT_SLICE_S:
                break
        self._timed_out(devices, states, exits, f"after {timeout} s")

    def _run_until_devices(
        self,
        devices: Sequence[Device],
        state: State | Sequence[State] | None,
        exit: BootstrapExit | Sequence[BootstrapExit] | None,
        timeout: float,
    ) -> None:
        if not self._runtime.is_virtual:
            raise ClockError("run_until runs the virtual clock; on a real-time emulator use wait_for")
        if not timeout >= 0:
            raise ValueError(f"run_until: timeout must be >= 0 virtual seconds, got {timeout}")
        states, exits = self._conditions(states_arg=state, exits_arg=exit, what="run_until")
        until_ms = self._runtime.now_ms() + int(round(timeout * 1000))
        if self._runtime.run_until_devices([d._handle for d in devices], states, exits, until_ms):
            return
        self._timed_out(devices, states, exits, f"after {timeout} virtual s (now {self.now():.3f} s)")

    @staticmethod
    def _conditions(
        *,
        states_arg: State | Sequence[State] | None,
        exits_arg: BootstrapExit | Sequence[BootstrapExit] | None,
        what: str,
    ) -> tuple[list[str], list[str]]:
        states = check_names("state", as_list(states_arg), STATES)
        exits = check_names("exit", as_list(exits_arg), BOOTSTRAP_EXITS)
        if not states and not exits:
            raise ValueError(f"{what}: give a state, an exit, or both")
        return states, exits

    @staticmethod
    def _timed_out(devices: Sequence[Device], states: list[str], exits: list[str], when: str) -> None:
        behind = [d for d in devices if (states and d.state not in states) or (exits and d.bootstrap_exit not in exits)]
        sample = ", ".join(repr(d) for d in behind[:5])
        tail = behind[0].timeline()[-8:] if behind else []
        last = f"\nlast events of {behind[0].endpoint}:\n" if behind else ""
        last += "\n".join(f"  {e.time:9.3f} {e.kind:18} {e.detail}" for e in tail)
        raise DeviceTimeout(
            f"{len(behind)} of {len(devices)} device(s) not in state={states or 'any'} "
            f"exit={exits or 'any'} {when}: {sample}{last}"
        )
