"""How the history tables are laid out in PostgreSQL: TimescaleDB hypertables when the server has
the extension, native daily range partitions otherwise; and retention that drops whole days.

Both layouts partition on `ts_ns` (BIGINT epoch ns, exact like the DuckDB store) in 1-day
slices, so retention is a catalogue operation (drop a partition/chunk) and only the day that
straddles the cutoff pays a row DELETE. Native partitions are created on demand for the days a
batch covers; a DEFAULT partition catches anything else (a batch spanning more than
`MAX_NEW_PARTITIONS` days, or a day another writer just dropped), so no row is ever rejected,
and a later partition for such a day takes its rows over from the DEFAULT.
The unique index on each table's idempotence key includes ts_ns, which PostgreSQL requires of a
unique index on a partitioned table and TimescaleDB of one on a hypertable.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np
from psycopg import Connection, sql

from edgetwin.store.pg_signals import DDL as SIGNALS_DDL

log = logging.getLogger(__name__)

DAY_NS = 86_400 * 10**9
MAX_NEW_PARTITIONS = 64  # per batch; days beyond that land in the DEFAULT partition

Mode = Literal["timescaledb", "partitioned", "plain"]

# signals are INTEGER ids into the `signals` table (pg_signals.py); the text columns of events
# use the "C" collation: byte order like DuckDB and the cheapest comparisons for the index
COLUMNS: dict[str, str] = {
    "samples": "ts_ns BIGINT NOT NULL, signal_id INTEGER NOT NULL, "
    "value DOUBLE PRECISION, quality SMALLINT NOT NULL",
    "waveforms": "ts_ns BIGINT NOT NULL, signal_id INTEGER NOT NULL, "
    'rate_hz DOUBLE PRECISION NOT NULL, "values" BYTEA NOT NULL',
    "events": 'ts_ns BIGINT NOT NULL, source TEXT COLLATE "C" NOT NULL, '
    'kind TEXT COLLATE "C" NOT NULL, severity INTEGER NOT NULL, payload TEXT',
}
KEYS: dict[str, tuple[str, ...]] = {
    "samples": ("signal_id", "ts_ns"),
    "waveforms": ("signal_id", "ts_ns"),
    "events": ("source", "kind", "ts_ns"),
}
_BOUND = re.compile(r"FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)")
_SETUP_LOCK = 0x6564_6774  # advisory lock id: one process at a time creates tables/partitions


def day_name(table: str, day: int) -> str:
    """`samples_p20261124`: the partition holding that UTC day (day = ts_ns // DAY_NS)."""
    date = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day)
    return f"{table}_p{date:%Y%m%d}"


