"""The embedded bootstrap and registration servers, as Python sees them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

from . import _core, _observe
from ._bootstrap_reads import read_answers
from ._device import Event, events
from ._host import ServerHost
from ._lifetime import Guarded


def config_text(config: dict[str, Any] | str | os.PathLike[str]) -> str:
    """A bootstrap configuration as JSON text: from a dict, a JSON string, or a file."""
    if isinstance(config, dict):
        try:
            return json.dumps(config)
        except RecursionError:
            raise ValueError("config: nested too deeply (a bootstrap configuration is a few levels deep)") from None
    if isinstance(config, os.PathLike) or (isinstance(config, str) and not config.lstrip().startswith("{")):
        return Path(config).read_text()
    return config


Handle = TypeVar("Handle", _core.BootstrapServerHandle, _core.RegistrationServerHandle)


class _Server(Generic[Handle]):
    """What both embedded servers share: a handle that outlives no emulator."""

    def __init__(self, emulator: ServerHost, handle: Handle) -> None:
        self._emu = emulator
        self._handle: Handle = handle

    @property
    def _h(self) -> Handle:
        # RuntimeError once the emulator is closed.
        return cast(Handle, Guarded(self._handle, self._emu._life))

    @property
    def uri(self) -> str:
        """coap://HOST:PORT (NoSec)."""
        return self._handle.uri  # a copy held by the handle: safe after close

    @property
    def secure_uri(self) -> str:
        """coaps://HOST:PORT (DTLS with a pre-shared key or a certificate)."""
        return self._handle.secure_uri


class BootstrapServer(_Server[_core.BootstrapServerHandle]):
    """The embedded bootstrap server."""

    def results(self) -> dict[str, dict[str, Any]]:
        """Per endpoint: ``outcome`` (``SUCCESS``, ``NO_BOOTSTRAP_CONFIG``,
        ``FINISH_FAILED``, ``WRITE_REJECTED``, ``DELETE_REJECTED``,
        ``READ_REJECTED``, ``DISCOVER_REJECTED``, ``TIMEOUT``,
        ``CANCELLED``, ``CERT_UNTRUSTED``, ``CERT_EXPIRED``,
        ``CERT_NAME_MISMATCH``, ... or None while it runs), ``reason``,
        ``profile`` and ``content_format`` the session was served with,
        counters (``sessions``, ``back_to_back``, ``throttled``,
        ``error_responses``, ...), ``events``, and ``reads``: the client's
        answers to the session's Bootstrap-Discover and -Read steps
        (:class:`~lwm2m_hil._bootstrap_reads.ReadAnswer`: ``op``, ``path``,
        ``code``, ``content_format``, ``payload`` as text or hex)."""
        out = {}
        for r in self._h.results():
            r["events"] = events(r["events"])
            r["reads"] = read_answers(r["reads"])
            out[r["endpoint"]] = r
        return out

    def start_session(self, endpoint: str) -> None:
        """Server-initiated bootstrap (LwM2M 1.0): send ``endpoint`` the
        configured commands and Finish without a Request Bootstrap, over its
        last session with this server. :class:`ConfigError` (a
        ``ValueError``) when it never came, :class:`StateError` when there is
        no session to use (it closed, one is running, its last client was
        refused); :meth:`wait_outcome` then gives the outcome."""
        self._h.start_session(endpoint)

    def outcomes(self) -> dict[str, str | None]:
        """Endpoint -> outcome of its latest bootstrap session."""
        return {ep: r["outcome"] for ep, r in self.results().items()}

    def wait_outcome(self, endpoint: str, timeout: float = 10.0) -> dict[str, Any]:
        """The result of ``endpoint``'s latest session (see :meth:`results`)
        once it has an outcome; TimeoutError after ``timeout`` seconds (on
        the virtual clock: virtual seconds, run on this thread)."""
        found: dict[str, Any] = {}

        def ended() -> bool:
            r = self.results().get(endpoint)
            found["result"] = r
            return r is not None and r["outcome"] is not None

        if not self._emu._until(ended, timeout):
            state = "no session" if found.get("result") is None else "a session still running"
            raise _core.TimeoutError(f"no bootstrap outcome for {endpoint} after {timeout} s ({state})")
        result: dict[str, Any] = found["result"]
        return result

    def events(self) -> list[Event]:
        """Requests that named no endpoint (bad requests), and DTLS clients
        refused before they named one (an unknown PSK identity); the latest
        ``max_events``."""
        return events(self._h.events())

    def counters(self) -> dict[str, int]:
        """What the caps dropped: ``results_evicted``, ``results_expired``
        (older than ``result_ttl``), ``endpoint_events_evicted``,
        ``events_evicted``."""
        return self._h.counters()

    def reconfigure(self, config: dict[str, Any] | str | os.PathLike[str]) -> None:
        """Replace the configuration (keys included) for sessions and
        handshakes from now on; running sessions finish as they began."""
        self._h.reconfigure(config_text(config))

    def take_log(self) -> tuple[list[dict[str, Any]], list[Event], int]:
        """What happened since the last call, each thing once: the sessions
        that ended (as :meth:`results` entries, without events), the new
        :meth:`events`, and how many ended sessions were dropped because
        nobody took them in time (the queue holds 4,096)."""
        sessions, notices, dropped = self._h.take_log()
        for r in sessions:
            r["reads"] = read_answers(r["reads"])
        return sessions, events(notices), int(dropped)


