"""The three Arrow tables that travel the whole pipeline, and builders that enforce them.

One batch type from source to sink means no stage converts formats. Builders take numpy
arrays (vectorised, no per-row Python) and return tables that match the schema exactly, so a
producer cannot drift from what the store and the twin expect.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from edgetwin.core.errors import DataError
from edgetwin.core.quality import Quality

TS_TYPE = pa.timestamp("ns", tz="UTC")
SIGNAL_TYPE = pa.dictionary(pa.int32(), pa.string())

SAMPLES_SCHEMA = pa.schema(
    [
        pa.field("ts", TS_TYPE, nullable=False),
        pa.field("signal", SIGNAL_TYPE, nullable=False),
        pa.field("value", pa.float64()),
        pa.field("quality", pa.uint8(), nullable=False),
    ]
)

WAVEFORMS_SCHEMA = pa.schema(
    [
        pa.field("ts", TS_TYPE, nullable=False),
        pa.field("signal", SIGNAL_TYPE, nullable=False),
        pa.field("rate_hz", pa.float64(), nullable=False),
        pa.field("values", pa.list_(pa.float32()), nullable=False),
    ]
)

EVENTS_SCHEMA = pa.schema(
    [
        pa.field("ts", TS_TYPE, nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("severity", pa.uint16(), nullable=False),
        pa.field("payload", pa.string()),
    ]
)


def _ts_array(ts: Any) -> pa.Array:
    """Accept int64 ns since epoch, numpy datetime64, or an Arrow timestamp array."""
    if isinstance(ts, pa.ChunkedArray):
        ts = ts.combine_chunks()
    if isinstance(ts, pa.Array):
        return ts.cast(TS_TYPE)
    arr = np.asarray(ts)
    if arr.dtype.kind == "M":
        arr = arr.astype("datetime64[ns]").view("int64")
    elif arr.dtype.kind not in "iu":
        raise DataError(
            f"field 'ts': expected int64 nanoseconds or datetime64, got dtype {arr.dtype}; "
            "convert with np.datetime64(...) or int(seconds * 1e9)"
        )
    return pa.array(arr.astype("int64", copy=False), type=pa.int64()).cast(TS_TYPE)


def _signal_array(signal: str | Sequence[str] | pa.Array, n: int) -> pa.Array:
    """One signal id for the whole batch, or one per row; always dictionary-encoded."""
    if isinstance(signal, str):
        dictionary = pa.array([signal], type=pa.string())
        indices = pa.array(np.zeros(n, dtype=np.int32), type=pa.int32())
        return pa.DictionaryArray.from_arrays(indices, dictionary)
    if isinstance(signal, pa.ChunkedArray):
        signal = signal.combine_chunks()
    if isinstance(signal, pa.DictionaryArray):
        return signal.cast(SIGNAL_TYPE)
    arr = signal if isinstance(signal, pa.Array) else pa.array(list(signal), type=pa.string())
    return arr.dictionary_encode().cast(SIGNAL_TYPE)


def make_samples(
    ts: Any,
    signal: str | Sequence[str] | pa.Array,
    value: Any,
    quality: Any = Quality.GOOD,
) -> pa.Table:
    """Build a samples table; `signal` and `quality` may be scalars broadcast to every row."""
    values = np.asarray(value, dtype=np.float64)
    n = len(values)
    ts_arr = _ts_array(ts)
    if len(ts_arr) != n:
        raise DataError(
            f"field 'ts' has {len(ts_arr)} rows but 'value' has {n}; pass one ts per value"
        )
    q = np.asarray(quality, dtype=np.uint8)
    if q.ndim == 0:
        q = np.full(n, int(q), dtype=np.uint8)
    sig = _signal_array(signal, n)
    if len(sig) != n or len(q) != n:
        raise DataError("fields 'signal' and 'quality' must be scalars or have one entry per value")
    return pa.Table.from_arrays(
        [ts_arr, sig, pa.array(values, type=pa.float64()), pa.array(q, type=pa.uint8())],
        schema=SAMPLES_SCHEMA,
    )


def make_waveforms(
    ts: Any, signal: str | Sequence[str] | pa.Array, rate_hz: Any, values: np.ndarray
) -> pa.Table:
    """Build a waveforms table from a 2-D array (one burst per row) of equal-length bursts."""
    block = np.ascontiguousarray(values, dtype=np.float32)
    if block.ndim == 1:
        block = block[None, :]
    if block.ndim != 2:
        raise DataError(
            f"field 'values': expected a 2-D array (bursts x samples), got {block.ndim}-D"
        )
    n, width = block.shape
    ts_arr = _ts_array(ts)
    if len(ts_arr) != n:
        raise DataError(f"field 'ts' has {len(ts_arr)} rows but 'values' has {n} bursts")
    rates = np.asarray(rate_hz, dtype=np.float64)
    if rates.ndim == 0:
        rates = np.full(n, float(rates))
    if np.any(rates <= 0):
        raise DataError("field 'rate_hz' must be > 0; give the sampling rate in Hz")
    offsets = pa.array(np.arange(0, (n + 1) * width, width, dtype=np.int32), type=pa.int32())
    flat = pa.array(block.reshape(-1), type=pa.float32())
    lists = pa.ListArray.from_arrays(offsets, flat)
    return pa.Table.from_arrays(
        [ts_arr, _signal_array(signal, n), pa.array(rates, type=pa.float64()), lists],
        schema=WAVEFORMS_SCHEMA,
    )


def make_events(
    ts: Any,
    source: str | Sequence[str],
    kind: str | Sequence[str],
    severity: int | Sequence[int],
    payload: dict[str, Any] | Sequence[dict[str, Any] | None] | None = None,
) -> pa.Table:
    """Build an events table; payloads are dicts serialised to JSON text."""
    ts_arr = _ts_array(np.atleast_1d(np.asarray(ts)) if not isinstance(ts, pa.Array) else ts)
    n = len(ts_arr)

    def broadcast(x: Any) -> list[Any]:
        if isinstance(x, str | int | dict) or x is None:
            return [x] * n
        items = list(x)
        if len(items) != n:
            raise DataError(f"events: expected {n} entries, got {len(items)}")
        return items

    payloads = [None if p is None else json.dumps(p, default=str) for p in broadcast(payload)]
    sev = np.asarray(broadcast(severity), dtype=np.uint16)
    return pa.Table.from_arrays(
        [
            ts_arr,
            pa.array(broadcast(source), type=pa.string()),
            pa.array(broadcast(kind), type=pa.string()),
            pa.array(sev, type=pa.uint16()),
            pa.array(payloads, type=pa.string()),
        ],
        schema=EVENTS_SCHEMA,
    )


def conform(table: pa.Table, schema: pa.Schema, name: str) -> pa.Table:
    """Cast a foreign table to one of our schemas, or say which column is wrong and how."""
    missing = [f.name for f in schema if f.name not in table.column_names]
    if missing:
        raise DataError(
            f"{name} table is missing column(s) {missing}; expected {schema.names} "
            f"(build it with edgetwin.core.make_{name})"
        )
    table = table.select(schema.names)
    if table.schema.equals(schema):
        return table
    try:
        cols = []
        for field in schema:
            col = table.column(field.name)
            if field.name == "signal" and not pa.types.is_dictionary(col.type):
                col = col.dictionary_encode()
            cols.append(col.cast(field.type))
        return pa.Table.from_arrays(cols, schema=schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataError(f"{name} table does not match the schema {schema}: {exc}") from exc
