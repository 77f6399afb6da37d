"""Burst ↔ BLOB re-wrapping keeps every float, for any lengths and for sliced arrays."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from edgetwin.store.blobs import blobs_to_lists, lists_to_blobs

bursts = st.lists(
    st.lists(st.floats(width=32, allow_nan=False), min_size=0, max_size=20), min_size=1, max_size=8
)


@given(bursts, st.integers(min_value=0, max_value=3))
def test_round_trip_is_exact(values: list[list[float]], cut: int) -> None:
    lists = pa.array(values, type=pa.list_(pa.float32()))
    cut = min(cut, len(values) - 1)
    sliced = lists.slice(cut)  # a slice: offsets no longer start at 0
    back = blobs_to_lists(pa.chunked_array([lists_to_blobs(pa.chunked_array([sliced]))]))
    assert back.to_pylist() == sliced.to_pylist()
    blob = lists_to_blobs(pa.chunked_array([sliced]))
    first = np.frombuffer(blob[0].as_py(), dtype="<f4")
    assert np.array_equal(first, np.asarray(values[cut], dtype=np.float32))
