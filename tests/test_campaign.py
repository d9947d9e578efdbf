"""Campaigns: the campaign file, per-device results, verdicts, JUnit XML,
the HTML report (opened in headless Chromium), Dask execution."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from helpers import child_env
from lwm2m_hil import __version__
from lwm2m_hil.campaign import CampaignError, parse

CAMPAIGNS = Path(__file__).parent / "campaigns"
DEVICE_KEYS = {"endpoint", "kind", "state", "exit", "exits", "exit_counts", "bootstrap_s", "registered", "retries",
               "power_cuts", "torn_configs", "dropped_by", "premature_exits", "late_commands"}


def cli(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lwm2m_hil", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


# --- the campaign file ---------------------------------------------------


def test_matrix_and_seeds_make_one_run_per_cell_and_seed() -> None:
    """2 profiles x 3 loss rates x seeds 1..3 make 18 runs; each run's
    settings carry its cell's values over the base ones."""
    c = parse({"seeds": "1..3", "link": {"delay": 0.2},
               "matrix": {"fleet": {"profile": ["cr", "1.0"]}, "link.loss": [0.0, 0.1, 0.2]}})
    runs = c.runs()
    assert len(c.cells) == 6 and len(runs) == 18
    assert [r.seed for r in runs[:3]] == [1, 2, 3]
    assert {(r.settings["fleet"]["profile"], r.settings["link"]["loss"]) for r in runs} == {
        (p, loss) for p in ("cr", "1.0") for loss in (0.0, 0.1, 0.2)}
    assert all(r.settings["link"]["delay"] == 0.2 for r in runs)


@pytest.mark.parametrize(
    "doc, key",
    [
        ({"fleet": {"devices": 0}}, "fleet.devices"),
        ({"fleet": {"profil": "cr"}}, "fleet.profil"),
        ({"fleet": {"profile": "2.0"}}, "fleet.profile"),
        ({"link": {"loss": 1.5}}, "link.loss"),
        ({"link": {"partitions": [[1, 2, "sideways"]]}}, "link.partitions[0]"),
        ({"link": {"burst": {"p_good_to_bad": 0.1}}}, "link.burst"),
        ({"rules": [{"action": "explode"}]}, "rules[0].action"),
        ({"rules": [{"action": "delay", "path": "/bs"}]}, "rules[0].delay"),
        ({"seeds": "50..1"}, "seeds"),
        ({"clock": "sundial"}, "clock"),
        ({"matrix": {"link.loss": [0.1, 7]}}, "matrix.link.loss[1]"),
        ({"matrix": {"link.colour": [1]}}, "matrix.link.colour"),
        ({"expect": {"exit": "finished"}}, "expect.exit"),
        ({"expect": {"regsitered": "all"}}, "expect.regsitered"),
        ({"server": {"bootstrap_uri": "http://x"}}, "server.bootstrap_uri"),
        ({"fleet": {"devices": 2, "legacy": 3}}, "fleet.legacy"),
    ],
)
def test_bad_campaign_names_the_key(doc: dict, key: str) -> None:
    with pytest.raises(CampaignError) as e:
        parse(doc)
    assert str(e.value).startswith(key + ":") or f"{key}:" in str(e.value), str(e.value)


def test_campaign_file_error_exits_2_naming_the_key(package_env: dict[str, str], tmp_path: Path) -> None:
    """A bad file is refused before any worker starts, with the key."""
    bad = tmp_path / "bad.toml"
    bad.write_text('seeds = "1..2"\n[link]\nloss = 2.0\n')
    r = cli(package_env, "campaign", "run", str(bad), "--out", str(tmp_path / "out"))
    assert r.returncode == 2, r.stderr
    assert "link.loss: must be a probability 0..1, got 2.0" in r.stderr
    assert not (tmp_path / "out").exists()


# --- one run: devices.jsonl and the JSON summary ---------------------------


