"""Ingest benchmark: `Store.append` beside raw DuckDB Arrow append, and the end-to-end demo rate.

Run: `.venv/bin/python bench/ingest.py [--repeats 5] [--plant-hours 6]`

Each case runs in a fresh child process (so peak RSS is the case's own) on a fresh DuckDB file,
`--repeats` times; the table quotes medians. The ratio column is ours / raw, measured in the
same run on the same machine, which is the only comparison a shared, noisy box supports.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

T0 = 1_700_000_040 * 10**9
N_SIGNALS = 50


def _samples_batches(rows: int, total: int) -> list:
    import pyarrow as pa

    from edgetwin.core import make_samples

    names = pa.array([f"acme/site1/area1/line1/pump{k % 5}/sig{k}" for k in range(N_SIGNALS)])
    out = []
    for b in range(max(total // rows, 1)):
        idx = np.arange(b * rows, (b + 1) * rows, dtype=np.int64)
        signal = pa.DictionaryArray.from_arrays(pa.array((idx % N_SIGNALS).astype(np.int32)), names)
        out.append(make_samples(T0 + idx * 10**6, signal, np.sin(idx * 1e-3)))
    return out


def _waveform_batches(bursts_per_batch: int, batches: int, length: int = 12000) -> list:
    from edgetwin.core import make_waveforms

    rng = np.random.default_rng(0)
    out = []
    for b in range(batches):
        ts = T0 + (b * bursts_per_batch + np.arange(bursts_per_batch)) * 60 * 10**9
        out.append(
            make_waveforms(
                ts,
                "acme/site1/area1/line1/pump1/vib_de",
                12000.0,
                rng.normal(size=(bursts_per_batch, length)).astype(np.float32),
            )
        )
    return out


def _case(kind: str, rows: int, total: int, queue: mp.Queue) -> None:
    import duckdb

    from edgetwin.store import open_store

    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, "bench.duckdb")
    if kind.startswith("wave"):
        batches = _waveform_batches(rows, max(total // rows, 1))
        n_units = sum(b.num_rows for b in batches) * 12000 * 4 / 1e6  # MB of float32
    else:
        batches = _samples_batches(rows, total)
        n_units = sum(b.num_rows for b in batches)
    if kind.endswith("raw"):
        con = duckdb.connect(path)
        if kind.startswith("wave"):
            con.execute(
                'CREATE TABLE w (ts TIMESTAMPTZ, signal VARCHAR, rate_hz DOUBLE, "values" FLOAT[])'
            )
            sql = "INSERT INTO w SELECT * FROM batch"
        else:
            con.execute(
                "CREATE TABLE s (ts TIMESTAMPTZ, signal VARCHAR, value DOUBLE, quality UTINYINT)"
            )
            sql = "INSERT INTO s SELECT * FROM batch"
        t0 = time.perf_counter()
        for batch in batches:
            con.register("batch", batch)
            con.execute(sql)
            con.unregister("batch")
        elapsed = time.perf_counter() - t0
        con.close()
    else:
        store = open_store(path)
        t0 = time.perf_counter()
        for batch in batches:
            store.append(batch)
        elapsed = time.perf_counter() - t0
        store.close()
    queue.put((n_units / elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def _e2e(plant_hours: float, queue: mp.Queue) -> None:
    import asyncio

    from edgetwin.cli.demo import _monitors, demo_plant_path
    from edgetwin.core.config import load_plant
    from edgetwin.runtime.pipeline import Pipeline
    from edgetwin.runtime.sim_source import SimSource
    from edgetwin.store import open_store

    plant = load_plant(demo_plant_path())
    tmp = tempfile.mkdtemp()
    store = open_store(os.path.join(tmp, "e2e.duckdb"))
    source = SimSource(
        plant, seed=7, speed=0, duration_s=plant_hours * 3600, step_s=600, start_ns=T0
    )
    pipe = Pipeline([source], store, monitors=_monitors(plant))

    async def main() -> float:
        t0 = time.perf_counter()
        await pipe.start()
        await pipe.wait_sources()
        await pipe.stop()
        return time.perf_counter() - t0

    elapsed = asyncio.run(main())
    values = pipe.stats.samples + pipe.stats.waveform_values
    queue.put(
        (
            values / elapsed,
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            pipe.stats.samples / elapsed,
            pipe.stats.queue_high_water,
        )
    )
    store.close()


def _run(target, *args) -> tuple:
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--plant-hours", type=float, default=6.0)
    parser.add_argument("--skip-e2e", action="store_true")
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"Store.append vs raw DuckDB Arrow INSERT (median of {args.repeats}, fresh process and file each)"
    )
    for col in ("table", "rows/batch", "raw", "edgetwin Store.append", "ratio", "peak RSS (MiB)"):
        table.add_column(col, justify="right")
    cases = [
        ("samples", 1_000, 200_000),
        ("samples", 10_000, 1_000_000),
        ("samples", 100_000, 2_000_000),
        ("wave", 1, 200),
        ("wave", 10, 400),
    ]
    for kind, rows, total in cases:
        raw = [_run(_case, f"{kind}_raw", rows, total) for _ in range(args.repeats)]
        ours = [_run(_case, f"{kind}_store", rows, total) for _ in range(args.repeats)]
        r = statistics.median(x[0] for x in raw)
        o = statistics.median(x[0] for x in ours)
        unit = "MB/s" if kind == "wave" else "rows/s"
        table.add_row(
            "waveforms" if kind == "wave" else "samples",
            f"{rows:,}" + (" bursts" if kind == "wave" else ""),
            f"{r:,.0f} {unit}",
            f"{o:,.0f} {unit}",
            f"{o / r:.2f}x",
            f"{max(x[1] for x in ours):.0f}",
        )
    Console().print(table)

    if not args.skip_e2e:
        e2e = Table(
            title=f"End to end: sim → runtime → DuckDB → anomaly monitor, {args.plant_hours:g} h of demo plant, flat out"
        )
        for col in (
            "run",
            "values/s (scalar + waveform)",
            "scalar samples/s",
            "queue high-water",
            "peak RSS (MiB)",
        ):
            e2e.add_column(col, justify="right")
        runs = [_run(_e2e, args.plant_hours) for _ in range(max(1, args.repeats // 2))]
        for i, (vps, rss, sps, hw) in enumerate(runs, 1):
            e2e.add_row(str(i), f"{vps:,.0f}", f"{sps:,.0f}", str(hw), f"{rss:.0f}")
        e2e.add_row(
            "median",
            f"{statistics.median(r[0] for r in runs):,.0f}",
            f"{statistics.median(r[2] for r in runs):,.0f}",
            "",
            "",
        )
        Console().print(e2e)
        Console().print("target: >= 1,000,000 values/s on 2 cores (issue #2)")


if __name__ == "__main__":
    main()
