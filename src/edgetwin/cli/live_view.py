"""What the terminal shows while a plant runs: one row per asset, fed by pipeline tables."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pyarrow as pa
from rich.table import Table

DERIVED = ("anomaly_score", "health", "rul", "rul_lo", "rul_hi")


@dataclass
class AssetRow:
    health: float | None = None
    anomaly_score: float | None = None
    rul: float | None = None
    rul_lo: float | None = None
    rul_hi: float | None = None
    diagnosis: str = ""
    events: list[tuple[int, str, str]] = field(default_factory=list)  # (ts_ns, kind, message)
    last_ts_ns: int = 0


class LiveView:
    """Keeps the latest derived values and events per asset; renders a rich table."""

    def __init__(self, asset_paths: list[str]) -> None:
        self.rows: dict[str, AssetRow] = {p: AssetRow() for p in asset_paths}
        self.plant_ts_ns = 0

    def __call__(self, table: pa.Table) -> None:
        names = table.column_names
        if "value" in names:
            self._samples(table)
        elif "kind" in names:
            self._events(table)
        if table.num_rows and "ts" in names:
            newest = table.column("ts").cast(pa.int64()).to_numpy().max()
            self.plant_ts_ns = max(self.plant_ts_ns, int(newest))

    def _samples(self, table: pa.Table) -> None:
        signals = table.column("signal").cast(pa.string()).to_pylist()
        values = table.column("value").to_pylist()
        ts = table.column("ts").cast(pa.int64()).to_pylist()
        for sig, val, t in zip(signals, values, ts, strict=True):
            path, _, name = sig.rpartition("/")
            row = self.rows.get(path)
            if row is not None and name in DERIVED:
                setattr(row, name, val)
                row.last_ts_ns = max(row.last_ts_ns, t)

    def _events(self, table: pa.Table) -> None:
        ts = table.column("ts").cast(pa.int64()).to_pylist()
        sources = table.column("source").to_pylist()
        kinds = table.column("kind").to_pylist()
        payloads = table.column("payload").to_pylist()
        for t, source, kind, raw in zip(ts, sources, kinds, payloads, strict=True):
            row = self.rows.get(source)
            if row is None:
                continue
            payload = json.loads(raw or "{}")
            if kind == "diagnosis":
                row.diagnosis = str(payload.get("label", ""))
            row.events.append((t, kind, str(payload.get("message") or payload.get("decision", ""))))

    def render(self, title: str) -> Table:
        table = Table(title=title, expand=False)
        for col in (
            "asset",
            "health",
            "anomaly score",
            "RUL (cycles)",
            "diagnosis",
            "events",
            "last event",
        ):
            table.add_column(col)
        for path, row in self.rows.items():
            health = "—" if row.health is None else f"{row.health:.2f}"
            style = (
                ""
                if row.health is None
                else ("green" if row.health > 0.8 else "yellow" if row.health > 0.4 else "red")
            )
            score = "fitting…" if row.anomaly_score is None else f"{row.anomaly_score:.2f}"
            rul = (
                "—"
                if row.rul is None
                else (
                    f"{row.rul:.0f}"
                    + (
                        f" [{row.rul_lo:.0f}, {row.rul_hi:.0f}]"
                        if row.rul_lo is not None and row.rul_hi is not None
                        else ""
                    )
                )
            )
            last = row.events[-1][1] if row.events else ""
            table.add_row(
                path,
                f"[{style}]{health}[/]" if style else health,
                score,
                rul,
                row.diagnosis,
                str(len(row.events)),
                last,
            )
        return table
