"""The embedded default store: one DuckDB file, Arrow in and Arrow out, no per-row Python.

Timestamps are stored as BIGINT epoch nanoseconds: exact (DuckDB's TIMESTAMPTZ keeps only
microseconds), cheap to bucket with integer division, and zero-copy back to Arrow timestamps.
Idempotence on (signal, ts) costs one zone-map-pruned range probe per batch: live data is
newer than anything stored, so the probe finds nothing and the batch goes in with a plain
INSERT (as fast as raw DuckDB); only replays and back-fills pay for the anti-join.
Waveform bursts are stored as BLOBs of little-endian float32: the Arrow list's value buffer is
re-wrapped as binary without a copy, which DuckDB writes several times faster than a FLOAT[]
list column, and reads turn the bytes back into list<float32> the same way.
Every append is one committed transaction, so after a SIGKILL the WAL replays everything that
`append` returned for, and the file reopens.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from edgetwin.core.errors import StoreError
from edgetwin.core.schemas import (
    EVENTS_SCHEMA,
    SAMPLES_SCHEMA,
    TS_TYPE,
    WAVEFORMS_SCHEMA,
    conform,
)
from edgetwin.store.base import Agg, bucket_width_ns, signal_list, table_kind
from edgetwin.store.columns import from_stored, to_stored
from edgetwin.store.timeutil import to_ns

log = logging.getLogger(__name__)

_DDL = """
CREATE TABLE IF NOT EXISTS samples (ts_ns BIGINT NOT NULL, signal VARCHAR NOT NULL,
    value DOUBLE, quality UTINYINT NOT NULL);
