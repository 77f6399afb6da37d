"""ReplaySource: long and wide recordings, chunking, speed, time shift."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from edgetwin.connect.replay import ReplayOptions, ReplaySource, load_samples
from edgetwin.core.errors import DataError
from edgetwin.core.schemas import make_samples


def _run(src: ReplaySource) -> list[pa.Table]:
    out: list[pa.Table] = []

    async def emit(t: pa.Table) -> None:
        out.append(t)

    asyncio.run(src.run(emit))
    return out


def test_wide_csv_replays_in_time_windows(tmp_path: Path) -> None:
    f = tmp_path / "rec.csv"
    f.write_text(
        "ts,temp,flow\n" + "".join(f"{1700000000 + k * 0.5},{20 + k},{k * 2}\n" for k in range(10))
    )
    got = _run(ReplaySource("r", ReplayOptions(path=str(f), speed=0, chunk_s=2.0, asset="a/pump")))
    assert [t.num_rows for t in got] == [8, 8, 4]  # 4 timestamps x 2 signals per 2 s window
    all_rows = pa.concat_tables(got)
    temp = all_rows.filter(pa.compute.equal(all_rows["signal"].cast(pa.string()), "a/pump/temp"))
    assert temp["value"].to_pylist() == [20.0 + k for k in range(10)]
    assert temp["ts"].cast(pa.int64()).to_pylist()[1] == 1700000000_500_000_000


def test_long_parquet_at_speed_with_shift(tmp_path: Path) -> None:
    f = tmp_path / "rec.parquet"
    ts = 1_600_000_000 * 10**9 + np.arange(6) * 10**9
    pq.write_table(make_samples(ts, "a/b/c", np.arange(6.0)), f)
    now = time.time_ns()
    got = _run(
        ReplaySource("r", ReplayOptions(path=str(f), speed=20, chunk_s=1.0, shift_to_now=True))
    )
    assert sum(t.num_rows for t in got) == 6 and len(got) == 6
    first = pa.concat_tables(got)["ts"].cast(pa.int64()).to_pylist()[0]
    assert abs(first - now) < 5 * 10**9


def test_bad_files_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        load_samples(tmp_path / "nope.csv")
    f = tmp_path / "x.csv"
    f.write_text("time,a\n1,2\n")
    with pytest.raises(DataError, match="no 'ts' column"):
        load_samples(f)
