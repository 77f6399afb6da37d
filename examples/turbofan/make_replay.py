"""Turn C-MAPSS engines into a replay recording the runtime can play back as live data.

`python examples/turbofan/make_replay.py --data ../shared/data/cmapss/test_FD001.txt --engines 3`
writes `replay.csv` (long format: ts, signal, value) with one row per engine, cycle and raw
measurement, one cycle a minute, under the asset paths of `plant.yaml` beside it. `edgetwin run
examples/turbofan/plant.yaml` then streams it through the RUL edge module into the twin.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from edgetwin.pdm.datasets.cmapss import RAW_FEATURE_NAMES, load_runs

ASSET = "fleet/hangar1/line1/engine{n}"
T0_NS = 1_800_000_000 * 10**9
CYCLE_S = 60


def replay_table(data: Path, engines: int) -> pa.Table:
    """Long-format samples of the first `engines` engines, one cycle every CYCLE_S seconds."""
    runs = load_runs(data)
    ts_parts, sig_parts, val_parts = [], [], []
    for n, history in enumerate(runs.histories()[:engines], start=1):
        cycles, width = history.shape
        ts = T0_NS + np.repeat(np.arange(cycles, dtype=np.int64) * CYCLE_S * 10**9, width)
        names = [f"{ASSET.format(n=n)}/{name}" for name in RAW_FEATURE_NAMES]
        ts_parts.append(ts)
        sig_parts.append(np.tile(np.asarray(names, dtype=object), cycles))
        val_parts.append(history.reshape(-1))
    return pa.table(
        {
            "ts": pa.array(np.concatenate(ts_parts)).cast(pa.timestamp("ns", tz="UTC")),
            "signal": pa.array(np.concatenate(sig_parts).tolist(), pa.string()),
            "value": pa.array(np.concatenate(val_parts), pa.float64()),
        }
    ).sort_by([("ts", "ascending"), ("signal", "ascending")])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="C-MAPSS test_FD00x.txt")
    parser.add_argument("--engines", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("replay.csv"))
    args = parser.parse_args()
    table = replay_table(args.data, args.engines)
    pacsv.write_csv(table, args.out)
    print(f"{args.out}: {table.num_rows} samples of {args.engines} engines")


if __name__ == "__main__":
    main()
