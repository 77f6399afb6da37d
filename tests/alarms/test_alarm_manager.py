"""AlarmManager on real Arrow batches: limits, deadband, delays, model alarms, operator actions."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgetwin.alarms import AlarmError, AlarmManager
from edgetwin.alarms.limits import LimitTracker, debounce
from edgetwin.core import Quality, make_events, make_samples
from edgetwin.core.config import AlarmConfig

S = 1_000_000_000


def payloads(events):
    return [json.loads(p) for p in events.column("payload").to_pylist()]


def test_high_limit_raises_and_clears_with_deadband():
    cfg = AlarmConfig(signal="site/p1/temp", high=80.0, deadband=5.0, priority="high")
    m = AlarmManager([cfg])
    ts = np.arange(6) * S
    ev = m.evaluate(make_samples(ts, "site/p1/temp", [70, 81, 78, 76, 74, 70]))
    p = payloads(ev)
    assert [x["transition"] for x in p] == ["activated", "cleared"]
    assert p[0]["value"] == 81 and p[0]["limit"] == 80 and p[0]["priority"] == "high"
    assert p[0]["state"] == "unacknowledged-active"
    # cleared only at 74 (<= 80 - 5), not at 78 or 76
    assert ev.column("ts").cast("int64").to_pylist() == [1 * S, 4 * S]
    assert ev.column("source").to_pylist() == ["site/p1", "site/p1"]
    assert ev.column("kind").to_pylist() == ["alarm", "alarm"]
    assert ev.column("severity").to_pylist() == [750, 750]
    assert m.get("site/p1/temp/hi").state == "returned-to-normal-unacknowledged"


def test_on_delay_filters_short_excursions():
    cfg = AlarmConfig(signal="a/x", high=1.0, on_delay_s=3.0)
    m = AlarmManager([cfg])
    v = [0, 2, 2, 0, 2, 2, 2, 2, 0]
    ev = m.evaluate(make_samples(np.arange(len(v)) * S, "a/x", v))
    # excursion at t=1..2 lasts 1 s: ignored; the one from t=4 holds until t=7 (4 + 3 s)
    assert ev.column("ts").cast("int64").to_pylist()[0] == 7 * S
    assert payloads(ev)[0]["transition"] == "activated"


def test_bad_quality_samples_are_ignored():
    m = AlarmManager([AlarmConfig(signal="a/x", high=1.0)])
    q = [Quality.GOOD, Quality.BAD, Quality.GOOD]
    ev = m.evaluate(make_samples(np.arange(3) * S, "a/x", [0.0, 5.0, 0.5], q))
    assert ev.num_rows == 0


def test_operator_actions_emit_events_and_notify():
    m = AlarmManager([AlarmConfig(signal="a/x", low=10.0, name="low_flow")])
    seen = []
    m.subscribe(seen.append)
    m.evaluate(make_samples([0, S], "a/x", [12.0, 3.0]))
    assert [a.alarm_id for a in m.active()] == ["a/low_flow"]
    ev = m.acknowledge("a/low_flow", "alice", "checking valve", ts_ns=2 * S)
    p = payloads(ev)[0]
    assert (
        p["state"] == "acknowledged-active"
        and p["user"] == "alice"
        and p["comment"] == "checking valve"
    )
    with pytest.raises(AlarmError, match="already acknowledged"):
        m.acknowledge("a/low_flow", "bob")
    with pytest.raises(AlarmError, match="unknown alarm"):
        m.acknowledge("nope", "bob")
    m.shelve("a/low_flow", "alice", 60.0, ts_ns=3 * S)
    assert m.active() == []
    ev = m.tick(3 * S + 61 * S)
    assert payloads(ev)[0]["transition"] == "unshelved-timeout"
    assert m.get("a/low_flow").state == "unacknowledged-active"
    assert [s["transition"] for s in seen] == [
        "activated",
        "acknowledged",
        "shelved",
        "unshelved-timeout",
    ]


def test_model_events_become_alarms():
    m = AlarmManager()
    ev = make_events(
        [5 * S, 9 * S],
        "site/line1/pump1",
        "anomaly",
        [700, 700],
        [
            {"module": "pump-ae", "score": 4.2, "threshold": 3.0, "window": [0, 5]},
            {"module": "pump-ae", "score": 1.0, "active": False},
        ],
    )
    out = payloads(m.evaluate(ev))
    assert [o["transition"] for o in out] == ["activated", "cleared"]
    assert out[0]["alarm_id"] == "site/line1/pump1/pump-ae"
    assert out[0]["origin"] == "model" and out[0]["priority"] == "high"
    assert out[0]["value"] == 4.2 and out[0]["limit"] == 3.0
    assert out[0]["extra"]["window"] == [0, 5]


def reference(cfg: AlarmConfig, ts, vals):
    """Naive per-sample implementation of deadband + on/off delay."""
    raw = deb = False
    since = None
    out = []
    for t, v in zip(ts, vals, strict=True):
        if cfg.high is not None and v > cfg.high:
            raw = True
        elif cfg.high is not None and v <= cfg.high - cfg.deadband:
            raw = False
        if raw == deb:
            since = None
            continue
        if since is None:
            since = t
        delay = cfg.on_delay_s if raw else cfg.off_delay_s
        if t - since >= int(delay * 1e9):
            deb = raw
            since = None
            out.append((int(t), raw, float(v)))
    return out


@settings(max_examples=200, deadline=None)
@given(
    vals=st.lists(st.floats(0, 10), min_size=1, max_size=60),
    deadband=st.floats(0, 3),
    on_delay=st.integers(0, 4),
    off_delay=st.integers(0, 4),
    split=st.integers(0, 60),
)
def test_debounce_matches_reference_and_any_batch_split(vals, deadband, on_delay, off_delay, split):
    cfg = AlarmConfig(
        signal="a/x", high=5.0, deadband=deadband, on_delay_s=on_delay, off_delay_s=off_delay
    )
    ts = np.arange(len(vals), dtype=np.int64) * S
    v = np.asarray(vals)
    whole = debounce(cfg, LimitTracker(), ts, v)
    assert whole == reference(cfg, ts, v)
    tr = LimitTracker()
    k = min(split, len(vals))
    parts = debounce(cfg, tr, ts[:k], v[:k]) + debounce(cfg, tr, ts[k:], v[k:])
    assert parts == whole
