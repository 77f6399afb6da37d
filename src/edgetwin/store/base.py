"""The `Store` protocol every backend implements, and `open_store` that picks one from a URL.

Reads return Arrow tables in the core schemas so nothing downstream converts formats.
Appends are idempotent on (signal, ts): a replayed batch never duplicates history.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import pyarrow as pa

from edgetwin.core.errors import StoreError

Agg = Literal["avg", "min", "max", "last", "first", "count"]


def table_kind(table: pa.Table) -> str:
    """Which history table ("samples", "waveforms", "events") a batch belongs to, by columns."""
    names = set(table.column_names)
    if {"rate_hz", "values"} <= names:
        return "waveforms"
    if {"source", "kind"} <= names:
        return "events"
    if {"signal", "value"} <= names:
        return "samples"
    raise StoreError(
        f"cannot tell which table columns {table.column_names} belong to; expected the samples, "
        "waveforms or events schema (build batches with edgetwin.core.make_*)"
    )


def signal_list(signals: str | list[str] | None) -> list[str] | None:
    """One name, several, or None (all) as a list or None."""
    if signals is None:
        return None
    return [signals] if isinstance(signals, str) else list(signals)


def bucket_width_ns(every_s: float, aggs: tuple[str, ...], known: Iterable[str]) -> int:
    """Validate a downsample request the same way for every backend; the bucket width in ns."""
    if every_s <= 0:
        raise StoreError(f"every_s must be > 0 (got {every_s}); give the bucket width in seconds")
    allowed = sorted(known)
    unknown = [a for a in aggs if a not in allowed]
    if unknown:
        raise StoreError(f"unknown aggregate(s) {unknown}; choose from {allowed}")
    return int(every_s * 1e9)


@runtime_checkable
class Store(Protocol):
    def append_samples(self, table: pa.Table) -> int:
        """Insert new (signal, ts) rows, ignore ones already stored; return rows inserted."""
        ...

    def append_waveforms(self, table: pa.Table) -> int: ...

    def append_events(self, table: pa.Table) -> int: ...

    def append(self, table: pa.Table) -> int:
        """Dispatch on the table's schema to the matching append."""
        ...

    def read_samples(
        self, signals: str | list[str] | None = None, start: object = None, end: object = None
    ) -> pa.Table:
        """Samples in [start, end) ordered by signal, ts; bounds are datetimes, ns ints or None."""
        ...

    def read_waveforms(
        self, signals: str | list[str] | None = None, start: object = None, end: object = None
    ) -> pa.Table: ...

    def read_events(
        self,
        source: str | None = None,
        start: object = None,
        end: object = None,
        kind: str | None = None,
    ) -> pa.Table: ...

    def downsample(
        self,
        signal: str,
        every_s: float,
        start: object = None,
        end: object = None,
        aggs: tuple[Agg, ...] = ("min", "max", "avg", "last"),
    ) -> pa.Table:
        """One row per time bucket of `every_s` seconds: bucket start ts + one column per agg."""
        ...

    def latest(self, signals: str | list[str] | None = None) -> pa.Table:
        """The last sample of each signal (samples schema)."""
        ...

    def signals(self) -> list[str]: ...

    def apply_retention(self, keep_s: float, now: object = None) -> int:
        """Delete samples, waveforms and events older than `keep_s` seconds; return rows deleted."""
        ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


def open_store(url: str | Path = "edgetwin.duckdb", **options: object) -> Store:
    """Open a store from a path (DuckDB) or a `postgresql://` URL (PostgreSQL/TimescaleDB)."""
    text = str(url)
    if text.startswith(("postgresql://", "postgres://")):
        from edgetwin.store.postgres import PostgresStore

        return PostgresStore(text, **options)  # type: ignore[arg-type]
    from edgetwin.store.duckdb_store import DuckDBStore

    return DuckDBStore(text, **options)  # type: ignore[arg-type]