class RegistrationServer(_Server[_core.RegistrationServerHandle]):
    """The embedded registration (LwM2M) server."""

    def registrations(self) -> dict[str, dict[str, Any]]:
        """Endpoint -> its current registration (lifetime, version, links...)."""
        return {r["endpoint"]: r for r in self._h.registrations()}

    def events(self) -> list[Event]:
        """registered / updated / deregistered / expired / rejected; the
        latest ``max_events``."""
        return events(self._h.events())

    def events_since(self, first: int) -> tuple[int, list[Event]]:
        """For following the server: the events numbered ``first`` and on
        (numbered from 0 since it started) that the ``max_events`` cap kept,
        and the number to pass next time."""
        next_index, raw = self._h.events_since(first)
        return next_index, events(raw)

    def counters(self) -> dict[str, int]:
        """``events_evicted``, ``lifetimes_capped`` (cut to
        ``max_lifetime``), ``refused_full`` (5.03 at ``max_registrations``),
        ``refused_principal`` (4.03: an Update or De-register from a client
        other than the one that registered)."""
        return self._h.counters()

    def observe(
        self, endpoint: str, path: str, *, accept: int | None = None, timeout: float = 10.0
    ) -> tuple[str, bytes]:
        """Observe ``path`` on a registered device (GET with Observe=0) and
        return the answer's code and payload; notifications then show in
        :meth:`observations` and :meth:`events` ("notify"). ``accept``: a
        content format, as in :meth:`request`. Waits up to ``timeout`` s (on
        the virtual clock, runs the emulator that long at most)."""
        return _observe.observe(self._emu, self._h, endpoint, path, accept, timeout)

    def cancel_observe(self, endpoint: str, path: str, *, timeout: float = 10.0) -> dict[str, Any]:
        """Cancel the observation of ``path`` (GET with Observe=1 on its
        token); returns the observation as :meth:`observations` lists it."""
        return _observe.cancel(self._emu, self._h, endpoint, path, timeout)

    def observations(self) -> list[dict[str, Any]]:
        """Every observation: ``endpoint``, ``path``, ``state`` ("pending",
        "active", "cancelling", "cancelled", "refused", "ended", "failed"),
        ``reason``, ``code``, ``observe`` (the freshest Observe value),
        ``notifications``, ``stale``, ``content_format``, ``payload`` (the
        freshest content), ``updated_ms``."""
        return list(self._h.observations())

    def request(
        self,
        endpoint: str,
        method: str,
        path: str,
        payload: bytes = b"",
        *,
        content_format: int | None = None,
        accept: int | None = None,
        timeout: float = 10.0,
    ) -> tuple[str, bytes]:
        """Send a request (``GET``, ``PUT``, ``POST``, ``DELETE`` on ``path``)
        to a registered device over its session, as an LwM2M server's Read,
        Write or Execute (or Write-Attributes: ``PUT`` of
        ``/3/0/13?pmin=1&pmax=5`` without payload); returns the answer's
        code ("2.05") and payload.
        ``content_format`` and ``accept`` are CoAP content formats (11542
        TLV, 110 SenML-JSON, 112 SenML-CBOR, 0 text, 40 link format).
        :class:`ConfigError` (a ``ValueError``) when the device is not
        registered, :class:`TimeoutError` when it does not answer within
        ``timeout`` seconds (virtual seconds on the virtual clock, run on
        this thread) or the server's exchange gave up, :class:`OSError`
        when the request cannot reach it."""
        if not timeout > 0:
            raise ValueError(f"timeout: must be > 0 seconds, got {timeout}")
        pending = self._h.send_request(
            endpoint,
            method,
            path,
            payload,
            -1 if content_format is None else content_format,
            -1 if accept is None else accept,
        )
        if not self._emu._until(pending.ready, timeout, block=pending.wait):
            raise _core.TimeoutError(f"no answer from {endpoint} to {method} {path} within {timeout} s")
        code, body = pending.result()
        return code, body
