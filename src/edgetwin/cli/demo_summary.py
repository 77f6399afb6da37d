"""The demo's closing table: what the monitors saw, checked against the simulator's truth."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from edgetwin.cli.live_view import LiveView
from edgetwin.runtime.pipeline import Pipeline

STATION = "acme/site1/area1/line1/inspect1"
console = Console()


def summarise(
    source: Any,
    view: LiveView,
    monitors: list[Any],
    pipeline: Pipeline,
    wall_s: float,
    station: Any = None,
) -> dict[str, Any]:
    """Compare what the monitor saw with the simulator's ground truth, per asset."""
    truth = source.sim.ground_truth()
    start_ns = source.sim.start_ns
    anomaly = next((m for m in monitors if hasattr(m, "first_anomaly_ns")), None)
    assets: dict[str, Any] = {}
    for path, row in view.rows.items():
        if path not in truth:
            continue  # not a simulated machine (the inspection station)
        gt = truth.get(path)
        detected_ns = anomaly.first_anomaly_ns(path) if anomaly else None
        fault = getattr(gt, "fault_mode", None) if gt else None
        fault = None if fault in (None, "none") else fault
        failure_s = getattr(gt, "failure_s", None) if fault else None
        onset_s = getattr(gt, "onset_s", None) if fault else None
        detected_s = None if detected_ns is None else (detected_ns - start_ns) / 1e9
        n_anomaly = sum(1 for _, kind, _ in row.events if kind == "anomaly")
        assets[path] = {
            "fault": fault,
            "onset_h": None if onset_s is None else onset_s / 3600,
            "failure_h": None if failure_s is None else failure_s / 3600,
            "detected_h": None if detected_s is None else detected_s / 3600,
            "lead_h": None
            if (detected_s is None or failure_s is None)
            else (failure_s - detected_s) / 3600,
            "anomaly_events": n_anomaly,
            "false_events": n_anomaly if not fault else 0,
            "health": row.health,
            "diagnosis": row.diagnosis,
        }
    stats = pipeline.stats
    station_row = view.rows.get(STATION)
    inspections = [e for e in station_row.events if e[1] == "inspection"] if station_row else []
    return {
        "inspected": len(inspections),
        "rejected": sum(1 for e in inspections if e[2].startswith("reject")),
        "defective_truth": getattr(station, "defective_truth", None),
        "assets": assets,
        "plant_hours": source.elapsed_s / 3600,
        "wall_s": wall_s,
        "samples": stats.samples,
        "waveform_values": stats.waveform_values,
        "derived_samples": stats.derived_samples,
        "events": stats.events,
        "samples_per_s": (stats.samples + stats.waveform_values) / max(wall_s, 1e-9),
        "queue_high_water": stats.queue_high_water,
    }


def print_summary(summary: dict[str, Any]) -> None:
    table = Table(
        title=f"Demo summary: {summary['plant_hours']:.1f} h of plant time in {summary['wall_s']:.1f} s "
        f"(detected = first anomaly event; lead = failure - detected)"
    )
    for col in (
        "asset",
        "injected fault",
        "onset h",
        "failure h",
        "detected h",
        "lead",
        "false events",
        "diagnosis",
    ):
        table.add_column(col, overflow="fold")

    def h(v: float | None) -> str:
        return "—" if v is None else f"{v:.2f}"

    for path, a in summary["assets"].items():
        if a["fault"]:
            lead = "[red]missed[/]" if a["detected_h"] is None else f"[green]{a['lead_h']:.2f} h[/]"
        else:
            lead = "—"
        false = str(a["false_events"]) if not a["fault"] else "—"
        table.add_row(
            path.rsplit("/", 1)[-1],
            a["fault"] or "healthy",
            h(a["onset_h"]),
            h(a["failure_h"]),
            h(a["detected_h"]),
            lead,
            false,
            a["diagnosis"] or "",
        )
    console.print(table)
    if summary.get("inspected"):
        console.print(
            f"inspection station: {summary['inspected']} parts inspected, "
            f"{summary['rejected']} rejected; the station made {summary['defective_truth']} "
            "defective (overlays beside the db)"
        )
    console.print(
        f"pipeline: {summary['samples']:,} samples + {summary['waveform_values']:,} waveform values "
        f"→ {summary['samples_per_s']:,.0f} values/s; {summary['derived_samples']:,} derived samples, "
        f"{summary['events']:,} events; queue high-water {summary['queue_high_water']}"
    )
