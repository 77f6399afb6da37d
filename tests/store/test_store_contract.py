"""The store contract, run against every backend: the same batches must read back the same way
from the embedded DuckDB file and from a real PostgreSQL server, so a site can move from one to
the other without its dashboards, analytics or twin noticing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from edgetwin.core import StoreError, make_events, make_samples, make_waveforms
from edgetwin.core.schemas import SAMPLES_SCHEMA, WAVEFORMS_SCHEMA
from edgetwin.store import open_store

T0 = 1_700_000_040 * 10**9  # a whole minute, so 60 s buckets align
S = 10**9


@pytest.fixture(params=["duckdb", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store of each backend (PostgreSQL skips with its reason where absent)."""
    if request.param == "duckdb":
        return str(tmp_path / "h.duckdb")
    return str(request.getfixturevalue("pg_url"))


def _samples(start: int, n: int, signal: str = "acme/l1/p1/temp") -> pa.Table:
    ts = T0 + (start + np.arange(n, dtype=np.int64)) * S
    return make_samples(ts, signal, np.arange(start, start + n, dtype=float))


def test_samples_round_trip_exactly(store_url: str) -> None:
    rng = np.random.default_rng(3)
    ts = T0 + np.sort(rng.choice(10**12, size=500, replace=False)).astype(np.int64)  # odd ns
    values = rng.normal(size=500) * 10.0 ** rng.integers(-300, 300, size=500)
    values[:4] = [np.nan, np.inf, -np.inf, -0.0]
    quality = rng.choice([0, 64, 192], size=500).astype(np.uint8)
    batch = make_samples(ts, "a/b/c", values, quality)
    with open_store(store_url) as store:
        assert store.append_samples(batch) == 500
        back = store.read_samples("a/b/c")
    assert back.schema.equals(SAMPLES_SCHEMA)
    assert np.array_equal(back.column("ts").cast(pa.int64()).to_numpy(), ts)
    got = back.column("value").to_numpy()
    assert np.array_equal(got.view(np.int64)[1:], values.view(np.int64)[1:])  # bit-exact
    assert np.isnan(got[0])
    assert np.array_equal(back.column("quality").to_numpy(), quality)


def test_replayed_and_overlapping_batches_never_duplicate(store_url: str) -> None:
    with open_store(store_url) as store:
        assert store.append(_samples(0, 100)) == 100
        assert store.append(_samples(0, 100)) == 0  # exact replay
        assert store.append(_samples(50, 100)) == 50  # half overlap: only the new half
        assert store.count() == 150
        values = store.read_samples("acme/l1/p1/temp").column("value").to_numpy()
        assert np.array_equal(values, np.arange(150.0))


def test_duplicates_inside_one_batch_are_collapsed_first_wins(store_url: str) -> None:
    with open_store(store_url) as store:
        ts = np.array([T0, T0, T0 + 1, T0 + 1])
        assert store.append(make_samples(ts, ["a/x", "a/x", "a/x", "a/y"], [1, 9, 2, 3])) == 3
        t = store.read_samples()
        assert t.column("signal").to_pylist() == ["a/x", "a/x", "a/y"]
        assert t.column("value").to_pylist() == [1.0, 2.0, 3.0]


def test_range_read_is_half_open_and_ordered(store_url: str) -> None:
    with open_store(store_url) as store:
        store.append(_samples(0, 10, "a/b"))
        store.append(_samples(0, 10, "a/a"))
        t = store.read_samples(["a/a", "a/b"], start=T0 + 2 * S, end=T0 + 5 * S)
        assert t.column("signal").to_pylist() == ["a/a"] * 3 + ["a/b"] * 3
        assert t.column("value").to_pylist() == [2.0, 3.0, 4.0] * 2
        as_dt = datetime.fromtimestamp((T0 + 8 * S) / 1e9, tz=UTC)
        assert store.read_samples("a/a", start=as_dt).column("value").to_pylist() == [8.0, 9.0]
        assert store.read_samples("nope").num_rows == 0


