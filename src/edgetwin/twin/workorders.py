"""Maintenance log: work orders opened (often from an alarm) and closed with a note.

Persisted in a small SQLite file beside the history store (`<db>.workorders.sqlite`): work
orders are few, edited in place and must survive restarts; SQLite is in the standard library,
takes row updates, and keeps the append-only DuckDB history free of mutable rows. Every change
is also published as an event of kind "maintenance" so it shows in the asset's history.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edgetwin.core.errors import EdgetwinError

_DDL = """
CREATE TABLE IF NOT EXISTS work_orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    asset TEXT NOT NULL,
    title TEXT NOT NULL,
    alarm_id TEXT,
    status TEXT NOT NULL DEFAULT 'open',
    opened_ns INTEGER NOT NULL,
    opened_by TEXT NOT NULL,
    closed_ns INTEGER,
    closed_by TEXT,
    note TEXT
)
"""


class WorkOrderError(EdgetwinError):
    """A work order request that cannot be carried out (unknown id, already closed, ...)."""


@dataclass
class WorkOrder:
    id: int
    asset: str
    title: str
    alarm_id: str | None
    status: str  # open | closed
    opened_ns: int
    opened_by: str
    closed_ns: int | None = None
    closed_by: str | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class WorkOrderBook:
    """Work orders in SQLite; `path=None` keeps them in memory (tests, throw-away twins)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = None if path is None else Path(path)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con = sqlite3.connect(
            ":memory:" if self.path is None else str(self.path), check_same_thread=False
        )
        self._con.execute(_DDL)
        self._con.commit()
        self._lock = threading.Lock()

    def open(
        self, asset: str, title: str, *, alarm_id: str | None = None, user: str = "operator"
    ) -> WorkOrder:
        if not title.strip():
            raise WorkOrderError("work order 'title' is empty; say what needs doing")
        now = time.time_ns()
        with self._lock:
            cur = self._con.execute(
                "INSERT INTO work_orders (asset, title, alarm_id, opened_ns, opened_by) VALUES (?, ?, ?, ?, ?)",
                (asset, title.strip(), alarm_id, now, user),
            )
            self._con.commit()
            wid = int(cur.lastrowid or 0)
        return self.get(wid)

    def close(self, wid: int, note: str, *, user: str = "operator") -> WorkOrder:
        if not note.strip():
            raise WorkOrderError("closing a work order needs a 'note' saying what was done")
        wo = self.get(wid)
        if wo.status == "closed":
            raise WorkOrderError(f"work order {wid} is already closed (note: {wo.note!r})")
        with self._lock:
            self._con.execute(
                "UPDATE work_orders SET status='closed', closed_ns=?, closed_by=?, note=? WHERE id=?",
                (time.time_ns(), user, note.strip(), wid),
            )
            self._con.commit()
        return self.get(wid)

    def get(self, wid: int) -> WorkOrder:
        with self._lock:
            row = self._con.execute(
                "SELECT id, asset, title, alarm_id, status, opened_ns, opened_by, closed_ns, closed_by, note "
                "FROM work_orders WHERE id=?",
                (int(wid),),
            ).fetchone()
        if row is None:
            raise WorkOrderError(f"unknown work order {wid}; list them with GET /api/work-orders")
        return WorkOrder(*row)

    def list(self, asset: str | None = None, status: str | None = None) -> list[WorkOrder]:
        """Newest first; `asset` matches the asset and everything below it in the tree."""
        sql = (
            "SELECT id, asset, title, alarm_id, status, opened_ns, opened_by, closed_ns, closed_by, note "
            "FROM work_orders WHERE 1=1"
        )
        params: list[Any] = []
        if asset:
            sql += " AND (asset = ? OR asset LIKE ?)"
            params += [asset, asset.rstrip("/") + "/%"]
        if status:
            sql += " AND status = ?"
            params.append(status)
        with self._lock:
            rows = self._con.execute(sql + " ORDER BY id DESC", params).fetchall()
        return [WorkOrder(*r) for r in rows]

    def close_db(self) -> None:
        with self._lock:
            self._con.close()
