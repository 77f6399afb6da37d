"""What only the PostgreSQL store does, on a real throwaway server: partitions, retention,
failures, reconnection, threads, and parity with DuckDB on the same batches.

The contract both backends share (round trips, idempotence, reads, downsampling) is in
test_store_contract.py."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import psycopg
import pyarrow as pa
import pytest

from edgetwin.core import StoreError, make_events, make_samples, make_waveforms
from edgetwin.store import open_store, pg_layout
from edgetwin.store.duckdb_store import DuckDBStore
from edgetwin.store.location import display_name, is_url, store_location
from edgetwin.store.pg_cluster import LocalCluster
from edgetwin.store.pg_layout import DAY_NS, day_name
from edgetwin.store.pg_url import mask_url
from edgetwin.store.postgres import PostgresStore

T0 = 1_700_000_040 * 10**9  # a whole minute, so 60 s buckets align
S = 10**9


def _samples(start: int, n: int, signal: str = "acme/l1/p1/temp") -> pa.Table:
    ts = T0 + (start + np.arange(n, dtype=np.int64)) * S
    return make_samples(ts, signal, np.arange(start, start + n, dtype=float))


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as con:
        rows = con.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r[0] for r in rows}


def test_open_store_dispatches_and_close_is_idempotent(pg_url: str) -> None:
    store = open_store(pg_url)
    assert isinstance(store, PostgresStore)
    assert store.layout.mode == "partitioned"  # no TimescaleDB on this server
    assert "***" in store.url and pg_url.split(":")[2].split("@")[0] not in store.url
    store.close()
    store.close()
    with pytest.raises(StoreError, match="is closed"):
        store.count()
    # asking for TimescaleDB where the server has none falls back to native partitions
    with PostgresStore(pg_url, timescaledb=True) as again:
        assert again.layout.mode == "partitioned"
        assert again.append(_samples(0, 2)) == 2


def test_retention_drops_old_partitions_keeps_newer_rows(pg_url: str) -> None:
    day0 = (T0 // DAY_NS + 1) * DAY_NS  # midnight UTC
    hours = np.arange(72, dtype=np.int64)  # three days, one sample an hour
    ts = day0 + hours * 3600 * S
    with open_store(pg_url) as store:
        assert store.append(make_samples(ts, "a/r", hours.astype(float))) == 72
        store.append(make_events(ts[:30], "a/r", "tick", 1))
        parts = [day_name("samples", day0 // DAY_NS + d) for d in range(3)]
        assert set(parts) <= _tables(pg_url)
        now = day0 + 3 * DAY_NS  # keep the last 36 h: day 1 from noon on, and day 2
        deleted = store.apply_retention(keep_s=36 * 3600, now=now)
        assert deleted == 36 + 30
        assert parts[0] not in _tables(pg_url) and parts[1] in _tables(pg_url)
        assert store.read_samples("a/r").column("value").to_pylist() == list(np.arange(36.0, 72.0))
        assert store.count("events") == 0
        # a replay of the dropped day re-creates its partition and is stored again
        assert store.append(make_samples(ts[:24], "a/r", hours[:24].astype(float))) == 24
        assert parts[0] in _tables(pg_url)


def test_rows_beyond_the_partition_cap_go_to_default_then_move(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pg_layout, "MAX_NEW_PARTITIONS", 2)
    days = T0 // DAY_NS + np.array([0, 10, 20, 30, 40])
    ts = days * DAY_NS + 5 * S
    with open_store(pg_url) as store:
        assert store.append(make_samples(ts, "a/d", np.arange(5.0))) == 5
        with psycopg.connect(pg_url) as con:
            in_default = con.execute("SELECT count(*) FROM samples_default").fetchone()
        assert in_default == (3,)
    with open_store(pg_url) as store:  # a fresh writer, unaware of what sits in DEFAULT
        one_more = make_samples(np.array([days[4] * DAY_NS + 6 * S]), "a/d", [9.0])
        assert store.append(one_more) == 1
        with psycopg.connect(pg_url) as con:
            moved = con.execute(
                f"SELECT count(*) FROM {day_name('samples', int(days[4]))}"
            ).fetchone()
            left = con.execute("SELECT count(*) FROM samples_default").fetchone()
        assert moved == (2,) and left == (2,)
        assert store.append(make_samples(ts, "a/d", np.arange(5.0))) == 0  # still idempotent
        assert store.read_samples("a/d").column("value").to_pylist() == [0, 1, 2, 3, 4, 9]


def test_bad_batches_raise_and_keep_earlier_rows(pg_url: str) -> None:
    with open_store(pg_url) as store:
        assert store.append(_samples(0, 10)) == 10
        wrong = _samples(10, 5).drop_columns(["quality"])
        with pytest.raises(StoreError, match="missing column"):
            store.append_samples(wrong)
        text_values = pa.table(
            {
                "ts": _samples(10, 2).column("ts"),
                "signal": ["a", "b"],
                "value": ["x", "y"],
                "quality": pa.array([0, 0], pa.uint8()),
            }
        )
        with pytest.raises(StoreError, match="does not match"):
            store.append_samples(text_values)
        # the server refuses the batch half way (NUL is not allowed in text): nothing of it lands
        nul = make_samples(T0 + np.array([20, 21]) * S, ["ok/sig", "bad\x00sig"], [1.0, 2.0])
        with pytest.raises(StoreError, match="append to samples failed in postgresql://"):
            store.append(nul)
        assert store.count() == 10
        assert store.append(_samples(10, 5)) == 5  # the connection is still usable
        assert store.read_samples().column("value").to_pylist() == list(np.arange(15.0))


def test_connection_errors_mask_the_password(pg_url: str, port: int) -> None:
    dead = f"postgresql://edgetwin:s3cret-pw@127.0.0.1:{port}/db"  # nothing listens there
    with pytest.raises(StoreError) as info:
        open_store(dead)
    message = str(info.value)
    assert "s3cret" not in message
    assert message.startswith("cannot connect to postgresql://edgetwin:***@127.0.0.1:")
    assert "is the server running" in message
    wrong_pw = pg_url.replace("@127.0.0.1", "-nope@127.0.0.1").replace("edgetwin:", "edgetwin:bad-")
    with pytest.raises(StoreError, match="password authentication failed") as info:
        open_store(wrong_pw)
    assert "bad-" not in str(info.value) and "edgetwin:***@" in str(info.value)
    assert mask_url("postgres://u@h/db?password=xyz&sslmode=require") == (
        "postgres://u@h/db?password=***&sslmode=require"
    )


def test_reconnects_once_after_the_connection_drops(pg_url: str) -> None:
    with open_store(pg_url) as store:
        store.append(_samples(0, 10))
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'edgetwin' AND pid <> pg_backend_pid()"
            )
        assert store.append(_samples(10, 10)) == 10  # new connection, staging table re-made
        assert store.count() == 20


def test_survives_a_server_restart(pg_cluster: LocalCluster, pg_url: str) -> None:
    with open_store(pg_url) as store:
        assert store.append(_samples(0, 10)) == 10
        pg_cluster.restart()
        assert store.append(_samples(5, 10)) == 5  # reconnected, still idempotent
        assert store.read_samples().column("value").to_pylist() == list(np.arange(15.0))


def test_read_only_and_threads(pg_url: str) -> None:
    with pytest.raises(StoreError, match="no edgetwin tables"):
        open_store(pg_url, read_only=True)
    with open_store(pg_url) as store:
        threads = [
            threading.Thread(target=store.append, args=(_samples(i * 100, 100, f"t/{i}"),))
            for i in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert store.count() == 400
    with open_store(pg_url, read_only=True) as ro:
        assert ro.signals() == ["t/0", "t/1", "t/2", "t/3"]
        with pytest.raises(StoreError, match="read-only"):
            ro.append(_samples(0, 1))


def _parity_batches() -> list[pa.Table]:
    rng = np.random.default_rng(11)
    out: list[pa.Table] = []
    for _ in range(4):  # interleaved signals, overlapping replays, in-batch duplicate keys
        n = 3000
        ts = T0 + rng.integers(0, 2 * DAY_NS // S, size=n).astype(np.int64) * S
        idx = rng.integers(0, 3, size=n)
        names = np.array(["s/a", "s/b", "s/c"])[idx].tolist()
        # a value fixed by its key, so whichever duplicate wins the stored value is the same
        out.append(make_samples(ts, names, (ts // S % 977 + idx * 1000).astype(float)))
        out.append(out[-1].slice(0, 500))
    block = rng.normal(size=(20, 64)).astype(np.float32)
    out.append(make_waveforms(T0 + np.arange(20) * S * 90, "s/w", 5000.0, block))
    out.append(make_events(T0 + np.arange(10) * S * 7, "s/a", "alarm", 500, {"k": 1}))
    return out


def test_parity_with_duckdb(pg_url: str, tmp_path: Path) -> None:
    aggs = ("min", "max", "avg", "last", "first", "count")
    with open_store(pg_url) as pg, DuckDBStore(tmp_path / "p.duckdb") as duck:
        for batch in _parity_batches():
            assert pg.append(batch) == duck.append(batch)
        for kind in ("samples", "waveforms", "events"):
            assert pg.count(kind) == duck.count(kind)
        assert pg.signals() == duck.signals()
        assert pg.read_samples().equals(duck.read_samples())
        window = {"start": T0 + 3600 * S, "end": T0 + DAY_NS}
        assert pg.read_samples(["s/a", "s/c"], **window).equals(
            duck.read_samples(["s/a", "s/c"], **window)
        )
        assert pg.read_waveforms().equals(duck.read_waveforms())
        assert pg.read_events().equals(duck.read_events())
        assert pg.latest().equals(duck.latest())
        for sig in ("s/a", "s/b"):
            a = pg.downsample(sig, 900, aggs=aggs, **window)
            b = duck.downsample(sig, 900, aggs=aggs, **window)
            assert a.column("ts").equals(b.column("ts"))
            for col in ("min", "max", "last", "first", "count", "n"):
                assert a.column(col).to_pylist() == b.column(col).to_pylist(), col
            assert np.allclose(a.column("avg").to_numpy(), b.column("avg").to_numpy(), rtol=1e-12)
        now = T0 + DAY_NS + 3600 * S
        assert pg.apply_retention(12 * 3600, now=now) == duck.apply_retention(12 * 3600, now=now)
        assert pg.read_samples().equals(duck.read_samples())


def test_db_location_survives_pathlib_and_masks_for_display(pg_url: str) -> None:
    squashed = Path(pg_url)  # what a typer Path option makes of a URL: '//' becomes '/'
    url, anchor = store_location(squashed)
    assert url == pg_url and is_url(squashed)
    assert anchor.name.startswith("edgetwin-") and anchor.suffix == ".pg"
    with open_store(url) as store:
        assert store.append(_samples(0, 3)) == 3
    assert "***" in display_name(squashed) and pg_url not in display_name(squashed)
    assert store_location("h/e.duckdb") == ("h/e.duckdb", Path("h/e.duckdb"))
    assert display_name("h/e.duckdb") == "h/e.duckdb" and not is_url("h/e.duckdb")


def test_missing_server_binaries_give_a_skip_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    from edgetwin.store import pg_cluster

    monkeypatch.setattr(pg_cluster, "find_bindir", lambda: None)
    reason = pg_cluster.missing_reason()
    assert reason is not None and "setup-system.sh" in reason
    with pytest.raises(StoreError, match="initdb"):
        LocalCluster().start()
