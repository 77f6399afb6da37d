"""PostgreSQL store benchmark: `PostgresStore.append` beside raw psycopg COPY, and range reads.

Run: `.venv/bin/python bench/ingest_postgres.py [--repeats 5] [--url postgresql://...]`

Without `--url` it starts its own throwaway cluster (durable settings: fsync on) on a loopback
port and deletes it afterwards. Every case runs in a fresh child process (so peak RSS is the
case's own, client side) against fresh tables (a schema of its own), `--repeats` times; the
table quotes medians. Raw is psycopg COPY of the same rows (Arrow CSV writer, the fastest way
to hand an Arrow batch to COPY) into a bare table with the same columns and no index; "raw +
key index" adds the unique (signal, ts) index every idempotent store needs, to show where the
time goes. Reads: `read_samples()` of 1M rows (ordered, in the samples schema) beside raw
`COPY TO` read with psycopg's `for data in copy` loop and parsed by pyarrow.csv.
The ratio is ours / raw in the same run on the same machine.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing as mp
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

# the same batches and the same fresh-process harness as bench/ingest.py (DuckDB)
from ingest import _run, _samples_batches  # noqa: E402

RAW_COLUMNS = (
    "ts_ns BIGINT NOT NULL, signal TEXT NOT NULL, value DOUBLE PRECISION, quality SMALLINT"
)


def _in_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def _raw_csv(batch: Any) -> bytes:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = batch.set_column(0, "ts_ns", batch.column("ts").cast(pa.int64()))
    sink = io.BytesIO()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False))
    return sink.getvalue()


def _ingest(kind: str, url: str, schema: str, rows: int, total: int, queue: mp.Queue) -> None:
    import psycopg

    from edgetwin.store.postgres import PostgresStore

    batches = _samples_batches(rows, total)
    times: list[float] = []
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        if kind == "ours":
            store = PostgresStore(_in_schema(url, schema))
            for batch in batches:
                t0 = time.perf_counter()
                store.append(batch)
                times.append(time.perf_counter() - t0)
            stored = store.count()
            store.close()
        else:
            with psycopg.connect(_in_schema(url, schema), autocommit=True) as con:
                con.execute(f"CREATE TABLE raw ({RAW_COLUMNS})")
                if kind == "raw_idx":
                    con.execute("CREATE UNIQUE INDEX ON raw (signal, ts_ns)")
                for batch in batches:
                    t0 = time.perf_counter()
                    with (
                        con.cursor() as cur,
                        cur.copy(
                            "COPY raw (ts_ns, signal, value, quality) FROM STDIN (FORMAT csv)"
                        ) as cp,
                    ):
                        cp.write(_raw_csv(batch))
                    times.append(time.perf_counter() - t0)
                row = con.execute("SELECT count(*) FROM raw").fetchone()
                stored = int(row[0]) if row else 0
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
    assert stored == sum(b.num_rows for b in batches), (kind, stored)
    queue.put(
        (
            stored / sum(times),
            float(np.percentile(times, 50)) * 1e3,
            float(np.percentile(times, 99)) * 1e3,
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        )
    )


def _load_for_reads(url: str, schema: str, rows: int) -> None:
    import psycopg

    from edgetwin.store.postgres import PostgresStore

    batches = _samples_batches(100_000, rows)
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    with PostgresStore(_in_schema(url, schema)) as store:
        for batch in batches:
            store.append(batch)
    with psycopg.connect(_in_schema(url, schema), autocommit=True) as con:
        con.execute(f"CREATE TABLE raw ({RAW_COLUMNS})")
        for batch in batches:
            with con.cursor() as cur, cur.copy("COPY raw FROM STDIN (FORMAT csv)") as cp:
                cp.write(_raw_csv(batch))
        con.execute("VACUUM ANALYZE")


def _read(kind: str, url: str, schema: str, queue: mp.Queue) -> None:
    import psycopg
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from edgetwin.store.postgres import PostgresStore

    if kind == "ours":
        store = PostgresStore(_in_schema(url, schema), read_only=True)
        t0 = time.perf_counter()
        n = store.read_samples().num_rows
        elapsed = time.perf_counter() - t0
        store.close()
    else:
        types = {
            "ts_ns": pa.int64(),
            "signal": pa.string(),
            "value": pa.float64(),
            "quality": pa.uint8(),
        }
        with psycopg.connect(_in_schema(url, schema), autocommit=True) as con:
            t0 = time.perf_counter()
            buf = bytearray()
            with con.cursor() as cur, cur.copy("COPY raw TO STDOUT (FORMAT csv)") as cp:
                for data in cp:
                    buf += data
            table = pacsv.read_csv(
                pa.BufferReader(buf),
                read_options=pacsv.ReadOptions(column_names=list(types)),
                convert_options=pacsv.ConvertOptions(column_types=types, null_values=[""]),
            )
            elapsed = time.perf_counter() - t0
            n = table.num_rows
    queue.put(
        (n / elapsed, elapsed * 1e3, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    )


def _server_line(url: str) -> str:
    import psycopg

    with psycopg.connect(url) as con:
        version = con.execute("SHOW server_version").fetchone()
        fsync = con.execute("SHOW fsync").fetchone()
        sync = con.execute("SHOW synchronous_commit").fetchone()
        tsdb = con.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
        ).fetchone()
    layout = "TimescaleDB hypertables" if tsdb else "native daily partitions (no TimescaleDB)"
    return (
        f"PostgreSQL {version[0] if version else '?'}, fsync={fsync[0] if fsync else '?'}, "
        f"synchronous_commit={sync[0] if sync else '?'}, {layout}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--url", default="", help="an existing server (default: start one)")
    parser.add_argument("--read-rows", type=int, default=1_000_000)
    parser.add_argument("--no-fsync", action="store_true", help="own cluster without fsync")
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    from edgetwin.store.pg_cluster import LocalCluster

    cluster = None
    url = args.url
    if not url:
        cluster = LocalCluster(durable=not args.no_fsync).start()
        url = cluster.url()
    console = Console(width=180)
    try:
        console.print(_server_line(url))
        ingest = Table(
            title=f"PostgresStore.append vs raw psycopg COPY (median of {args.repeats}, "
            "fresh process and tables each)"
        )
        for col in (
            "rows/batch",
            "raw COPY rows/s",
            "raw + key index rows/s",
            "PostgresStore rows/s",
            "ratio ours/raw",
            "p50 ms raw / ours",
            "p99 ms raw / ours",
            "peak RSS MiB raw / ours",
        ):
            ingest.add_column(col, justify="right")
        cases = [(1_000, 200_000), (10_000, 500_000), (100_000, 1_000_000)]
        n = 0
        for rows, total in cases:
            res: dict[str, list[tuple[Any, ...]]] = {"raw": [], "raw_idx": [], "ours": []}
            for _ in range(args.repeats):
                for kind in res:
                    n += 1
                    res[kind].append(_run(_ingest, kind, url, f"bench_{n}", rows, total))

            def med(kind: str, i: int, res: dict[str, list[tuple[Any, ...]]] = res) -> float:
                return statistics.median(r[i] for r in res[kind])

            ingest.add_row(
                f"{rows:,}",
                f"{med('raw', 0):,.0f}",
                f"{med('raw_idx', 0):,.0f}",
                f"{med('ours', 0):,.0f}",
                f"{med('ours', 0) / med('raw', 0):.2f}x",
                f"{med('raw', 1):.1f} / {med('ours', 1):.1f}",
                f"{med('raw', 2):.1f} / {med('ours', 2):.1f}",
                f"{max(r[3] for r in res['raw']):.0f} / {max(r[3] for r in res['ours']):.0f}",
            )
        console.print(ingest)

        _load_for_reads(url, "bench_read", args.read_rows)
        try:
            reads: dict[str, list[tuple[Any, ...]]] = {"raw": [], "ours": []}
            for _ in range(args.repeats):
                for kind in reads:
                    reads[kind].append(_run(_read, kind, url, "bench_read"))
        finally:
            import psycopg

            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute("DROP SCHEMA bench_read CASCADE")
        read = Table(title=f"Reading {args.read_rows:,} samples (median of {args.repeats})")
        for col in ("path", "rows/s", "ms", "ratio", "peak RSS MiB"):
            read.add_column(col, justify="right")
        raw_rate = statistics.median(r[0] for r in reads["raw"])
        for kind, label in (
            ("raw", "raw COPY TO → pyarrow.csv (unordered, bare table)"),
            ("ours", "PostgresStore.read_samples() (ordered by signal, ts)"),
        ):
            rate = statistics.median(r[0] for r in reads[kind])
            read.add_row(
                label,
                f"{rate:,.0f}",
                f"{statistics.median(r[1] for r in reads[kind]):,.0f}",
                f"{rate / raw_rate:.2f}x",
                f"{max(r[2] for r in reads[kind]):.0f}",
            )
        console.print(read)
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