def test_downsample_matches_numpy(store_url: str) -> None:
    rng = np.random.default_rng(7)
    ts = T0 + np.sort(rng.choice(3600 * S, size=2000, replace=False)).astype(np.int64)
    values = rng.normal(size=2000)
    aggs = ("min", "max", "avg", "last", "first", "count")
    with open_store(store_url) as store:
        store.append(make_samples(ts, "a/v", values))
        start, end = T0 + 100 * S, T0 + 3000 * S
        d = store.downsample("a/v", 60, start=start, end=end, aggs=aggs)
        with pytest.raises(StoreError, match="every_s must be > 0"):
            store.downsample("a/v", 0)
        with pytest.raises(StoreError, match="unknown aggregate"):
            store.downsample("a/v", 60, aggs=("median",))  # type: ignore[arg-type]
    keep = (ts >= start) & (ts < end)
    t, v = ts[keep], values[keep]
    buckets = (t // (60 * S)) * 60 * S
    edges = np.unique(buckets)
    assert np.array_equal(d.column("ts").cast(pa.int64()).to_numpy(), edges)
    groups = [v[buckets == b] for b in edges]
    assert np.allclose(d.column("avg").to_numpy(), [g.mean() for g in groups], rtol=1e-12)
    assert d.column("min").to_pylist() == [g.min() for g in groups]
    assert d.column("max").to_pylist() == [g.max() for g in groups]
    assert d.column("last").to_pylist() == [g[-1] for g in groups]
    assert d.column("first").to_pylist() == [g[0] for g in groups]
    assert d.column("count").to_pylist() == [len(g) for g in groups]
    assert d.column("n").to_pylist() == [len(g) for g in groups]


def test_latest_and_signals(store_url: str) -> None:
    with open_store(store_url) as store:
        assert store.signals() == [] and store.latest().num_rows == 0
        store.append(_samples(0, 10, "a/x"))
        store.append(_samples(0, 20, "a/y"))
        store.append(make_samples(np.array([T0 + 30 * S]), "a/z", [np.nan], 0))
        latest = store.latest()
        assert latest.schema.equals(SAMPLES_SCHEMA)
        assert latest.column("signal").to_pylist() == ["a/x", "a/y", "a/z"]
        assert latest.column("value").to_pylist()[:2] == [9.0, 19.0]
        assert latest.column("ts").cast(pa.int64()).to_pylist() == [
            T0 + 9 * S,
            T0 + 19 * S,
            T0 + 30 * S,
        ]
        assert latest.column("quality").to_pylist() == [192, 192, 0]
        assert store.latest(["a/y", "a/none"]).column("value").to_pylist() == [19.0]
        assert store.signals() == ["a/x", "a/y", "a/z"]


def test_waveforms_round_trip_bit_exact(store_url: str) -> None:
    block = np.random.default_rng(1).normal(size=(3, 256)).astype(np.float32)
    block[0, :3] = [np.nan, np.inf, -0.0]
    wf = make_waveforms(T0 + np.arange(3) * 60 * S, "a/p/vib", 12000.0, block)
    # bursts of different lengths, one empty, in another signal
    lists = pa.array([[1.5, -2.0], [], [3.25] * 1000], pa.list_(pa.float32()))
    ragged = pa.Table.from_arrays(
        [
            pa.array(T0 + np.arange(3, dtype=np.int64)).cast(WAVEFORMS_SCHEMA.field("ts").type),
            pa.array(["a/p/cur"] * 3).dictionary_encode(),
            pa.array([1.0, 2.0, 3.0]),
            lists,
        ],
        names=WAVEFORMS_SCHEMA.names,
    )
    with open_store(store_url) as store:
        assert store.append(wf) == 3
        assert store.append(wf) == 0
        assert store.append_waveforms(ragged) == 3
        back = store.read_waveforms("a/p/vib")
        assert back.schema.equals(WAVEFORMS_SCHEMA)
        for i in range(3):
            got = np.asarray(back.column("values")[i].as_py(), dtype=np.float32)
            assert got.tobytes() == block[i].tobytes()
        assert back.column("rate_hz").to_pylist() == [12000.0] * 3
        other = store.read_waveforms("a/p/cur", start=T0 + 1)
        assert other.column("values").to_pylist() == lists.to_pylist()[1:]


def test_events_round_trip(store_url: str) -> None:
    payloads = [{"score": 4.2}, None, {"text": 'comma, "quote"\nnewline ünï'}]
    ev = make_events(T0 + np.arange(3) * S, ["a/p", "a/p", "a/q"], "anomaly", 600, payloads)
    with open_store(store_url) as store:
        assert store.append(ev) == 1 + 1 + 1
        assert store.append(ev) == 0
        assert store.append_events(make_events(np.array([T0]), "a/p", "alarm", 900, None)) == 1
        back = store.read_events(kind="anomaly")
        assert back.column("payload").to_pylist() == ev.column("payload").to_pylist()
        assert back.column("source").to_pylist() == ["a/p", "a/p", "a/q"]
        assert back.column("severity").to_pylist() == [600] * 3
        kinds = store.read_events(source="a/p").column("kind").to_pylist()
        assert sorted(kinds) == ["alarm", "anomaly", "anomaly"]  # two share T0: order is free
        assert store.read_events(source="a/p", start=T0 + 1).num_rows == 1
