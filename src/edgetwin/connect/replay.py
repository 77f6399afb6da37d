"""ReplaySource: play a recorded CSV or Parquet file back as samples, at any speed.

Long files have columns `ts, signal, value[, quality]`; wide files have a `ts` column and one
column per signal (named by signal id, or by signal name with `asset:` set). `ts` may be ISO
text, epoch seconds (float) or an Arrow timestamp. The file is cut into windows of `chunk_s`
plant seconds; with `speed` > 0 each window is emitted when its time comes (plant seconds per
wall second), with `speed: 0` as fast as the pipeline takes them. `shift_to_now` moves the
recording so its first sample is stamped now, for live demos.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field

from edgetwin.connect.options import parse_options
from edgetwin.core.config import PlantConfig, SourceConfig
from edgetwin.core.errors import DataError
from edgetwin.core.quality import Quality
from edgetwin.core.schemas import make_samples
from edgetwin.runtime.interfaces import Emit


class ReplayOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str
    speed: float = Field(1.0, ge=0, description="plant seconds per wall second (0: flat out)")
    chunk_s: float = Field(1.0, gt=0, description="plant seconds per emitted batch")
    asset: str | None = Field(None, description="wide files: prefix column names with this path")
    shift_to_now: bool = False
    loop: bool = False


def load_samples(path: str | Path, asset: str | None = None) -> pa.Table:
    """Read a long or wide CSV/Parquet recording into one samples table sorted by ts."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"replay file {p} not found; check the `path` option")
    raw = pq.read_table(p) if p.suffix.lower() in (".parquet", ".pq") else pacsv.read_csv(p)
    if "ts" not in raw.column_names:
        raise DataError(f"{p}: no 'ts' column; columns are {raw.column_names}")
    ts = _ts_ns(raw.column("ts"), p)
    if "signal" in raw.column_names and "value" in raw.column_names:
        q = raw.column("quality").to_numpy() if "quality" in raw.column_names else Quality.GOOD
        table = make_samples(
            ts,
            raw.column("signal").cast(pa.string()).to_pylist(),
            raw.column("value").cast(pa.float64()).to_numpy(zero_copy_only=False),
            q,
        )
    else:
        cols = [c for c in raw.column_names if c != "ts"]
        if not cols:
            raise DataError(f"{p}: a wide file needs one column per signal besides 'ts'")
        parts = []
        for c in cols:
            sid = f"{asset}/{c}" if asset else c
            v = raw.column(c).cast(pa.float64()).to_numpy(zero_copy_only=False)
            parts.append(make_samples(ts, sid, v))
        table = pa.concat_tables(parts)
    return table.sort_by("ts")


def _ts_ns(col: pa.ChunkedArray, p: Path) -> np.ndarray:
    if pa.types.is_timestamp(col.type):
        return col.cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64()).to_numpy()
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        return (col.cast(pa.float64()).to_numpy() * 1e9).astype(np.int64)
    try:
        parsed = pc.strptime(col.cast(pa.string()), format="%Y-%m-%dT%H:%M:%S", unit="ns")
        return parsed.cast(pa.int64()).to_numpy()
    except pa.ArrowInvalid:
        raise DataError(
            f"{p}: column 'ts' must be ISO time, epoch seconds or a timestamp"
        ) from None


class ReplaySource:
    """Plays `options.path` back in windows of `chunk_s` at `speed`."""

    def __init__(self, name: str, options: ReplayOptions) -> None:
        self.name = name
        self.options = options
        self.emitted = 0

    @classmethod
    def from_config(cls, cfg: SourceConfig, plant: PlantConfig) -> ReplaySource:
        return cls(cfg.name, parse_options(ReplayOptions, cfg))

    async def run(self, emit: Emit) -> None:
        o = self.options
        table = load_samples(o.path, o.asset)
        ts = table.column("ts").cast(pa.int64()).to_numpy()
        if len(ts) == 0:
            return
        while True:
            shift = time.time_ns() - int(ts[0]) if o.shift_to_now else 0
            chunk_ns = int(o.chunk_s * 1e9)
            edges = np.arange(ts[0], ts[-1] + chunk_ns, chunk_ns)
            cuts = np.searchsorted(ts, edges[1:], side="left")
            start_wall = time.monotonic()
            lo = 0
            for k, hi in enumerate(np.append(cuts, len(ts)).tolist()):
                if hi <= lo:
                    continue
                part = table.slice(lo, hi - lo)
                lo = hi
                if shift:
                    new_ts = part.column("ts").cast(pa.int64()).to_numpy() + shift
                    part = part.set_column(
                        0, "ts", pa.array(new_ts).cast(table.schema.field("ts").type)
                    )
                if o.speed > 0:
                    due = start_wall + (k + 1) * o.chunk_s / o.speed
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                await emit(part)
                self.emitted += part.num_rows
            if not o.loop:
                return


def source_from_config(cfg: SourceConfig, plant: PlantConfig) -> ReplaySource:
    """Runtime factory (`kind: replay`)."""
    return ReplaySource.from_config(cfg, plant)