def test_run_devices_out_and_json_name_settings_and_version(package_env: dict[str, str], tmp_path: Path) -> None:
    """`run --devices-out F` writes one line per device with its results;
    `--json` names the settings and the version, so the run can be rebuilt."""
    devices, summary = tmp_path / "devices.jsonl", tmp_path / "summary.json"
    r = cli(package_env, "run", "--clock", "virtual", "--devices", "6", "--security", "nosec", "--loss", "0.2",
            "--seed", "4", "--devices-out", str(devices), "--json", str(summary))
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in devices.read_text().splitlines()]
    assert [d["endpoint"] for d in lines] == [f"dev-{i}" for i in range(6)]
    for d in lines:
        assert DEVICE_KEYS <= set(d), set(d) ^ DEVICE_KEYS
        assert d["exit"] == "finish" and d["registered"] and d["bootstrap_s"] > 0
    assert sum(sum(d["dropped_by"].values()) for d in lines) > 0  # 20 % loss dropped some
    s = json.loads(summary.read_text())
    assert s["version"] == __version__
    assert s["settings"]["loss"] == 0.2 and s["settings"]["seed"] == 4 and s["settings"]["devices"] == 6


def test_version(package_env: dict[str, str]) -> None:
    r = cli(package_env, "--version")
    assert r.returncode == 0 and r.stdout.strip() == f"lwm2m-hil {__version__}"


# --- the campaign end to end on a LocalCluster ------------------------------


def _chromium_screenshot(html: Path, png: Path, profile: Path) -> None:
    chromium = shutil.which("chromium")
    assert chromium, "chromium is missing: scripts/lib.sh installs it"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={profile}", "--window-size=1280,1600", f"--screenshot={png}",
                    html.as_uri()], capture_output=True, timeout=120, check=True)


def _pixels_near(png: Path, rgb: tuple[int, int, int]) -> int:
    """How many pixels of the screenshot have (about) this colour."""
    import matplotlib.image

    img = matplotlib.image.imread(png)[:, :, :3] * 255
    dist = ((img - rgb) ** 2).sum(axis=2)
    return int((dist < 300).sum())


def _env() -> dict[str, str]:
    """package_env's environment, for module-scoped fixtures."""
    return child_env()


