"""The embedded store on a real DuckDB file: idempotence, reads, downsampling, SIGKILL safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from edgetwin.core import StoreError, make_events, make_samples, make_waveforms
from edgetwin.store import open_store
from edgetwin.store.duckdb_store import DuckDBStore

T0 = 1_700_000_040 * 10**9  # a whole minute, so 60 s buckets align


def _samples(start: int, n: int, signal: str = "acme/l1/p1/temp") -> object:
    ts = T0 + (start + np.arange(n, dtype=np.int64)) * 10**9
    return make_samples(ts, signal, np.arange(start, start + n, dtype=float))


def test_replayed_batch_never_duplicates(tmp_path: Path) -> None:
    with open_store(tmp_path / "h.duckdb") as store:
        assert store.append(_samples(0, 100)) == 100
        assert store.append(_samples(0, 100)) == 0  # exact replay
        assert store.append(_samples(50, 100)) == 50  # half overlap: only the new half
        assert store.count() == 150
        values = store.read_samples("acme/l1/p1/temp").column("value").to_numpy()
        assert np.array_equal(values, np.arange(150.0))


def test_duplicates_inside_one_batch_are_collapsed(tmp_path: Path) -> None:
    with open_store(tmp_path / "h.duckdb") as store:
        ts = np.array([T0, T0, T0 + 1])
        assert store.append(make_samples(ts, "a/x", [1.0, 1.0, 2.0])) == 2


def test_range_read_is_half_open_and_ordered(tmp_path: Path) -> None:
    with open_store(tmp_path / "h.duckdb") as store:
        store.append(_samples(0, 10, "a/b"))
        store.append(_samples(0, 10, "a/a"))
        t = store.read_samples(["a/a", "a/b"], start=T0 + 2 * 10**9, end=T0 + 5 * 10**9)
        assert t.column("signal").to_pylist() == ["a/a"] * 3 + ["a/b"] * 3
        assert t.column("value").to_pylist() == [2.0, 3.0, 4.0] * 2


def test_downsample_buckets(tmp_path: Path) -> None:
    with open_store(tmp_path / "h.duckdb") as store:
        store.append(_samples(0, 120))
        d = store.downsample("acme/l1/p1/temp", 60)
        assert d.num_rows == 2
        assert d.column("min").to_pylist() == [0.0, 60.0]
        assert d.column("max").to_pylist() == [59.0, 119.0]
        assert d.column("avg").to_pylist() == [29.5, 89.5]
        assert d.column("last").to_pylist() == [59.0, 119.0]
        with pytest.raises(StoreError, match="every_s must be > 0"):
            store.downsample("acme/l1/p1/temp", 0)


def test_latest_per_signal_and_retention(tmp_path: Path) -> None:
    with open_store(tmp_path / "h.duckdb") as store:
        store.append(_samples(0, 10, "a/x"))
        store.append(_samples(0, 20, "a/y"))
        latest = store.latest()
        assert dict(
            zip(
                latest.column("signal").to_pylist(), latest.column("value").to_pylist(), strict=True
            )
        ) == {"a/x": 9.0, "a/y": 19.0}
        deleted = store.apply_retention(keep_s=5, now=T0 + 20 * 10**9)
        assert deleted == 10 + 15
        assert store.read_samples("a/y").column("value").to_pylist() == [
            15.0,
            16.0,
            17.0,
            18.0,
            19.0,
        ]


def test_waveforms_and_events_round_trip(tmp_path: Path) -> None:
    with open_store(tmp_path / "h.duckdb") as store:
        block = np.random.default_rng(1).normal(size=(3, 256)).astype(np.float32)
        wf = make_waveforms(T0 + np.arange(3) * 60 * 10**9, "a/p/vib", 12000.0, block)
        assert store.append(wf) == 3
        assert store.append(wf) == 0
        back = store.read_waveforms("a/p/vib")
        assert np.allclose(np.asarray(back.column("values")[2].as_py(), dtype=np.float32), block[2])
        ev = make_events(np.array([T0]), "a/p", "anomaly", 600, {"score": 4.2})
        assert store.append(ev) == 1 and store.append(ev) == 0
        assert store.read_events(kind="anomaly").column("payload").to_pylist() == ['{"score": 4.2}']


def test_second_writer_gets_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "h.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb,time; c=duckdb.connect({str(path)!r}); print('ok', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        with pytest.raises(StoreError, match="another edgetwin process"):
            DuckDBStore(path)
    finally:
        holder.kill()
        holder.wait()


WRITER = textwrap.dedent(
    """
    import sys, numpy as np
    from edgetwin.core import make_samples
    from edgetwin.store import open_store
    store = open_store(sys.argv[1])
    T0 = 1_700_000_000 * 10**9
    i = 0
    while True:
        ts = T0 + (i * 1000 + np.arange(1000, dtype=np.int64)) * 10**6
        store.append(make_samples(ts, "a/kill", np.full(1000, float(i))))
        print(i, flush=True)   # printed only after the append returned (committed)
        i += 1
    """
)


def test_sigkill_mid_ingest_loses_nothing_flushed(tmp_path: Path) -> None:
    path = tmp_path / "kill.duckdb"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    acknowledged = -1
    deadline = time.monotonic() + 60
    while acknowledged < 30 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line:
            acknowledged = int(line)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert acknowledged >= 30, "writer did not get going"
    with open_store(path) as store:  # reopens: the WAL is replayed
        values = store.read_samples("a/kill").column("value").to_numpy()
    batches = np.unique(values)
    # every acknowledged batch is complete; at most the one in flight may also be there
    assert set(range(acknowledged + 1)) <= set(batches.astype(int).tolist())
    counts = np.bincount(values.astype(int))
    assert np.all(counts[: acknowledged + 1] == 1000)
    assert len(batches) <= acknowledged + 2


def test_duplicate_check_covers_every_batch_shape(tmp_path: Path) -> None:
    with open_store(tmp_path / "h.duckdb") as store:
        # interleaved signals sharing timestamps: unique keys, all stored
        ts = np.repeat(T0 + np.arange(5, dtype=np.int64), 2)
        assert store.append(make_samples(ts, ["a/x", "a/y"] * 5, np.arange(10.0))) == 10
        # grouped by signal but a group comes back with the same timestamps: collapsed
        ts2 = T0 + 100 + np.array([0, 1, 0, 1, 0, 1], dtype=np.int64)
        sig2 = ["a/x", "a/x", "a/y", "a/y", "a/x", "a/x"]
        assert store.append(make_samples(ts2, sig2, np.arange(6.0))) == 4