def batch_days(ts_min: int, ts_max: int, ts: np.ndarray) -> list[int]:
    """Days to make sure exist for a batch: its whole range when short, else the days it has."""
    lo, hi = ts_min // DAY_NS, ts_max // DAY_NS
    if hi - lo < MAX_NEW_PARTITIONS:
        return list(range(lo, hi + 1))
    return [int(d) for d in np.unique(ts // DAY_NS)]


class Layout:
    """Creates the tables once, then keeps daily partitions and retention in step with the data.

    `known` caches, per table, the days that already have a partition, so an append in a day
    seen before costs no catalogue query. Partitions another process drops behind our back
    only send rows to the DEFAULT partition; nothing is rejected.
    """

    def __init__(self, use_timescaledb: bool | None = None) -> None:
        self.use_timescaledb = use_timescaledb  # None: use it when the server has it
        self.mode: Mode = "partitioned"
        self.known: dict[str, set[int]] = {t: set() for t in COLUMNS}

    # -- setup -------------------------------------------------------------------------------
    def setup(self, con: Connection[Any]) -> Mode:
        """Create missing tables and indexes (idempotent); return the layout in use."""
        with con.transaction():
            con.execute("SELECT pg_advisory_xact_lock(%s)", [_SETUP_LOCK])
            existing = self._existing_mode(con)
            self.mode = existing or self._choose_mode(con)
            con.execute(SIGNALS_DDL)
            for table, columns in COLUMNS.items():
                self._create(con, table, columns)
        self.load_partitions(con)
        log.info("postgres store layout: %s", self.mode)
        return self.mode

    def detect(self, con: Connection[Any]) -> Mode | None:
        """The layout of tables that already exist (read-only use), or None when there are none."""
        existing = self._existing_mode(con)
        if existing:
            self.mode = existing
            self.load_partitions(con)
        return existing

    def _existing_mode(self, con: Connection[Any]) -> Mode | None:
        row = con.execute(
            "SELECT relkind FROM pg_class WHERE oid = to_regclass('samples')"
        ).fetchone()
        if row is None:
            return None
        if row[0] == "p":
            return "partitioned"
        if self._has_extension(con):
            hyper = con.execute(
                "SELECT 1 FROM timescaledb_information.hypertables "
                "WHERE hypertable_name = 'samples' AND hypertable_schema = current_schema()"
            ).fetchone()
            if hyper:
                return "timescaledb"
        return "plain"

    @staticmethod
    def _has_extension(con: Connection[Any]) -> bool:
        return bool(
            con.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
        )

    def _choose_mode(self, con: Connection[Any]) -> Mode:
        if self.use_timescaledb is False:
            return "partitioned"
        available = con.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
        ).fetchone()
        if not available:
            if self.use_timescaledb:
                log.warning(
                    "TimescaleDB asked for but not installed on the server; using "
                    "native daily partitions"
                )
            return "partitioned"
        try:
            with con.transaction():  # a savepoint: a refused extension must not abort setup
                con.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            return "timescaledb"
        except Exception as exc:  # noqa: BLE001 - e.g. not in shared_preload_libraries, no rights
            log.warning(
                "TimescaleDB is available but cannot be enabled (%s); using native daily "
                "partitions",
                exc,
            )
            return "partitioned"

    def _create(self, con: Connection[Any], table: str, columns: str) -> None:
        name = sql.Identifier(table)
        key = sql.SQL(", ").join(sql.Identifier(k) for k in KEYS[table])
        if self.mode == "partitioned":
            con.execute(
                sql.SQL("CREATE TABLE IF NOT EXISTS {} ({}) PARTITION BY RANGE (ts_ns)").format(
                    name, sql.SQL(columns)
                )
            )
            con.execute(
                sql.SQL("CREATE TABLE IF NOT EXISTS {} PARTITION OF {} DEFAULT").format(
                    sql.Identifier(f"{table}_default"), name
                )
            )
        else:
            con.execute(
                sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(name, sql.SQL(columns))
            )
        if self.mode == "timescaledb":
            con.execute(
                "SELECT create_hypertable(%s::regclass, 'ts_ns', "
                "chunk_time_interval => %s::bigint, if_not_exists => TRUE)",
                [table, DAY_NS],
            )
        con.execute(
            sql.SQL("CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} ({})").format(
                sql.Identifier(f"{table}_key"), name, key
            )
        )

    # -- partitions --------------------------------------------------------------------------
    def _partitions(self, con: Connection[Any], table: str) -> list[tuple[str, int, int]]:
        """(name, lo, hi) of each range partition of `table` (the DEFAULT one excluded)."""
        rows = con.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(%s)",
            [table],
        ).fetchall()
        out = []
        for name, bound in rows:
            m = _BOUND.search(bound or "")
            if m:
                out.append((str(name), int(m.group(1)), int(m.group(2))))
        return out

    def load_partitions(self, con: Connection[Any]) -> None:
        if self.mode != "partitioned":
            return
        for table in COLUMNS:
            days: set[int] = set()
            for _, lo, hi in self._partitions(con, table):
                if hi - lo <= 400 * DAY_NS:  # one of ours, or a foreign one of sane size
                    days.update(range(lo // DAY_NS, (hi - 1) // DAY_NS + 1))
            self.known[table] = days

    def ensure_partitions(self, con: Connection[Any], table: str, days: list[int]) -> None:
        """Create the daily partitions a batch needs (own short transaction, before the data)."""
        if self.mode != "partitioned":
            return
        missing = [d for d in days if d not in self.known[table]]
        if not missing:
            return
        with con.transaction():
            con.execute("SELECT pg_advisory_xact_lock(%s)", [_SETUP_LOCK])
            self.load_partitions(con)  # another writer may have made some meanwhile
            missing = [d for d in missing if d not in self.known[table]]
            if len(missing) > MAX_NEW_PARTITIONS:
                log.warning(
                    "%s: batch spans %d new days; creating %d partitions, the rest go to %s_default",
                    table,
                    len(missing),
                    MAX_NEW_PARTITIONS,
                    table,
                )
                missing = missing[:MAX_NEW_PARTITIONS]
            for day in missing:
                self._create_partition(con, table, day)
        self.known[table].update(missing)

    def _create_partition(self, con: Connection[Any], table: str, day: int) -> None:
        lo, hi = day * DAY_NS, (day + 1) * DAY_NS
        part, parent = sql.Identifier(day_name(table, day)), sql.Identifier(table)
        default = sql.Identifier(f"{table}_default")
        stranded = con.execute(
            sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE ts_ns >= %s AND ts_ns < %s)").format(
                default
            ),
            [lo, hi],
        ).fetchone()
        if not (stranded and stranded[0]):
            con.execute(
                sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
                    part, parent, sql.Literal(lo), sql.Literal(hi)
                )
            )
            return
        # rows of this day sit in the DEFAULT partition: move them into the new one, then attach
        con.execute(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS)").format(part, parent))
        con.execute(
            sql.SQL(
                "WITH moved AS (DELETE FROM {} WHERE ts_ns >= %s AND ts_ns < %s RETURNING *) "
                "INSERT INTO {} SELECT * FROM moved"
            ).format(default, part),
            [lo, hi],
        )
        con.execute(
            sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
                parent, part, sql.Literal(lo), sql.Literal(hi)
            )
        )
        log.info("%s: moved the DEFAULT partition's rows of day %s into their own", table, day)

    # -- retention ---------------------------------------------------------------------------
    def retention(self, con: Connection[Any], table: str, cutoff_ns: int) -> int:
        """Delete rows with ts_ns < cutoff; whole partitions/chunks go by DROP. Rows removed."""
        name = sql.Identifier(table)
        with con.transaction():
            dropped = 0
            if self.mode == "partitioned":
                con.execute("SELECT pg_advisory_xact_lock(%s)", [_SETUP_LOCK])
                for part, lo, hi in self._partitions(con, table):
                    if hi <= cutoff_ns:
                        row = con.execute(
                            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(part))
                        ).fetchone()
                        dropped += int(row[0]) if row else 0
                        con.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(part)))
                        self.known[table].difference_update(
                            range(lo // DAY_NS, (hi - 1) // DAY_NS + 1)
                        )
            elif self.mode == "timescaledb":
                row = con.execute(
                    sql.SQL("SELECT count(*) FROM {} WHERE ts_ns < %s").format(name), [cutoff_ns]
                ).fetchone()
                dropped = int(row[0]) if row else 0
                con.execute(
                    "SELECT drop_chunks(%s::regclass, older_than => %s::bigint)",
                    [table, cutoff_ns],
                )
                con.execute(sql.SQL("DELETE FROM {} WHERE ts_ns < %s").format(name), [cutoff_ns])
                return dropped
            cur = con.execute(sql.SQL("DELETE FROM {} WHERE ts_ns < %s").format(name), [cutoff_ns])
            return dropped + max(cur.rowcount, 0)
