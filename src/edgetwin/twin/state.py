"""`AssetState`: what the twin knows about one asset right now, JSON-able for API and OPC UA."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from edgetwin.core.quality import Quality


class SignalValue(NamedTuple):
    """Last value of a signal: engineering value, OPC quality byte, source timestamp (ns).

    A named tuple, so `value, quality, ts_ns = twin.latest()[sid]` works too.
    """

    value: float
    quality: int
    ts_ns: int

    def to_dict(self) -> dict[str, Any]:
        v = self.value
        return {
            "value": None if v != v else v,  # NaN is not JSON
            "quality": _quality_name(self.quality),
            "ts_ns": self.ts_ns,
        }


def _quality_name(q: int) -> str:
    try:
        return Quality(q).name.lower()
    except ValueError:
        return str(q)


@dataclass
class AssetState:
    path: str
    type: str = "generic"
    description: str = ""
    nameplate: dict[str, Any] = field(default_factory=dict)
    signals: dict[str, SignalValue] = field(default_factory=dict)
    health: float = 1.0
    health_reason: str = "ok"
    status: str = "ok"
    rul: float | None = None
    rul_lo: float | None = None
    rul_hi: float | None = None
    anomaly_score: float | None = None
    fault_prob: float | None = None
    alarms: list[dict[str, Any]] = field(default_factory=list)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    open_work_orders: int = 0
    updated_ns: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "name": self.path.rsplit("/", 1)[-1],
            "type": self.type,
            "description": self.description,
            "nameplate": self.nameplate,
            "signals": {k: v.to_dict() for k, v in self.signals.items()},
            "health": self.health,
            "health_reason": self.health_reason,
            "status": self.status,
            "rul": self.rul,
            "rul_lo": self.rul_lo,
            "rul_hi": self.rul_hi,
            "anomaly_score": self.anomaly_score,
            "fault_prob": self.fault_prob,
            "alarms": self.alarms,
            "sources": self.sources,
            "open_work_orders": self.open_work_orders,
            "updated_ns": self.updated_ns,
        }
