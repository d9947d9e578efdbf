"""DIR/report.html from a campaign's results alone (results.json and
runs/*/): outcome table, bootstrap-duration histograms and CDFs, exits
against loss or delay, message sequence charts. Images are inline PNGs,
so the file travels alone; links point at each run's files beside it."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path
from typing import Any, Sequence

import jinja2

from .results import read_jsonl

EXIT_COLORS = {"finish": "#2a9d8f", "idle_timeout": "#e9c46a", "finish_timeout": "#f4a261", "rejected": "#e76f51",
               "none": "#8d99ae"}
KIND_COLORS = {"finish": "#2a9d8f", "legacy": "#e76f51"}
MAX_CHARTS = 8  # sequence charts are tall: the first few say enough
SWEEP_KEYS = ("link.loss", "link.delay", "link.jitter", "link.duplicate", "link.reorder", "link.corrupt",
              "power.cut")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display: the report is a file
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    _pyplot().close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def duration_plot(label: str, devices: Sequence[dict[str, Any]]) -> str | None:
    """Histogram and CDF of bootstrap durations, legacy beside Finish."""
    plt = _pyplot()
    groups = {kind: sorted(d["bootstrap_s"] for d in devices if d["kind"] == kind and d["bootstrap_s"] is not None)
              for kind in ("finish", "legacy")}
    if not any(groups.values()):
        return None
    fig, (hist, cdf) = plt.subplots(1, 2, figsize=(9, 2.8))
    for kind, values in groups.items():
        if not values:
            continue
        hist.hist(values, bins=20, alpha=0.6, color=KIND_COLORS[kind], label=f"{kind} ({len(values)})")
        cdf.step(values, [(i + 1) / len(values) for i in range(len(values))], where="post",
                 color=KIND_COLORS[kind], label=kind)
    hist.set_xlabel("bootstrap duration (s)")
    hist.set_ylabel("devices")
    hist.legend(fontsize=8)
    cdf.set_xlabel("bootstrap duration (s)")
    cdf.set_ylabel("fraction of devices")
    cdf.set_ylim(0, 1.02)
    fig.suptitle(label, fontsize=9)
    return _png(fig)


def sweep_plot(key: str, cells: Sequence[dict[str, Any]], tallies: dict[str, dict[str, Any]]) -> str:
    """Exits (fraction of devices) and premature legacy exits against one
    swept setting, one line per value of the other matrix keys."""
    plt = _pyplot()
    series: dict[str, list[tuple[float, dict[str, Any]]]] = {}
    for cell in cells:
        rest = ", ".join(f"{k}={v}" for k, v in cell["values"].items() if k != key) or "all"
        series.setdefault(rest, []).append((float(cell["values"][key]), tallies[cell["cell_id"]]))
    fig, (exits_ax, early_ax) = plt.subplots(1, 2, figsize=(9, 3))
    styles = ["-", "--", ":", "-."]
    for i, (rest, points) in enumerate(sorted(series.items())):
        points.sort(key=lambda p: p[0])
        xs = [p[0] for p in points]
        for exit_name in EXIT_COLORS:
            ys = [p[1]["exits"].get(exit_name, 0) / max(1, p[1]["devices"]) for p in points]
            if any(ys):
                exits_ax.plot(xs, ys, styles[i % 4], marker="o", color=EXIT_COLORS[exit_name],
                              label=f"{exit_name} ({rest})")
        early_ax.plot(xs, [p[1]["premature"]["legacy"] for p in points], styles[i % 4], marker="o",
                      color=KIND_COLORS["legacy"], label=f"legacy ({rest})")
        early_ax.plot(xs, [p[1]["premature"]["finish"] for p in points], styles[i % 4], marker="s",
                      color=KIND_COLORS["finish"], label=f"finish ({rest})")
    exits_ax.set_xlabel(key)
    exits_ax.set_ylabel("fraction of devices")
    exits_ax.set_title("bootstrap exits", fontsize=9)
    exits_ax.legend(fontsize=7)
    early_ax.set_xlabel(key)
    early_ax.set_ylabel("devices")
    early_ax.set_title("left before the server's last command", fontsize=9)
    early_ax.legend(fontsize=7)
    return _png(fig)


def _peer(detail: str, current: str) -> str:
    if detail.startswith("POST /bs"):
        return "bootstrap server"
    if detail.startswith("POST /rd"):
        return "registration server"
    return current


def _notable_verdict(event: Sequence[Any]) -> bool:
    """A radio verdict worth a row: anything but the plain delay every
    datagram of a delayed link gets."""
    _, kind, detail = event
    return kind == "radio" and not re.fullmatch(r"(up|down): delayed by \d+ ms", detail)


def sequence_plot(endpoint: str, events: Sequence[Sequence[Any]]) -> str:
    """A message sequence chart: the device and the servers as lanes, an
    arrow per datagram, red crosses where the radio dropped one."""
    plt = _pyplot()
    lanes = {"device": 0.0, "bootstrap server": 1.0, "registration server": 2.0}
    shown = [e for e in events if e[1] in ("tx", "rx", "bootstrap_exit") or _notable_verdict(e)][:120]
    fig, ax = plt.subplots(figsize=(9, 0.5 + 0.22 * max(4, len(shown))))
    peer = "bootstrap server"
    for row, (t, kind, detail) in enumerate(shown):
        y = -row
        if kind == "tx":
            peer = _peer(detail, peer)
            x0, x1 = lanes["device"], lanes[peer]
        elif kind == "rx":
            x0, x1 = lanes[peer], lanes["device"]
        elif kind == "bootstrap_exit":
            ax.text(lanes["device"] - 0.05, y, f"{t:.3f}s exit: {detail}", ha="right", va="center", fontsize=7,
                    color="#264653", weight="bold")
            continue
        elif "dropped" not in detail:  # duplicated, corrupted, reordered, a rule's delay: a note
            ax.text(2.25, y, f"{t:.3f}s radio {detail}", fontsize=6, color="#6c757d", va="center")
            continue
        else:  # a datagram the radio dropped: half an arrow, a cross
            up = detail.startswith("up")
            x = (lanes["device"] + lanes[peer]) / 2
            ax.annotate("", xy=(x, y), xytext=(lanes["device"] if up else lanes[peer], y),
                        arrowprops=dict(arrowstyle="-", color="#e63946", ls="--"))
            ax.plot([x], [y], marker="x", color="#e63946", markersize=8)
            ax.text(x + 0.05, y, detail, fontsize=6, color="#e63946", va="center")
            continue
        ax.annotate("", xy=(x1, y), xytext=(x0, y), arrowprops=dict(arrowstyle="->", color="#1d3557"))
        ax.text((x0 + x1) / 2, y + 0.15, f"{t:.3f}s {detail}", ha="center", fontsize=6)
    for name, x in lanes.items():
        ax.axvline(x, color="#adb5bd", lw=1, zorder=0)
        ax.text(x, 1.0, endpoint if name == "device" else name, ha="center", fontsize=8, weight="bold")
    ax.set_xlim(-1.2, 3.2)
    ax.set_ylim(-len(shown) - 0.5, 1.5)
    ax.axis("off")
    return _png(fig)


def _context(out: Path) -> dict[str, Any]:
    results = json.loads((out / "results.json").read_text())
    campaign = results["campaign"]
    cells = campaign["cells"]
    tallies = results["cells"]
    devices = read_jsonl(out / "devices.jsonl")
    rows = []
    for cell in cells:
        t = tallies[cell["cell_id"]]
        runs = [r for r in results["runs"] if r["cell_id"] == cell["cell_id"]]
        rows.append({"cell": cell, "tally": t, "runs": runs,
                     "failed_runs": sum(1 for r in runs if r["verdicts"]),
                     "plot": duration_plot(cell["label"], [d for d in devices if d["cell_id"] == cell["cell_id"]])})
    sweeps = [{"key": k, "plot": sweep_plot(k, cells, tallies)} for k in SWEEP_KEYS
              if k in campaign["matrix"] and len(campaign["matrix"][k]) > 1]
    charts = []
    # One chart per cell first (its first run), then the rest: the few
    # shown should cover the matrix.
    first: dict[str, dict[str, Any]] = {}
    for run in results["runs"]:
        first.setdefault(run["cell_id"], run)
    order = list(first.values()) + [r for r in results["runs"] if first[r["cell_id"]] is not r]
    for run in order:
        path = out / "runs" / run["run_id"] / "sequences.json"
        if path.exists():
            for endpoint, seq in json.loads(path.read_text()).items():
                charts.append({"run": run["run_id"], "endpoint": endpoint,
                               "plot": sequence_plot(endpoint, seq["device"]), "server": seq["server"]})
    for run in results["runs"]:
        run["captures"] = sorted(p.name for p in (out / "runs" / run["run_id"]).glob("capture*.pcapng"))
    return {"results": results, "campaign": campaign, "rows": rows, "sweeps": sweeps, "charts": charts[:MAX_CHARTS],
            "exit_names": list(EXIT_COLORS), "passed": not results["failed_runs"]}


def write_report(out: str | Path) -> Path:
    """Write (or rewrite) ``out/report.html`` from the files in ``out``."""
    out = Path(out)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    html = env.get_template("report.html.j2").render(**_context(out))
    path = out / "report.html"
    path.write_text(html)
    return path
