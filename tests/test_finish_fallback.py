"""A device that asks for Finish meets a bootstrap server that does not know
the query (Wakaama's, LwM2M 1.1, answers `POST /bs?ep=..&Finish=true` 4.00).

The scripted server here refuses every Request Bootstrap that carries
Finish=true with 4.00, accepts one without it, writes a complete account and
never sends Finish: with ``finish_fallback`` the device asks once more
without the query and leaves bootstrap by its idle timer; without it, it is
refused again and again and never registers.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

from coap_peer import POST, ScriptedBootstrapServer
from helpers import FAST, PATIENT, details, kinds, wait_until
from lwm2m_hil import Emulator


class FinishRefusingServer:
    """Serves on a thread while in its ``with`` block: 4.00 to a Request
    Bootstrap with Finish=true, 2.04 to one without, then the account's
    Writes and no Finish. ``seen``: the query of every Request Bootstrap."""

    def __init__(self, bs: ScriptedBootstrapServer, server_uri: str) -> None:
        self.seen: list[dict[str, str]] = []
        self._bs, self._server_uri = bs, server_uri
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> FinishRefusingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                req, addr = self._bs.wait_request(POST, "/bs", timeout=0.2)
            except TimeoutError:
                continue
            self.seen.append(req.query())
            if req.query().get("Finish") == "true":
                self._bs.respond(req, addr, "4.00")
                continue
            self._bs.respond(req, addr, "2.04")
            self._bs.write_account(addr, self._server_uri)


def test_finish_fallback_asks_again_without_finish_and_registers_by_idle_timer(
    scripted_bs: ScriptedBootstrapServer,
) -> None:
    """finish_fallback=True: the 4.00 to Finish=true is answered by one more
    Request Bootstrap without the query, at once; the Writes land, no Finish
    comes, the idle timer (0.3 s) ends bootstrap (`idle_timeout`), and the
    device registers. The refusal is no exit of its own, and the timeline
    says why the device fell back."""
    with Emulator() as emu:
        rs = emu.registration_server(timing=FAST)
        with FinishRefusingServer(scripted_bs, rs.uri) as server:
            dev = emu.device("dev-1", scripted_bs.uri, timing=PATIENT, finish_fallback=True, idle_timeout=0.3)
            dev.wait_for("registered", exit="idle_timeout", timeout=15)
        seen = server.seen

        assert seen[:2] == [{"ep": "dev-1", "Finish": "true"}, {"ep": "dev-1"}]
        assert dev.exit_counts() == {"idle_timeout": 1}
        (why,) = details(dev, "finish_fallback")
        assert "answered 4.00 to Finish=true" in why and "idle timer of 300 ms" in why
        assert details(dev, "bootstrap_request")[:2] == ["attempt 1", "attempt 1, without Finish"]
        assert "dev-1" in rs.registrations()


def test_without_finish_fallback_the_device_is_refused_forever(
    scripted_bs: ScriptedBootstrapServer,
) -> None:
    """finish_fallback=False (the default): every Request Bootstrap carries
    Finish=true and is refused; each refusal is a `rejected` exit whose
    reason points at finish_fallback, and the device never registers."""
    with Emulator() as emu:
        rs = emu.registration_server(timing=FAST)
        with FinishRefusingServer(scripted_bs, rs.uri) as server:
            dev = emu.device("dev-1", scripted_bs.uri, timing=PATIENT, idle_timeout=0.3,
                             retry_initial=0.05, retry_max=0.1)
            wait_until(lambda: dev.exit_counts().get("rejected", 0) >= 3, timeout=15, what="3 rejected exits")
        seen = server.seen

        assert set(dev.exit_counts()) == {"rejected"}
        assert len(seen) >= 3 and all(q == {"ep": "dev-1", "Finish": "true"} for q in seen)
        assert kinds(dev, "finish_fallback") == []
        assert any("finish_fallback would ask again" in d for d in details(dev, "bootstrap_failed"))
        assert dev.state == "bootstrapping"
        assert rs.registrations() == {}


def test_run_finish_fallback_flag_registers_a_fleet_with_that_server(
    scripted_bs: ScriptedBootstrapServer, package_env: dict[str, str], tmp_path: Path
) -> None:
    """`run --bootstrap-uri URI --finish-fallback`: the same server refuses
    Finish=true; both devices ask again without it, leave bootstrap by the
    idle timer and register, and the summary says so."""
    out = tmp_path / "summary.json"
    with Emulator() as emu:
        rs = emu.registration_server(timing=FAST)
        with FinishRefusingServer(scripted_bs, rs.uri):
            proc = subprocess.run(
                [sys.executable, "-m", "lwm2m_hil", "run", "--devices", "2", "--bootstrap-uri", scripted_bs.uri,
                 "--finish-fallback", "--idle-timeout", "0.3", "--timeout", "30", "--json", str(out)],
                env=package_env, capture_output=True, text=True, timeout=60,
            )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        summary = json.loads(out.read_text())
        assert summary["finish_fallback"] is True
        assert summary["registered"] == 2
        assert summary["exits"]["idle_timeout"] == 2 and summary["exits"]["rejected"] == 0
        assert set(rs.registrations()) == {"dev-0", "dev-1"}
