"""Arrow batches in the core schemas <-> the columns both backends store.

Both stores keep `ts_ns` as BIGINT epoch nanoseconds (exact, integer-bucketable) and waveform
bursts as float32 BLOB/bytea (`blobs.py`), so the conversion in and out is the same code for
DuckDB and PostgreSQL; only the SQL around it differs.
"""

from __future__ import annotations

import pyarrow as pa

from edgetwin.core.schemas import TS_TYPE, conform
from edgetwin.store.blobs import blobs_to_lists, lists_to_blobs


def to_stored(table: pa.Table) -> tuple[pa.Table, pa.Array]:
    """A conformed batch as stored: (`ts` replaced by int64 `ts_ns`, `values` as blobs), ts_ns."""
    ts_ns = table.column("ts").cast(TS_TYPE).cast(pa.int64())
    batch = table.set_column(0, "ts_ns", ts_ns)
    if "values" in batch.column_names:
        idx = batch.schema.get_field_index("values")
        batch = batch.set_column(idx, "values", lists_to_blobs(batch.column("values")))
    return batch, ts_ns


def from_stored(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Stored columns back to `schema`: `ts_ns` to timestamps, blobs to list<float32>."""
    if "values" in table.column_names:
        idx = table.schema.get_field_index("values")
        table = table.set_column(idx, "values", blobs_to_lists(table.column("values")))
    ts = table.column("ts_ns").cast(TS_TYPE)
    return conform(table.set_column(0, "ts", ts), schema, "store result")
