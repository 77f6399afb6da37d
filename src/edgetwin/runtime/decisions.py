"""Every model decision goes into the trace ledger, naming the module and its input window.

Listens to the pipeline's tables and writes one `decision` entry per `anomaly` or `diagnosis`
event (the kinds a model raises; ISA-18.2 alarm transitions follow from them and are history in
the store). The ledger is hash-chained, so `edgetwin trace verify` shows nobody edited,
removed or reordered a decision after the fact.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pyarrow as pa

from edgetwin.trace.ledger import Ledger
from edgetwin.trace.records import record_decision, record_deployment

log = logging.getLogger(__name__)

MODEL_KINDS = ("anomaly", "diagnosis")


class DecisionRecorder:
    """Pipeline listener: model events → ledger `decision` entries."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.recorded = 0

    @classmethod
    def beside(cls, db_path: str | Path) -> DecisionRecorder:
        return cls(Ledger.beside(db_path))

    def deployed(self, module: dict[str, str], target: str) -> None:
        """Record that a module now runs on `target` (asset set, node)."""
        record_deployment(self.ledger, module, target)

    def __call__(self, table: pa.Table) -> None:
        if "kind" not in table.column_names:
            return
        kinds = table.column("kind").to_pylist()
        if not any(k in MODEL_KINDS for k in kinds):
            return
        sources = table.column("source").to_pylist()
        payloads = table.column("payload").to_pylist()
        for kind, source, raw in zip(kinds, sources, payloads, strict=True):
            if kind not in MODEL_KINDS:
                continue
            payload = json.loads(raw or "{}")
            module = {
                "name": str(payload.get("module", "unknown")),
                "version": str(payload.get("version", "")),
                "sha256": str(payload.get("sha256", "")),
            }
            if kind == "diagnosis":
                inp = payload.get("input", {})
                window = {
                    "signal": inp.get("signal", source),
                    "start": inp.get("window_ts_ns"),
                    "end": inp.get("window_end_ns", inp.get("window_ts_ns")),
                }
                decision = str(payload.get("label", ""))
            else:
                window = {
                    "signal": f"{source}/*",
                    "start": payload.get("window_start_ns"),
                    "end": payload.get("window_end_ns"),
                }
                decision = f"anomaly score {payload.get('score')}"
            record_decision(self.ledger, module, window, decision, subject=source, kind=kind)
            self.recorded += 1