@pytest.fixture(scope="module")
def loss_sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The campaign of tests/campaigns/loss_sweep.toml, run once for the module."""
    out = tmp_path_factory.mktemp("campaign") / "out"
    r = cli(_env(), "campaign", "run", str(CAMPAIGNS / "loss_sweep.toml"), "--out", str(out), "--workers", "2")
    return out, r


def test_campaign_writes_results_and_fails_on_broken_expectations(loss_sweep) -> None:
    """18 runs (2 profiles x 3 loss rates x 3 seeds) of 10 devices: every
    device registers; under profile cr the 3 legacy devices of each run leave
    on their idle timer, which breaks expect.exit = "finish": exit 1, and
    the output names those runs and devices; profile 1.0 runs pass."""
    out, r = loss_sweep
    assert r.returncode == 1, r.stderr
    assert "18 runs on 2 worker(s)" in r.stdout and "9 passed, 9 failed" in r.stdout
    assert "c0-seed1: expect.exit = 'finish': 3 device(s): dev-legacy-0 (registered, exit idle_timeout)" in r.stderr
    devices = [json.loads(line) for line in (out / "devices.jsonl").read_text().splitlines()]
    assert len(devices) == 180
    assert all(d["registered"] for d in devices)
    assert {(d["run_id"], d["endpoint"]) for d in devices} == {
        (f"c{c}-seed{s}", e) for c in range(6) for s in (1, 2, 3)
        for e in [f"dev-legacy-{i}" for i in range(3)] + [f"dev-{i}" for i in range(7)]}
    results = json.loads((out / "results.json").read_text())
    assert results["failed_runs"] == [f"c{c}-seed{s}" for c in range(3) for s in (1, 2, 3)]
    for run in results["runs"]:
        files = out / "runs" / run["run_id"]
        assert (files / "capture.pcapng").stat().st_size > 0 and (files / "devices.jsonl").exists()


def test_campaign_junit_has_one_case_per_run(loss_sweep) -> None:
    out, _ = loss_sweep
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == 18 and suite.get("failures") == "9"
    failed = {c.get("name"): c.find("failure") for c in cases if c.find("failure") is not None}
    assert set(failed) == {f"c{c}-seed{s}" for c in range(3) for s in (1, 2, 3)}
    assert "dev-legacy-2 (registered, exit idle_timeout)" in failed["c2-seed3"].text


def test_premature_exits_from_the_server_log(loss_sweep) -> None:
    """Legacy devices under 40 % loss left bootstrap before the server's
    last command in some sessions; on a clean link none did, and no Finish
    device ever did (it leaves on the last command)."""
    out, _ = loss_sweep
    results = json.loads((out / "results.json").read_text())
    cells = {c["cell_id"]: c["values"] for c in results["campaign"]["cells"]}
    premature = {cells[k]["fleet.profile"] + f"/{cells[k]['link.loss']}": v["premature"]
                 for k, v in results["cells"].items()}
    assert premature["cr/0.4"]["legacy"] > 0
    assert premature["cr/0.0"]["legacy"] == 0
    assert all(p["finish"] == 0 for p in premature.values())


def test_report_opens_in_chromium_and_rebuilds_from_results(loss_sweep, package_env: dict[str, str],
                                                            tmp_path: Path) -> None:
    """report.html is self-contained (inline images), holds the outcome
    table, duration plots, the sweep plot and sequence charts, links each
    run's files; headless Chromium renders it with the red FAIL badge.
    `lwm2m-hil report DIR` rebuilds the same file from the results."""
    out, _ = loss_sweep
    html = (out / "report.html").read_text()
    assert 'id="verdict">FAIL<' in html
    assert html.count("<img") == html.count('src="data:image/png;base64,') >= 6 + 1 + 1
    assert 'alt="exits against link.loss"' in html and 'alt="sequence dev-legacy-0"' in html
    assert 'href="runs/c0-seed1/capture.pcapng"' in html and 'href="runs/c5-seed3/devices.jsonl"' in html
    png = tmp_path / "report.png"
    _chromium_screenshot(out / "report.html", png, tmp_path / "chromium")
    assert _pixels_near(png, (0xE6, 0x39, 0x46)) > 200  # the FAIL badge (and drop marks) rendered
    assert _pixels_near(png, (0x2A, 0x9D, 0x8F)) > 200  # Finish in the plots
    (out / "report.html").unlink()
    r = cli(package_env, "report", str(out))
    assert r.returncode == 0, r.stderr
    assert (out / "report.html").read_text() == html


# --- every fault a campaign names reaches the devices ----------------------

FAULTS = """
seeds = [2]
[fleet]
devices = 4
security = "nosec"
[link]
delay = 0.05
jitter = 0.01
duplicate = 0.05
reorder = 0.05
corrupt = 0.01
nat_idle = 30
partitions = [[0.5, 3.0, "down"]]
burst = { p_good_to_bad = 0.05, p_bad_to_good = 0.5 }
[[rules]]
action = "drop"
direction = "down"
code = "POST"
path = "/bs"
count = 1
name = "drop-finish"
[power]
cut = 1.0
[timing]
ack_timeout = 1.0
"""


def test_campaign_faults_reach_every_device(tmp_path: Path) -> None:
    """Link models, a message-aware rule (drop the first Finish) and power
    cuts from the file all fire, and devices.jsonl counts them by cause."""
    from lwm2m_hil.campaign import load
    from lwm2m_hil.campaign.execute import run_one

    path = tmp_path / "faults.toml"
    path.write_text(FAULTS)
    (run,) = load(path).runs()
    result = run_one(run.run_id, run.settings, run.seed)
    devices = result["devices"]
    assert [d["endpoint"] for d in devices] == ["dev-0", "dev-1", "dev-2", "dev-3"]
    for d in devices:
        assert d["registered"] and d["exit"] == "finish" and d["torn_configs"] == 0
        assert d["power_cuts"] == 1
        assert d["dropped_by"]["rule"] == 1 and d["dropped_by"]["partition"] >= 1
    assert sum(d["dropped_by"].get("burst", 0) for d in devices) > 0
    assert result["summary"]["power_cuts"] == 4 and result["capture"][:4] == b"\x0a\x0d\x0d\x0a"  # pcapng


def test_campaign_run_over_dtls_psk() -> None:
    """fleet.security = "psk": the embedded servers speak DTLS; every device
    bootstraps and registers over it."""
    from lwm2m_hil.campaign.execute import run_one

    (run,) = parse({"seeds": [1], "fleet": {"devices": 3, "security": "psk"}}).runs()
    result = run_one(run.run_id, run.settings, run.seed)
    assert [d["exit"] for d in result["devices"]] == ["finish"] * 3
    assert result["summary"]["registered"] == 3


def test_readme_campaign_file_is_valid() -> None:
    """The campaign file the README shows parses as written: 6 cells x 3 seeds."""
    import re
    import tomllib

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    (block,) = re.findall(r"^```toml\n(.*?)^```", readme, re.MULTILINE | re.DOTALL)
    campaign = parse(tomllib.loads(block))
    assert len(campaign.runs()) == 18 and campaign.expect["exit"] == "finish"
    assert campaign.base["rules"][0]["action"] == "delay"


def test_session_log_counts_exits_before_the_servers_last_command() -> None:
    """A session whose last command left after the device's exit counts;
    one whose device exited after it does not; an exit belongs to the
    session it falls in, and sessions seen in any snapshot are kept after
    the server replaced them."""
    from lwm2m_hil import Event
    from lwm2m_hil.campaign.results import SessionLog

    log = SessionLog()
    log.snapshot([{"endpoint": "d", "sessions": 1, "started_ms": 0,
                   "events": [(0, "request", ""), (1000, "tx", "DELETE /"), (9000, "tx", "PUT /1/0")]}])
    log.snapshot([{"endpoint": "d", "sessions": 2, "started_ms": 10000,
                   "events": [(10000, "tx", "DELETE /"), (11000, "tx", "PUT /1/0")]}])
    early_then_clean = [Event(6.0, "bootstrap_exit", "idle_timeout"), Event(16.0, "bootstrap_exit", "idle_timeout")]
    assert log.premature_exits("d", early_then_clean) == 1
    assert log.premature_exits("d", [Event(9.5, "bootstrap_exit", "finish")]) == 0
    assert log.premature_exits("other", early_then_clean) == 0


def _run_on_a_terminal(env: dict[str, str], *args: str) -> tuple[int, str]:
    """The CLI with its stderr on a pseudo-terminal; returns the exit code
    and what the terminal showed."""
    import pty
    import threading

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "lwm2m_hil", *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=slave)
    os.close(slave)
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=10)
        os.close(master)
    return code, b"".join(chunks).decode(errors="replace")


def test_run_shows_progress_on_a_terminal_only(package_env: dict[str, str]) -> None:
    """A real-time `run` draws devices registered / total on a terminal,
    and nothing of it when stderr is a pipe."""
    args = ("run", "--devices", "30", "--security", "nosec", "--ack-timeout", "0.05", "--timeout", "60")
    code, shown = _run_on_a_terminal(package_env, *args)
    assert code == 0, shown
    assert "registered" in shown and "30/30" in shown
    piped = cli(package_env, *args)
    assert piped.returncode == 0 and "30/30" not in piped.stderr and "ETA" not in piped.stderr
