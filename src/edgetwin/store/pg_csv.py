"""Arrow tables ↔ PostgreSQL `COPY ... (FORMAT csv)` text, vectorised end to end.

COPY is the fastest way into and out of PostgreSQL, and Arrow's C++ CSV writer and reader do
the formatting and parsing, so no row ever passes through Python. The two details CSV needs:
- `bytea` travels as hex text (`\\x0a1b...`); waveform bursts (little-endian float32 bytes,
  see blobs.py) are hex-encoded and decoded with numpy lookup tables over the whole buffer.
- NULL is an unquoted empty field and the empty string is `""`, both ways; "NaN" and
  "Infinity" are numbers, not nulls (Arrow's default null spellings would eat them).
"""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
# byte -> its two hex digits, as a (256, 2) table
_HEX_PAIRS = np.stack([_HEX_DIGITS[np.arange(256) >> 4], _HEX_DIGITS[np.arange(256) & 15]], axis=1)
# hex digit (either case) -> nibble value
_NIBBLE = np.zeros(256, dtype=np.uint8)
_NIBBLE[np.frombuffer(b"0123456789", dtype=np.uint8)] = np.arange(10)
_NIBBLE[np.frombuffer(b"abcdef", dtype=np.uint8)] = np.arange(10, 16)
_NIBBLE[np.frombuffer(b"ABCDEF", dtype=np.uint8)] = np.arange(10, 16)

_WRITE = pacsv.WriteOptions(include_header=False, batch_size=65536)


def _offsets_and_data(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """int64 offsets (rebased to 0) and the uint8 data they index, of a (large_)binary/string."""
    large = array.cast(pa.large_binary()) if array.type != pa.large_binary() else array
    _, off_buf, data_buf = large.buffers()[:3]
    offsets = np.frombuffer(off_buf, dtype=np.int64)[large.offset : large.offset + len(large) + 1]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8)
        if data_buf is not None
        else np.zeros(0, dtype=np.uint8)
    )
    return offsets - offsets[0], data[offsets[0] : offsets[-1]]


def _prefix_mask(out_offsets: np.ndarray, total: int) -> np.ndarray:
    """True at the two `\\x` characters that start each hex field."""
    mask = np.zeros(total, dtype=bool)
    starts = out_offsets[:-1]
    mask[starts] = True
    mask[starts + 1] = True
    return mask


def binary_to_hex(array: pa.Array) -> pa.Array:
    """binary → large_string of PostgreSQL bytea hex literals (`\\x` + two digits a byte)."""
    offsets, data = _offsets_and_data(array)
    n = len(offsets) - 1
    out_offsets = 2 * offsets + 2 * np.arange(n + 1, dtype=np.int64)
    total = int(out_offsets[-1])
    out = np.empty(total, dtype=np.uint8)
    mask = _prefix_mask(out_offsets, total)
    out[out_offsets[:-1]] = ord("\\")
    out[out_offsets[:-1] + 1] = ord("x")
    out[~mask] = _HEX_PAIRS[data].reshape(-1)
    return pa.Array.from_buffers(
        pa.large_string(), n, [None, pa.py_buffer(out_offsets), pa.py_buffer(out)]
    )


def hex_to_binary(array: pa.Array) -> pa.Array:
    """large_string of `\\x..` bytea literals (as COPY TO writes them) → large_binary."""
    offsets, text = _offsets_and_data(array)
    n = len(offsets) - 1
    if n and not (np.all(text[offsets[:-1]] == ord("\\")) and np.all(np.diff(offsets) >= 2)):
        raise ValueError("bytea column is not in hex format (set bytea_output = 'hex')")
    digits = text[~_prefix_mask(offsets, len(text))]
    nibbles = _NIBBLE[digits]
    data = (nibbles[0::2] << 4) | nibbles[1::2]
    out_offsets = (offsets - 2 * np.arange(n + 1, dtype=np.int64)) // 2
    return pa.Array.from_buffers(
        pa.large_binary(), n, [None, pa.py_buffer(out_offsets), pa.py_buffer(data)]
    )


def to_csv(table: pa.Table, hex_columns: tuple[str, ...] = ()) -> bytes:
    """The rows as COPY FROM csv input; `hex_columns` (binary) are written as bytea hex."""
    for name in hex_columns:
        idx = table.schema.get_field_index(name)
        hexed = binary_to_hex(table.column(name).combine_chunks())
        table = table.set_column(idx, name, hexed)
    sink = io.BytesIO()
    pacsv.write_csv(table, sink, _WRITE)
    return sink.getvalue()


def from_csv(
    data: bytes | bytearray | memoryview,
    schema: pa.Schema,
    hex_columns: tuple[str, ...] = (),
    newlines_in_values: bool = False,
) -> pa.Table:
    """COPY TO csv output → a table of `schema` (hex columns come back as large_binary)."""
    if not data:
        types = [pa.large_binary() if f.name in hex_columns else f.type for f in schema]
        return pa.schema(
            [pa.field(f.name, t) for f, t in zip(schema, types, strict=True)]
        ).empty_table()
    column_types = {
        f.name: (pa.large_string() if f.name in hex_columns else f.type) for f in schema
    }
    table = pacsv.read_csv(
        pa.BufferReader(data),
        read_options=pacsv.ReadOptions(column_names=schema.names, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(newlines_in_values=newlines_in_values),
        convert_options=pacsv.ConvertOptions(
            column_types=column_types,
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )
    for name in hex_columns:
        idx = table.schema.get_field_index(name)
        chunks = [hex_to_binary(c) for c in table.column(name).chunks]
        table = table.set_column(idx, name, pa.chunked_array(chunks, pa.large_binary()))
    return table
