"""Twin on real Arrow batches: live state, health roll-up, alarms, work orders, changes."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgetwin.core import Quality, make_events, make_samples
from edgetwin.core.config import parse_plant
from edgetwin.twin import Twin, TwinError, WorkOrderError
from edgetwin.twin.lastvalue import last_per_signal

S = 1_000_000_000


def plant():
    return parse_plant(
        {
            "name": "test plant",
            "assets": [
                {
                    "path": "site/area1/line1/pump1",
                    "type": "pump",
                    "signals": [{"name": "temp", "unit": "degC"}],
                },
                {
                    "path": "site/area1/line1/pump2",
                    "type": "pump",
                    "signals": [{"name": "temp", "unit": "degC"}],
                },
                {"path": "site/area2/fan1", "signals": [{"name": "speed", "unit": "rpm"}]},
            ],
            "sources": [{"name": "sim", "kind": "sim"}],
            "alarms": [{"signal": "site/area1/line1/pump2/temp", "high": 90.0, "priority": "high"}],
        }
    )


def test_live_state_and_late_data():
    twin = Twin.from_config(plant())
    twin.ingest(
        make_samples(
            [1 * S, 2 * S],
            "site/area1/line1/pump1/temp",
            [40.0, 41.5],
            [Quality.GOOD, Quality.UNCERTAIN],
        )
    )
    a = twin.asset("site/area1/line1/pump1")
    assert a.signals["temp"].value == 41.5
    assert a.signals["temp"].ts_ns == 2 * S
    assert a.signals["temp"].to_dict()["quality"] == "uncertain"
    # a late sample (older ts) never replaces newer live state
    twin.ingest(make_samples([1 * S + 5], "site/area1/line1/pump1/temp", [10.0]))
    assert twin.asset("site/area1/line1/pump1").signals["temp"].value == 41.5
    # derived signals feed health and RUL
    d = make_samples(
        [3 * S] * 4,
        ["site/area1/line1/pump1/" + n for n in ("health", "rul", "rul_lo", "rul_hi")],
        [0.45, 120.0, 90.0, 150.0],
    )
    twin.ingest(d)
    a = twin.asset("site/area1/line1/pump1")
    assert (a.rul, a.rul_lo, a.rul_hi) == (120.0, 90.0, 150.0)
    assert a.health == pytest.approx(0.45) and a.status == "alarm"
    assert "model health 0.45" in a.health_reason
    assert a.sources == {"sim": {"state": "unknown"}}
    with pytest.raises(TwinError, match="unknown asset"):
        twin.asset("site/nope")


def test_health_rolls_up_worst_child_with_reason():
    twin = Twin.from_config(plant())
    twin.ingest(
        make_samples(
            [S, S], ["site/area1/line1/pump1/health", "site/area2/fan1/health"], [0.7, 0.95]
        )
    )
    assert twin.health("site/area1/line1").value == pytest.approx(0.7)
    assert twin.health("site").worst == "site/area1/line1/pump1"
    assert twin.health("site/area2").value == pytest.approx(0.95)
    # an active high alarm on pump2 caps it at 0.4 and becomes the reason at every level above
    ev = twin.ingest(make_samples([2 * S], "site/area1/line1/pump2/temp", [95.0]))
    assert json.loads(ev.column("payload")[0].as_py())["state"] == "unacknowledged-active"
    site = twin.health("site")
    assert site.value == pytest.approx(0.4) and site.status == "alarm"
    assert site.worst == "site/area1/line1/pump2"
    assert "pump2/temp/hi" in site.reason and "above 90" in site.reason
    tree = twin.tree()
    assert tree[0]["path"] == "site" and tree[0]["status"] == "alarm"
    assert [c["path"] for c in tree[0]["children"]] == ["site/area1", "site/area2"]


def test_alarm_ack_and_work_orders_persist(tmp_path):
    twin = Twin.from_config(plant(), state_dir=tmp_path)
    sunk = []
    twin.add_event_sink(sunk.append)
    twin.ingest(make_samples([S], "site/area1/line1/pump2/temp", [99.0]))
    (alarm,) = twin.asset("site/area1/line1/pump2").alarms
    aid = alarm["alarm_id"]
    assert aid == "site/area1/line1/pump2/temp/hi"
    state = twin.acknowledge(aid, "alice", "looking")
    assert state["state"] == "acknowledged-active"
    wo = twin.open_work_order("site/area1/line1/pump2", "", from_alarm=aid, user="alice")
    assert "above 90" in wo.title and wo.alarm_id == aid and wo.status == "open"
    closed = twin.close_work_order(wo.id, "replaced seal", user="bob")
    assert closed.status == "closed" and closed.note == "replaced seal"
    with pytest.raises(WorkOrderError, match="already closed"):
        twin.close_work_order(wo.id, "again")
    kinds = [e["kind"] for e in twin.timeline("site/area1/line1/pump2")]
    assert kinds == ["maintenance", "maintenance", "alarm", "alarm"]  # newest first
    assert [t.column("kind")[0].as_py() for t in sunk] == ["alarm", "maintenance", "maintenance"]
    twin.close()
    again = Twin.from_config(plant(), state_dir=tmp_path)
    (persisted,) = again.work_orders.list(asset="site/area1")
    assert persisted.note == "replaced seal" and persisted.closed_by == "bob"


def test_model_events_raise_alarms_on_their_asset():
    twin = Twin.from_config(plant())
    twin.ingest(
        make_events([S], "site/area2/fan1", "anomaly", 800, {"module": "fan-ae", "score": 9.0})
    )
    a = twin.asset("site/area2/fan1")
    assert [x["alarm_id"] for x in a.alarms] == ["site/area2/fan1/fan-ae"]
    assert a.health == pytest.approx(0.2) and a.status == "alarm"
    assert [e["kind"] for e in twin.timeline("site/area2/fan1")] == ["alarm", "anomaly"]


def test_snapshot_is_json():
    twin = Twin.from_config(plant())
    twin.ingest(make_samples([S], "site/area2/fan1/speed", [float("nan")]))
    snap = json.loads(json.dumps(twin.snapshot()))
    assert snap["assets"]["site/area2/fan1"]["signals"]["speed"]["value"] is None
    assert set(snap["assets"]) == {
        "site/area1/line1/pump1",
        "site/area1/line1/pump2",
        "site/area2/fan1",
    }


def test_changes_subscription_drops_oldest():
    async def main():
        twin = Twin.from_config(plant())
        sub = twin.changes(maxsize=3)
        for i in range(5):
            twin.ingest(make_samples([(i + 1) * S], "site/area2/fan1/speed", [float(i)]))
        items = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
        sub.close()
        return items, sub.dropped

    items, dropped = asyncio.run(main())
    assert dropped == 7  # 5 ingests x (asset + tree) = 10 changes into a queue of 3
    assert items[-1]["type"] == "tree"
    last_asset = [c for c in items if c["type"] == "asset"][-1]
    assert last_asset["state"]["signals"]["speed"]["value"] == 4.0


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 20), st.floats(-1e6, 1e6)),
        min_size=1,
        max_size=80,
    )
)
def test_last_per_signal_matches_reference(rows):
    sig = [f"a/s{r[0]}" for r in rows]
    ts = np.array([r[1] for r in rows], dtype=np.int64)
    vals = [r[2] for r in rows]
    got = last_per_signal(make_samples(ts, sig, vals))
    ref = {}
    for s, t, v in zip(sig, ts.tolist(), vals, strict=True):
        if s not in ref or t >= ref[s][0]:
            ref[s] = (t, v)
    assert (
        dict(
            zip(got.signals, zip(got.ts_ns.tolist(), got.values.tolist(), strict=True), strict=True)
        )
        == ref
    )
