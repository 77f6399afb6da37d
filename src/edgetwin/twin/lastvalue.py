"""The last row of every signal in a samples batch, vectorised.

The runtime hands the twin batches of up to 100k rows several times a second, so this must
cost milliseconds: one stable argsort of the dictionary codes (radix sort on int32), one
`maximum.reduceat` for the newest timestamp per signal, and no Python loop over rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from edgetwin.core.schemas import SAMPLES_SCHEMA, conform


@dataclass
class LastValues:
    """Column-wise result: one entry per distinct signal in the batch."""

    signals: list[str]
    ts_ns: np.ndarray  # int64 epoch ns
    values: np.ndarray  # float64
    quality: np.ndarray  # uint8


def last_per_signal(table: pa.Table) -> LastValues:
    """Newest sample of each signal (by `ts`; on equal ts the later row wins)."""
    table = conform(table, SAMPLES_SCHEMA, "samples")
    if table.num_rows == 0:
        return LastValues([], np.empty(0, np.int64), np.empty(0), np.empty(0, np.uint8))
    table = table.unify_dictionaries().combine_chunks()
    sig = table.column("signal").chunk(0)
    codes = sig.indices.to_numpy(zero_copy_only=False)
    ts = table.column("ts").chunk(0).cast(pa.int64()).to_numpy()
    # int16 keys take numpy's radix sort: ~10x faster than int32 for 100k rows
    order = np.argsort(
        codes.astype(np.int16) if len(codes) and codes.max() < 32767 else codes, kind="stable"
    )
    sc = codes[order]
    sts = ts[order]
    starts = np.flatnonzero(np.concatenate(([True], sc[1:] != sc[:-1])))
    newest = np.maximum.reduceat(sts, starts)
    # last row (in batch order) within each group whose ts equals the group's newest ts
    group = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(sc))))
    hit = np.flatnonzero(sts == newest[group])
    last_hit = np.flatnonzero(np.append(group[hit][1:] != group[hit][:-1], True))
    rows = order[hit[last_hit]]
    values = table.column("value").chunk(0).to_numpy(zero_copy_only=False)[rows]
    quality = table.column("quality").chunk(0).to_numpy()[rows]
    names = sig.dictionary.to_pylist()
    return LastValues([names[c] for c in sc[starts].tolist()], ts[rows], values, quality)
