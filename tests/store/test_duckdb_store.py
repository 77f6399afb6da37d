"""What only the embedded DuckDB file does: retention, one writer at a time, SIGKILL safety.

The contract both backends share (idempotence, reads, downsampling) is in test_store_contract.py.
"""

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

from edgetwin.core import StoreError, make_samples
from edgetwin.store import open_store
from edgetwin.store.duckdb_store import DuckDBStore

T0 = 1_700_000_040 * 10**9  # a whole minute, so 60 s buckets align


def _samples(start: int, n: int, signal: str = "acme/l1/p1/temp") -> object:
    ts = T0 + (start + np.arange(n, dtype=np.int64)) * 10**9
    return make_samples(ts, signal, np.arange(start, start + n, dtype=float))


def test_retention_deletes_rows_older_than_the_cutoff(tmp_path: Path) -> None:
    with open_store(tmp_path / "h.duckdb") as store:
        store.append(_samples(0, 10, "a/x"))
        store.append(_samples(0, 20, "a/y"))
        deleted = store.apply_retention(keep_s=5, now=T0 + 20 * 10**9)
        assert deleted == 10 + 15
        assert store.read_samples("a/y").column("value").to_pylist() == [
            15.0,
            16.0,
            17.0,
            18.0,
            19.0,
        ]
        assert store.read_samples("a/x").num_rows == 0


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
