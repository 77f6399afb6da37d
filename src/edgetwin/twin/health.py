"""Health of one asset, and its roll-up up the ISA-95 tree (worst child wins, with the reason).

An asset's own health is its model's `<asset>/health` signal (0..1, 1 = as new) when a monitor
publishes one, capped by its active alarms: an operator who sees a red alarm must not see a
green asset. The caps are a documented convention, not physics:

| active alarm priority | health at most |
|---|---|
| low | 0.8 |
| medium | 0.6 |
| high | 0.4 |
| critical | 0.2 |

Status bands for colouring: `ok` (>= 0.8, no alarm), `warn` (>= 0.5 or an alarm that returned
to normal but is still unacknowledged), `alarm` (< 0.5 or any active alarm).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALARM_CAP = {"low": 0.8, "medium": 0.6, "high": 0.4, "critical": 0.2}
STATUS_RANK = {"ok": 0, "unknown": 0, "warn": 1, "alarm": 2}


@dataclass
class Health:
    value: float = 1.0
    reason: str = "ok"
    status: str = "ok"
    worst: str | None = None  # the asset path the value comes from


def asset_health(model_health: float | None, alarms: list[dict[str, Any]]) -> Health:
    """Combine the model's health with the caps of the asset's annunciated alarms."""
    h = Health()
    if model_health is not None and model_health == model_health:  # not NaN
        h.value = float(min(max(model_health, 0.0), 1.0))
        h.reason = f"model health {h.value:.2f}" if h.value < 1.0 else "ok"
    active = [a for a in alarms if a["active"] and a["mode"] == "enabled"]
    for a in sorted(active, key=lambda a: -a["severity"]):
        cap = ALARM_CAP.get(a["priority"], 0.6)
        if cap < h.value:
            h.value = cap
            h.reason = f"alarm {a['alarm_id']} ({a['priority']}): {a['message']}"
    if active or h.value < 0.5:
        h.status = "alarm"
        if active and not h.reason.startswith("alarm"):
            a = max(active, key=lambda a: a["severity"])
            h.reason = f"alarm {a['alarm_id']} ({a['priority']}): {a['message']}; {h.reason}"
    elif h.value < 0.8 or any(
        a["state"] == "returned-to-normal-unacknowledged" and a["mode"] == "enabled" for a in alarms
    ):
        h.status = "warn"
        if h.reason == "ok":
            h.reason = "alarm returned to normal, not yet acknowledged"
    return h


@dataclass
class Node:
    """A node of the ISA-95 tree; assets are the nodes configured in plant.yaml."""

    path: str
    is_asset: bool = False
    children: list[Node] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def level(self) -> int:
        return self.path.count("/")


def build_tree(asset_paths: list[str]) -> tuple[list[Node], dict[str, Node]]:
    """Every prefix of every asset path becomes a node; returns (roots, index)."""
    index: dict[str, Node] = {}
    roots: list[Node] = []
    for path in asset_paths:
        parts = path.split("/")
        parent: Node | None = None
        for i in range(1, len(parts) + 1):
            p = "/".join(parts[:i])
            node = index.get(p)
            if node is None:
                node = index[p] = Node(p)
                (parent.children if parent else roots).append(node)
            parent = node
        index[path].is_asset = True
    return roots, index


def roll_up(node: Node, own: dict[str, Health]) -> dict[str, Health]:
    """Health of every node under `node`: the worst of itself and its children, with the reason."""
    out: dict[str, Health] = {}

    def visit(n: Node) -> Health:
        best = own.get(n.path) if n.is_asset else None
        worst = Health(best.value, best.reason, best.status, n.path) if best else Health(worst=None)
        for child in n.children:
            h = visit(child)
            if _worse(h, worst):
                prefix = "" if h.reason.startswith(h.worst or "\0") else f"{h.worst}: "
                worst = Health(
                    h.value, prefix + h.reason if h.reason != "ok" else "ok", h.status, h.worst
                )
        out[n.path] = worst
        return worst

    visit(node)
    return out


def _worse(a: Health, b: Health) -> bool:
    ra, rb = STATUS_RANK.get(a.status, 0), STATUS_RANK.get(b.status, 0)
    return ra > rb or (ra == rb and a.value < b.value)
