"""The scale-out store: PostgreSQL (TimescaleDB when the server has it), Arrow in and Arrow out.

Same contract and same result schemas as the DuckDB store, so the runtime, the API and the CLI
do not know which one they talk to. The hot paths never touch rows in Python:
- append: the batch becomes CSV in Arrow's C++ writer and is `COPY`ed straight into the
  partitioned table, one statement in autocommit (its own transaction); the unique index on
  the idempotence key rejects a batch that repeats a stored key, the COPY rolls back whole,
  and only then is the batch COPYed into a session-private staging table and merged with
  `INSERT ... SELECT ... ON CONFLICT DO NOTHING` in one transaction. Live data never
  repeats, so it pays only the COPY (like the DuckDB store's fast path); replays and
  back-fills (a batch starting before the newest row this process wrote goes straight to the
  merge) pay the merge. ON CONFLICT also collapses keys repeated inside one batch (the first
  row wins, in batch order), so no DISTINCT ON sort is paid per batch. Either way a failing
  batch leaves nothing behind and a replayed one adds nothing.
- read: `COPY (SELECT ...) TO STDOUT (FORMAT csv)` read off libpq into one buffer (pg_copy.py)
  and parsed by Arrow's C++ CSV reader with the column types given up front; signal ids become
  the dictionary of the `signal` column (pg_signals.py) and rows are ordered in numpy.
One connection serves the store, guarded by a lock (the store is shared between threads like
the DuckDB one); a connection that drops is re-opened once per call before giving up, and a
server that was down when that failed is tried again on the next call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from edgetwin.core.errors import DataError, StoreError
from edgetwin.core.schemas import EVENTS_SCHEMA, SAMPLES_SCHEMA, TS_TYPE, WAVEFORMS_SCHEMA, conform
from edgetwin.store.base import Agg, bucket_width_ns, signal_list, table_kind
from edgetwin.store.columns import from_stored, to_stored
from edgetwin.store.pg_copy import copy_out
from edgetwin.store.pg_csv import from_csv, to_csv
from edgetwin.store.pg_layout import COLUMNS, Layout, batch_days
from edgetwin.store.pg_signals import SignalIds
from edgetwin.store.pg_url import mask_url, scrub
from edgetwin.store.timeutil import to_ns

log = logging.getLogger(__name__)
T = TypeVar("T")

_SCHEMAS = {"samples": SAMPLES_SCHEMA, "waveforms": WAVEFORMS_SCHEMA, "events": EVENTS_SCHEMA}
# column types of each table as COPY TO writes it; bytea columns are decoded from hex
_RAW = {
    "samples": pa.schema(
        [
            ("ts_ns", pa.int64()),
            ("signal_id", pa.int32()),
            ("value", pa.float64()),
            ("quality", pa.uint8()),
        ]
    ),
    "waveforms": pa.schema(
        [
            ("ts_ns", pa.int64()),
            ("signal_id", pa.int32()),
            ("rate_hz", pa.float64()),
            ("values", pa.large_binary()),
        ]
    ),
    "events": pa.schema(
        [
            ("ts_ns", pa.int64()),
            ("source", pa.string()),
            ("kind", pa.string()),
            ("severity", pa.uint16()),
            ("payload", pa.string()),
        ]
    ),
}
_HEX = {"waveforms": ("values",)}
_AGG_SQL = {
    "avg": "avg(value)",
    "min": "min(value)",
    "max": "max(value)",
    # like DuckDB's arg_max/arg_min: the value of the newest/oldest row whose value is not NULL
    "last": "(array_agg(value ORDER BY ts_ns DESC) FILTER (WHERE value IS NOT NULL))[1]",
    "first": "(array_agg(value ORDER BY ts_ns) FILTER (WHERE value IS NOT NULL))[1]",
    "count": "count(value)",
}
# distinct signal ids by hopping along the (signal_id, ts_ns) index: one probe per signal
# instead of reading every row (PostgreSQL 15 has no skip scan of its own)
_SIGNAL_IDS = """
WITH RECURSIVE sig(id) AS (
    (SELECT signal_id FROM samples ORDER BY signal_id LIMIT 1)
    UNION ALL
    SELECT (SELECT s.signal_id FROM samples s WHERE s.signal_id > sig.id
            ORDER BY s.signal_id LIMIT 1)
    FROM sig WHERE sig.id IS NOT NULL
) SELECT id FROM sig WHERE id IS NOT NULL"""


class PostgresStore:
    """History in a PostgreSQL database given by a `postgresql://` URL; safe to share between
    threads. The password may be in the URL or come from PGPASSWORD / ~/.pgpass; it is never
    logged nor put in an error message (`self.url` is the masked form)."""

    def __init__(
        self,
        url: str,
        *,
        read_only: bool = False,
        timescaledb: bool | None = None,
        connect_timeout_s: int = 10,
    ) -> None:
        """`timescaledb`: None uses the extension when the server has it, False never does."""
        self._dsn = url
        self.url = mask_url(url)
        self.path = self.url  # what DuckDBStore calls its location, for messages
        self.read_only = read_only
        self.connect_timeout_s = connect_timeout_s
        self.layout = Layout(timescaledb)
        self._lock = threading.RLock()
        self._con: psycopg.Connection[Any] | None = None
        self._closed = False
        # newest ts this process wrote per table: a batch starting later is COPYed straight in
        self._newest: dict[str, int] = {}
        self._signal_ids = SignalIds()
        with self._lock:
            self._connect()

    # -- connection --------------------------------------------------------------------------
    def _connect(self) -> None:
        try:
            con = psycopg.connect(
                self._dsn,
                autocommit=True,
                connect_timeout=self.connect_timeout_s,
                application_name="edgetwin",
            )
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot connect to {self.url}: {scrub(str(exc).strip(), self._dsn)}; is the "
                "server running? check host, port, database and credentials (user and password "
                "in the URL, PGPASSWORD or ~/.pgpass)"
            ) from None
        try:
            con.execute("SET extra_float_digits = 1")  # shortest text that round-trips exactly
            con.execute("SET bytea_output = 'hex'")
            if self.read_only:
                con.execute("SET default_transaction_read_only = on")
                if self.layout.detect(con) is None:
                    raise StoreError(
                        f"{self.url} has no edgetwin tables yet; write to it first "
                        "(edgetwin demo --db URL) or check the database name"
                    )
            else:
                self.layout.setup(con)
                for table, columns in COLUMNS.items():
                    con.execute(
                        sql.SQL(
                            "CREATE TEMP TABLE IF NOT EXISTS {} ({}) ON COMMIT DELETE ROWS"
                        ).format(sql.Identifier(f"_stage_{table}"), sql.SQL(columns))
                    )
        except psycopg.Error as exc:
            con.close()
            raise StoreError(
                f"cannot set up the edgetwin tables in {self.url}: {scrub(str(exc), self._dsn)}; "
                "the user needs CREATE rights on the database (or open it read-only)"
            ) from None
        except BaseException:
            con.close()
            raise
        self._con = con

    def _call(self, what: str, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Run `work` on the connection under the lock; re-open a dropped connection once."""
        with self._lock:
            if self._closed:
                raise StoreError(f"{what}: the store {self.url} is closed; open a new one")
            if self._con is None:  # the last reconnect failed: the server may be back now
                self._connect()
            assert self._con is not None
            for attempt in (1, 2):
                try:
                    return work(self._con)
                except psycopg.OperationalError as exc:
                    if attempt == 2 or not (self._con.broken or self._con.closed):
                        raise self._error(what, exc) from exc
                    log.warning(
                        "connection to %s lost (%s); reconnecting once",
                        self.url,
                        scrub(str(exc).strip(), self._dsn),
                    )
                    self._con.close()
                    self._con = None
                    self._connect()
                    assert self._con is not None
                except psycopg.Error as exc:
                    raise self._error(what, exc) from exc
            raise AssertionError("unreachable")

    def _error(self, what: str, exc: Exception) -> StoreError:
        return StoreError(f"{what} failed in {self.url}: {scrub(str(exc).strip(), self._dsn)}")

    # -- writing -----------------------------------------------------------------------------
    def append(self, table: pa.Table) -> int:
        return self._append(table_kind(table), table)

    def append_samples(self, table: pa.Table) -> int:
        return self._append("samples", table)

    def append_waveforms(self, table: pa.Table) -> int:
        return self._append("waveforms", table)

    def append_events(self, table: pa.Table) -> int:
        return self._append("events", table)

    def _append(self, kind: str, table: pa.Table) -> int:
        if self.read_only:
            raise StoreError(f"append to {kind}: {self.url} was opened read-only")
        if table.num_rows == 0:
            return 0
        try:
            table = conform(table, _SCHEMAS[kind], kind)
        except DataError as exc:
            raise StoreError(f"append to {kind} in {self.url} refused: {exc}") from exc
        batch, ts_ns = to_stored(table)
        lo, hi = (v.as_py() for v in pc.min_max(ts_ns).values())
        days = batch_days(lo, hi, ts_ns.to_numpy())
        names = [*batch.column_names]
        if kind != "events":
            names[1] = "signal_id"
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in names)
        target, stage = sql.Identifier(kind), sql.Identifier(f"_stage_{kind}")
        direct = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(target, cols)
        staged = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(stage, cols)
        merge = sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT DO NOTHING").format(
            target, cols, cols, stage
        )
        newest = self._newest.get(kind)
        optimistic = newest is None or lo > newest

        def work(con: psycopg.Connection[Any]) -> int:
            rows = batch
            if kind != "events":
                ids = self._signal_ids.to_ids(con, batch.column("signal"))
                rows = batch.set_column(1, "signal_id", ids)
            payload = to_csv(rows, _HEX.get(kind, ()))
            self.layout.ensure_partitions(con, kind, days)
            with con.cursor() as cur:
                if optimistic:
                    try:  # autocommit: the COPY is a transaction of its own, one round trip
                        with cur.copy(direct) as cp:
                            cp.write(payload)
                        return max(cur.rowcount, 0)
                    except psycopg.errors.UniqueViolation:
                        log.debug("%s: batch overlaps stored rows; merging instead", kind)
                with con.transaction():
                    with cur.copy(staged) as cp:
                        cp.write(payload)
                    cur.execute(merge)
                    return max(cur.rowcount, 0)

        inserted = self._call(f"append to {kind}", work)
        self._newest[kind] = hi if newest is None else max(newest, hi)
        return inserted

    # -- reading -----------------------------------------------------------------------------
    def _read(
        self,
        kind: str,
        query: Callable[[sql.Composable], sql.Composable],
        what: str,
        signals: list[str] | None = None,
        start: object = None,
        end: object = None,
        extra: dict[str, Any] | None = None,
    ) -> pa.Table:
        """COPY `query(where)` out and parse it into the raw columns of `kind`; for samples and
        waveforms, signal paths in the filter become ids, ids in the result become a
        dictionary-encoded `signal` column, and rows come out ordered by (path, ts) like
        DuckDB returns them."""

        def work(con: psycopg.Connection[Any]) -> tuple[pa.Table, pa.Array | None]:
            ids = None if signals is None else self._signal_ids.find(con, signals)
            where = self._where("signal_id", ids, start, end, extra)
            statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv)").format(query(where))
            data = copy_out(con, statement.as_bytes(con))
            raw = from_csv(data, _RAW[kind], _HEX.get(kind, ()), kind == "events")
            if "signal_id" not in raw.column_names:
                return raw, None
            return raw, self._signal_ids.to_names(con, raw.column("signal_id").to_numpy())

        raw, column = self._call(what, work)
        if column is None:
            return raw
        raw = raw.set_column(1, "signal", column)
        # ordered here, not by the server: its ORDER BY walks the index and visits the heap in
        # index order (~2x a plain scan for a whole-table read); a sorted result (one signal's
        # index range) is only checked, O(n)
        codes, ts = column.indices.to_numpy(), raw.column("ts_ns").to_numpy()
        same = codes[1:] == codes[:-1]
        if not np.all((codes[1:] > codes[:-1]) | (same & (ts[1:] > ts[:-1]))):
            raw = raw.take(np.lexsort((ts, codes)))
        return raw

    @staticmethod
    def _where(
        column: str,
        ids: list[int] | None,
        start: object,
        end: object,
        extra: dict[str, Any] | None = None,
    ) -> sql.Composable:
        clauses: list[sql.Composable] = []
        if ids is not None:
            clauses.append(
                sql.SQL("{} = ANY({}::int[])").format(sql.Identifier(column), sql.Literal(ids))
            )
        lo, hi = to_ns(start), to_ns(end)
        if lo is not None:
            clauses.append(sql.SQL("ts_ns >= {}").format(sql.Literal(lo)))
        if hi is not None:
            clauses.append(sql.SQL("ts_ns < {}").format(sql.Literal(hi)))
        for col, val in (extra or {}).items():
            if val is not None:
                clauses.append(sql.SQL("{} = {}").format(sql.Identifier(col), sql.Literal(val)))
        if not clauses:
            return sql.SQL("")
        return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(clauses)

    def read_samples(
        self, signals: str | list[str] | None = None, start: object = None, end: object = None
    ) -> pa.Table:
        def query(where: sql.Composable) -> sql.Composable:
            return sql.SQL("SELECT ts_ns, signal_id, value, quality FROM samples{}").format(where)

        raw = self._read("samples", query, "read samples", signal_list(signals), start, end)
        return from_stored(raw, SAMPLES_SCHEMA)

    def read_waveforms(
        self, signals: str | list[str] | None = None, start: object = None, end: object = None
    ) -> pa.Table:
        def query(where: sql.Composable) -> sql.Composable:
            return sql.SQL('SELECT ts_ns, signal_id, rate_hz, "values" FROM waveforms{}').format(
                where
            )

        raw = self._read("waveforms", query, "read waveforms", signal_list(signals), start, end)
        return from_stored(raw, WAVEFORMS_SCHEMA)

    def read_events(
        self,
        source: str | None = None,
        start: object = None,
        end: object = None,
        kind: str | None = None,
    ) -> pa.Table:
        def query(where: sql.Composable) -> sql.Composable:
            return sql.SQL(
                "SELECT ts_ns, source, kind, severity, payload FROM events{} ORDER BY ts_ns"
            ).format(where)

        extra = {"source": source, "kind": kind}
        raw = self._read("events", query, "read events", None, start, end, extra)
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
        select = sql.SQL(", ").join(
            sql.SQL("{} AS {}").format(sql.SQL(_AGG_SQL[a]), sql.Identifier(a)) for a in aggs
        )
        schema = pa.schema(
            [("ts_ns", pa.int64())]
            + [(a, pa.int64() if a == "count" else pa.float64()) for a in aggs]
            + [("n", pa.int64())]
        )

        def work(con: psycopg.Connection[Any]) -> bytearray:
            where = self._where("signal_id", self._signal_ids.find(con, [signal]), start, end)
            query = sql.SQL(
                "SELECT (ts_ns / {w}) * {w} AS ts_ns, {select}, count(*) AS n "
                "FROM samples{where} GROUP BY 1 ORDER BY 1"
            ).format(w=sql.Literal(width), select=select, where=where)
            statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv)").format(query)
            return copy_out(con, statement.as_bytes(con))

        raw = from_csv(self._call("downsample", work), schema)
        return raw.set_column(0, "ts", raw.column("ts_ns").cast(TS_TYPE))

    def latest(self, signals: str | list[str] | None = None) -> pa.Table:
        # the newest row per signal is one backward probe of the (signal_id, ts_ns) index; its
        # value is the newest non-NULL one, as DuckDB's arg_max gives it
        def query(where: sql.Composable) -> sql.Composable:
            source = (
                sql.SQL(_SIGNAL_IDS)
                if wanted is None
                else sql.SQL("SELECT DISTINCT unnest({}::int[]) AS id").format(sql.Literal(ids))
            )
            return sql.SQL(
                "SELECT l.ts_ns, s.id, v.value, l.quality FROM ({}) s "
                "CROSS JOIN LATERAL (SELECT ts_ns, quality FROM samples t "
                "WHERE t.signal_id = s.id ORDER BY ts_ns DESC LIMIT 1) l "
                "LEFT JOIN LATERAL (SELECT value FROM samples t WHERE t.signal_id = s.id "
                "AND t.value IS NOT NULL ORDER BY ts_ns DESC LIMIT 1) v ON true"
            ).format(source)

        wanted = signal_list(signals)
        ids: list[int] = []
        if wanted is not None:
            ids = self._call("latest", lambda con: self._signal_ids.find(con, wanted))
        raw = self._read("samples", query, "latest")
        return from_stored(raw, SAMPLES_SCHEMA)

    def signals(self) -> list[str]:
        def work(con: psycopg.Connection[Any]) -> list[str]:
            ids = np.array([r[0] for r in con.execute(_SIGNAL_IDS).fetchall()], dtype=np.int32)
            column = self._signal_ids.to_names(con, ids)
            return [str(n) for n in column.dictionary.to_pylist()]

        return self._call("list signals", work)

    def count(self, kind: str = "samples") -> int:
        if kind not in _SCHEMAS:
            raise StoreError(f"unknown table {kind!r}; choose from {sorted(_SCHEMAS)}")

        def work(con: psycopg.Connection[Any]) -> int:
            row = con.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(kind)))
            return int(row.fetchone()[0])  # type: ignore[index]

        return self._call(f"count {kind}", work)

    # -- housekeeping ------------------------------------------------------------------------
    def apply_retention(self, keep_s: float, now: object = None) -> int:
        if self.read_only:
            raise StoreError(f"retention: {self.url} was opened read-only")
        now_ns = to_ns(now) if now is not None else time.time_ns()
        assert now_ns is not None
        cutoff = now_ns - int(keep_s * 1e9)
        deleted = 0
        for kind in _SCHEMAS:

            def work(con: psycopg.Connection[Any], kind: str = kind) -> int:
                return self.layout.retention(con, kind, cutoff)

            deleted += self._call(f"retention on {kind}", work)
        log.info("retention removed %d rows older than %.0f s from %s", deleted, keep_s, self.url)
        return deleted

    def flush(self) -> None:
        """Nothing to do: every append is a committed transaction when it returns."""

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._con is not None:
                self._con.close()
                self._con = None

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
