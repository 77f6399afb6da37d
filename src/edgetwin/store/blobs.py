"""Waveform bursts as BLOBs: Arrow list<float32> ↔ binary holding the same bytes, no copy.

DuckDB writes a BLOB column several times faster than a FLOAT[] list column, and a burst is
only ever read whole, so the store keeps each burst as its little-endian float32 bytes and
re-wraps the Arrow buffers on the way in and out.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def lists_to_blobs(column: pa.ChunkedArray) -> pa.Array:
    """list<float32> → binary holding the same bytes (offsets scaled by 4, data shared)."""
    lists = column.combine_chunks()
    if lists.offset or lists.null_count:
        lists = pa.concat_arrays([lists])  # normalise a sliced array before re-wrapping buffers
    offsets = lists.offsets.to_numpy().astype(np.int64) * 4
    values = lists.values
    data = values.buffers()[1]
    if values.offset:
        data = data.slice(values.offset * 4)
    start = offsets[0]
    return pa.Array.from_buffers(
        pa.large_binary(), len(lists), [None, pa.py_buffer(offsets - start), data.slice(start)]
    )


def blobs_to_lists(column: pa.ChunkedArray) -> pa.Array:
    """binary of float32 bytes → list<float32>, sharing the bytes."""
    blobs = column.combine_chunks().cast(pa.large_binary())
    _, offset_buf, data = blobs.buffers()[:3]
    offsets = np.frombuffer(offset_buf, dtype=np.int64)[
        blobs.offset : blobs.offset + len(blobs) + 1
    ]
    start = int(offsets[0])
    n_values = int((offsets[-1] - start) // 4)
    flat = pa.Array.from_buffers(pa.float32(), n_values, [None, data.slice(start, n_values * 4)])
    return pa.ListArray.from_arrays(pa.array((offsets - start) // 4, pa.int32()), flat)