CREATE TABLE IF NOT EXISTS waveforms (ts_ns BIGINT NOT NULL, signal VARCHAR NOT NULL,
    rate_hz DOUBLE NOT NULL, "values" BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS events (ts_ns BIGINT NOT NULL, source VARCHAR NOT NULL,
    kind VARCHAR NOT NULL, severity USMALLINT NOT NULL, payload VARCHAR);
"""

# table -> (key columns of idempotence, schema, builder name for error messages)
_TABLES: dict[str, tuple[tuple[str, ...], pa.Schema]] = {
    "samples": (("signal", "ts_ns"), SAMPLES_SCHEMA),
    "waveforms": (("signal", "ts_ns"), WAVEFORMS_SCHEMA),
    "events": (("source", "kind", "ts_ns"), EVENTS_SCHEMA),
}

_AGG_SQL = {
    "avg": "avg(value)",
    "min": "min(value)",
    "max": "max(value)",
    "last": "arg_max(value, ts_ns)",
    "first": "arg_min(value, ts_ns)",
    "count": "count(value)",
}


class DuckDBStore:
    """History in one DuckDB file (or `:memory:`); safe to share between threads."""

    def __init__(self, path: str | Path = "edgetwin.duckdb", *, read_only: bool = False) -> None:
        self.path = str(path)
        self.read_only = read_only
        try:
            self._con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.IOException as exc:
            raise StoreError(
                f"cannot open store {self.path}: {exc}. If another edgetwin process holds it, "
                "stop that process or pass a different --db"
            ) from None
        if not read_only:
            self._con.execute(_DDL)
        self._lock = threading.RLock()
        self._newest: dict[str, int | None] = {}

    # -- writing ---------------------------------------------------------------------------
    def append(self, table: pa.Table) -> int:
        kind = table_kind(table)
        return self._append(kind, table)

    def append_samples(self, table: pa.Table) -> int:
        return self._append("samples", table)

    def append_waveforms(self, table: pa.Table) -> int:
        return self._append("waveforms", table)

    def append_events(self, table: pa.Table) -> int:
        return self._append("events", table)

    def _append(self, kind: str, table: pa.Table) -> int:
        if table.num_rows == 0:
            return 0
        keys, schema = _TABLES[kind]
        table = conform(table, schema, kind)
        batch, ts_ns = to_stored(table)
        lo, hi = pc.min_max(ts_ns).values()
        cols = ", ".join(f'"{c}"' for c in batch.column_names)
        with self._lock:
            cur = self._con.cursor()
            cur.register("batch", batch)
            try:
                newest = self._newest_ns(cur, kind)
                if newest is not None and lo.as_py() <= newest:
                    overlap = cur.execute(
                        f"SELECT count(*) FROM {kind} WHERE ts_ns BETWEEN ? AND ?",
                        [lo.as_py(), hi.as_py()],
                    ).fetchall()[0][0]
                else:
                    overlap = 0  # the whole batch is newer than anything stored
                dup_in_batch = False
                if overlap == 0 and batch.num_rows > 1:
                    dup_in_batch = self._has_duplicates(cur, batch, keys)
                if overlap == 0 and not dup_in_batch:
                    sql = f"INSERT INTO {kind} ({cols}) SELECT {cols} FROM batch"
                else:
                    match = " AND ".join(f"t.{k} = b.{k}" for k in keys)
                    sql = (
                        f"INSERT INTO {kind} ({cols}) SELECT {cols} FROM "
                        f"(SELECT DISTINCT ON ({', '.join(keys)}) * FROM batch) b "
                        f"WHERE NOT EXISTS (SELECT 1 FROM {kind} t WHERE t.ts_ns BETWEEN "
                        f"{lo.as_py()} AND {hi.as_py()} AND {match})"
                    )
                inserted = int(cur.execute(sql).fetchall()[0][0])
                if inserted:
                    self._newest[kind] = hi.as_py() if newest is None else max(newest, hi.as_py())
                return inserted
            except duckdb.Error as exc:
                raise StoreError(f"append to {kind} failed in {self.path}: {exc}") from exc
            finally:
                cur.close()

    def _newest_ns(self, cur: Any, kind: str) -> int | None:
        """Newest stored ts of a table, kept in memory: this process is the only writer (DuckDB
        locks the file), so after one lookup every append can skip the range probe when its
        batch starts later. Deletes only lower the true newest, so the cached value stays a
        safe upper bound."""
        if kind not in self._newest:
            value = cur.execute(f"SELECT max(ts_ns) FROM {kind}").fetchall()[0][0]
            self._newest[kind] = None if value is None else int(value)
        return self._newest[kind]

    @staticmethod
    def _has_duplicates(cur: Any, batch: pa.Table, keys: tuple[str, ...]) -> bool:
        """Does the batch repeat a key? Decided in O(n) numpy for the shapes sources produce.

        A batch whose timestamps strictly increase, or whose rows come grouped by signal with
        increasing timestamps inside each group, cannot repeat (signal, ts); only other shapes
        pay for DuckDB's hash aggregate over the batch.
        """
        ts = batch.column("ts_ns").to_numpy()
        if np.all(ts[1:] > ts[:-1]):
            return False
        if keys[0] == "signal":
            idx = batch.column("signal").combine_chunks().indices.to_numpy()
            new_run = idx[1:] != idx[:-1]
            if np.all(new_run | (ts[1:] > ts[:-1])) and int(new_run.sum()) + 1 == len(
                np.unique(idx)
            ):
                return False
        key = ", ".join(keys)
        n, distinct = cur.execute(
            f"SELECT count(*), count(DISTINCT ({key})) FROM batch"
        ).fetchall()[0]
        return bool(n != distinct)

    # -- reading ---------------------------------------------------------------------------
    def _query(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        with self._lock:
            cur = self._con.cursor()
            try:
                return cur.sql(sql, params=params or None).to_arrow_table()
            except duckdb.Error as exc:
                raise StoreError(f"query failed on {self.path}: {exc}") from exc
            finally:
                cur.close()

    @staticmethod
    def _where(
        column: str,
        values: list[str] | None,
        start: object,
        end: object,
        extra: dict[str, Any] | None = None,
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if values is not None:
            clauses.append(f"{column} IN (SELECT unnest(?))")
            params.append(values)
        lo, hi = to_ns(start), to_ns(end)
        if lo is not None:
            clauses.append("ts_ns >= ?")
            params.append(lo)
        if hi is not None:
            clauses.append("ts_ns < ?")
            params.append(hi)
        for col, val in (extra or {}).items():
            if val is not None:
                clauses.append(f"{col} = ?")
                params.append(val)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def read_samples(
        self, signals: str | list[str] | None = None, start: object = None, end: object = None
    ) -> pa.Table:
        where, params = self._where("signal", signal_list(signals), start, end)
        raw = self._query(
            f"SELECT ts_ns, signal, value, quality FROM samples{where} ORDER BY signal, ts_ns",
            params,
        )
        return from_stored(raw, SAMPLES_SCHEMA)

    def read_waveforms(
        self, signals: str | list[str] | None = None, start: object = None, end: object = None
    ) -> pa.Table:
        where, params = self._where("signal", signal_list(signals), start, end)
        raw = self._query(
            f'SELECT ts_ns, signal, rate_hz, "values" FROM waveforms{where} ORDER BY signal, ts_ns',
            params,
        )
        return from_stored(raw, WAVEFORMS_SCHEMA)

    def read_events(
        self,
        source: str | None = None,
        start: object = None,
        end: object = None,
        kind: str | None = None,
    ) -> pa.Table:
        where, params = self._where("source", None, start, end, {"source": source, "kind": kind})
        raw = self._query(
            f"SELECT ts_ns, source, kind, severity, payload FROM events{where} ORDER BY ts_ns",
            params,
        )
        return from_stored(raw, EVENTS_SCHEMA)

    def downsample(
        self,
        signal: str,
        every_s: float,
        start: object = None,
        end: object = None,
        aggs: tuple[Agg, ...] = ("min", "max", "avg", "last"),
    ) -> pa.Table:
        width = bucket_width_ns(every_s, aggs, _AGG_SQL)
        where, params = self._where("signal", [signal], start, end)
        select = ", ".join(f'{_AGG_SQL[a]} AS "{a}"' for a in aggs)
        raw = self._query(
            f"SELECT (ts_ns // {width}) * {width} AS ts_ns, {select}, count(*) AS n "
            f"FROM samples{where} GROUP BY 1 ORDER BY 1",
            params,
        )
        return raw.set_column(0, "ts", raw.column("ts_ns").cast(TS_TYPE))

    def latest(self, signals: str | list[str] | None = None) -> pa.Table:
        where, params = self._where("signal", signal_list(signals), None, None)
        raw = self._query(
            "SELECT max(ts_ns) AS ts_ns, signal, arg_max(value, ts_ns) AS value, "
            f"arg_max(quality, ts_ns) AS quality FROM samples{where} GROUP BY signal ORDER BY signal",
            params,
        )
        return from_stored(raw, SAMPLES_SCHEMA)

    def signals(self) -> list[str]:
        raw = self._query("SELECT DISTINCT signal FROM samples ORDER BY 1")
        return [str(s) for s in raw.column("signal").to_pylist()]

    def count(self, kind: str = "samples") -> int:
        if kind not in _TABLES:
            raise StoreError(f"unknown table {kind!r}; choose from {sorted(_TABLES)}")
        return int(self._query(f"SELECT count(*) AS n FROM {kind}").column("n")[0].as_py())

    # -- housekeeping ----------------------------------------------------------------------
    def apply_retention(self, keep_s: float, now: object = None) -> int:
        now_ns = to_ns(now) if now is not None else time.time_ns()
        assert now_ns is not None
        cutoff = now_ns - int(keep_s * 1e9)
        deleted = 0
        with self._lock:
            cur = self._con.cursor()
            try:
                for kind in _TABLES:
                    deleted += int(
                        cur.execute(f"DELETE FROM {kind} WHERE ts_ns < ?", [cutoff]).fetchall()[0][
                            0
                        ]
                    )
            finally:
                cur.close()
        log.info("retention removed %d rows older than %.0f s from %s", deleted, keep_s, self.path)
        return deleted

    def flush(self) -> None:
        """Every append is already committed to the WAL; a checkpoint folds it into the file."""
        if not self.read_only:
            with self._lock:
                self._con.execute("CHECKPOINT")

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def __enter__(self) -> DuckDBStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
