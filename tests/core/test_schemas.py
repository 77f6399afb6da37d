"""The three batch tables: builders enforce the schema and reject bad input by field."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgetwin.core import (
    EVENTS_SCHEMA,
    SAMPLES_SCHEMA,
    WAVEFORMS_SCHEMA,
    DataError,
    Quality,
    make_events,
    make_samples,
    make_waveforms,
)
from edgetwin.core.schemas import conform


def test_samples_broadcast_signal_and_quality() -> None:
    t = make_samples(np.arange(3) * 10**9, "a/b/x", [1.0, 2.0, 3.0])
    assert t.schema.equals(SAMPLES_SCHEMA)
    assert t.column("signal").to_pylist() == ["a/b/x"] * 3
    assert t.column("quality").to_pylist() == [Quality.GOOD] * 3


def test_samples_length_mismatch_names_field() -> None:
    with pytest.raises(DataError, match="field 'ts' has 2 rows but 'value' has 3"):
        make_samples(np.arange(2), "a/x", [1.0, 2.0, 3.0])


def test_waveforms_round_trip_values() -> None:
    block = np.random.default_rng(0).normal(size=(2, 5)).astype(np.float32)
    t = make_waveforms(np.array([0, 10**9]), "a/vib", 12000.0, block)
    assert t.schema.equals(WAVEFORMS_SCHEMA)
    assert np.allclose(np.asarray(t.column("values")[1].as_py()), block[1])
    with pytest.raises(DataError, match="rate_hz"):
        make_waveforms(np.array([0]), "a/vib", 0.0, block[:1])


def test_events_payload_is_json() -> None:
    t = make_events(np.array([5]), "a/p1", "anomaly", 700, {"score": 3.5})
    assert t.schema.equals(EVENTS_SCHEMA)
    assert t.column("payload")[0].as_py() == '{"score": 3.5}'


def test_conform_casts_plain_strings_and_reports_missing() -> None:
    plain = pa.table(
        {
            "ts": pa.array([1], pa.int64()).cast(pa.timestamp("ns", "UTC")),
            "signal": ["a/x"],
            "value": [1.0],
            "quality": pa.array([192], pa.uint8()),
        }
    )
    assert conform(plain, SAMPLES_SCHEMA, "samples").schema.equals(SAMPLES_SCHEMA)
    with pytest.raises(DataError, match=r"missing column\(s\) \['quality'\]"):
        conform(plain.drop(["quality"]), SAMPLES_SCHEMA, "samples")


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_quality_from_status_keeps_severity(code: int) -> None:
    q = Quality.from_opcua_status(code)
    severity = code >> 30
    assert q == {0: Quality.GOOD, 1: Quality.UNCERTAIN}.get(severity, Quality.BAD)
    assert Quality.from_opcua_status(q.to_opcua_status()) == q
