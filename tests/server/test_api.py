"""The REST API against a real twin and a real DuckDB store in tmp_path."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from edgetwin.core import make_events, make_samples
from edgetwin.core.config import parse_plant
from edgetwin.server import TokenStore, create_app
from edgetwin.store import open_store
from edgetwin.twin import Twin

S = 1_000_000_000
T0 = 1_700_000_000 * S
PUMP = "site/line1/pump1"


@pytest.fixture
def env(tmp_path):
    plant = parse_plant(
        {
            "name": "api plant",
            "assets": [
                {
                    "path": PUMP,
                    "type": "pump",
                    "nameplate": {"manufacturer": "ACME"},
                    "signals": [{"name": "temp", "unit": "degC"}],
                },
                {"path": "site/line1/pump2", "signals": [{"name": "temp", "unit": "degC"}]},
            ],
            "alarms": [
                {
                    "signal": f"{PUMP}/temp",
                    "high": 80.0,
                    "priority": "critical",
                    "message": "bearing hot",
                }
            ],
        }
    )
    store = open_store(tmp_path / "h.duckdb")
    twin = Twin.from_config(plant, state_dir=tmp_path)
    tokens = TokenStore(tmp_path / "tokens.json")
    token = tokens.create("alice")
    app = create_app(twin, store, token_store=tokens, public_url="http://127.0.0.1:8080/")
    with TestClient(app) as client:
        yield client, twin, store, {"Authorization": f"Bearer {token}"}
    store.close()
    twin.close()


def feed(twin, store, table):
    store.append(table)
    ev = twin.ingest(table)
    store.append(ev)


def test_reads_latest_range_downsample(env):
    client, twin, store, _ = env
    n = 10_000
    ts = T0 + np.arange(n, dtype=np.int64) * S
    vals = 50 + np.sin(np.arange(n) / 100)
    feed(twin, store, make_samples(ts, f"{PUMP}/temp", vals))
    r = client.get("/api/latest", params={"ids": f"{PUMP}/temp"})
    assert r.status_code == 200
    assert r.json()[f"{PUMP}/temp"]["value"] == pytest.approx(vals[-1])
    assert r.json()[f"{PUMP}/temp"]["ts_ns"] == int(ts[-1])
    r = client.get(
        f"/api/signals/{PUMP}/temp/samples", params={"start": str(T0), "end": str(T0 + 100 * S)}
    )
    body = r.json()
    assert len(body["t"]) == 100 and body["value"][5] == pytest.approx(vals[5])
    r = client.get(
        f"/api/signals/{PUMP}/temp/downsample",
        params={"start": str(T0), "end": str(T0 + n * S), "points": 100},
    )
    d = r.json()
    assert len(d["t"]) == 100 and sum(d["n"]) == n
    assert d["max"][0] == pytest.approx(vals[:100].max()) and d["min"][0] == pytest.approx(
        vals[:100].min()
    )
    assert "Server-Timing" in r.headers
    # default range: the window before the latest sample
    d2 = client.get(
        f"/api/signals/{PUMP}/temp/downsample", params={"window": "10m", "points": 60}
    ).json()
    assert sum(d2["n"]) == 600
    r = client.get(f"/api/signals/{PUMP}/temp/samples", params={"limit": 10})
    assert r.status_code == 400 and "more than limit=10" in r.json()["detail"]
    r = client.get(f"/api/signals/{PUMP}/temp/samples", params={"start": "yesterday-ish"})
    assert r.status_code == 400 and "ISO 8601" in r.json()["detail"]


def test_alarm_flow_needs_token_and_lands_in_history(env):
    client, twin, store, auth = env
    feed(twin, store, make_samples([T0, T0 + S], f"{PUMP}/temp", [70.0, 91.0]))
    alarms = client.get("/api/alarms").json()
    assert [a["alarm_id"] for a in alarms] == [f"{PUMP}/temp/hi"]
    assert alarms[0]["state"] == "unacknowledged-active" and alarms[0]["value"] == 91.0
    asset = client.get(f"/api/assets/{PUMP}").json()
    assert asset["status"] == "alarm" and asset["health"] == pytest.approx(0.2)
    assert "bearing hot" in asset["health_reason"]
    tree = client.get("/api/plant").json()["tree"]
    assert tree[0]["status"] == "alarm" and tree[0]["worst"] == PUMP

    url = f"/api/alarms/{PUMP}/temp/hi/acknowledge"
    r = client.post(url, json={"comment": "on it"})
    assert r.status_code == 401 and "edgetwin token create" in r.json()["detail"]
    r = client.post(url, json={"comment": "on it"}, headers={"Authorization": "Bearer et_wrong"})
    assert r.status_code == 401
    r = client.post(url, json={"comment": "on it"}, headers=auth)
    assert (
        r.status_code == 200
        and r.json()["state"] == "acknowledged-active"
        and r.json()["user"] == "alice"
    )
    r = client.post(url, json={}, headers=auth)
    assert r.status_code == 409 and "already acknowledged" in r.json()["detail"]
    r = client.post("/api/alarms/nope/acknowledge", headers=auth)
    assert r.status_code == 404
    r = client.post(f"/api/alarms/{PUMP}/temp/hi/shelve", json={"duration_s": -5}, headers=auth)
    assert r.status_code == 422 and "duration_s" in r.json()["detail"]
    r = client.post(f"/api/alarms/{PUMP}/temp/hi/shelve", json={"duraton_s": 5}, headers=auth)
    assert r.status_code == 422 and "duraton_s: unknown field" in r.json()["detail"]

    # the acknowledgement is in the store, after the activation
    stored = client.get("/api/events", params={"source": PUMP, "kind": "alarm"}).json()
    assert [e["payload"]["transition"] for e in stored] == ["activated", "acknowledged"]
    assert stored[1]["payload"]["comment"] == "on it"


def test_work_orders(env):
    client, twin, store, auth = env
    feed(twin, store, make_samples([T0], f"{PUMP}/temp", [95.0]))
    r = client.post(
        "/api/work-orders", json={"asset": PUMP, "alarm_id": f"{PUMP}/temp/hi"}, headers=auth
    )
    assert r.status_code == 201
    wo = r.json()
    assert wo["title"].startswith("bearing hot") and wo["opened_by"] == "alice"
    r = client.post(f"/api/work-orders/{wo['id']}/close", json={"note": ""}, headers=auth)
    assert r.status_code == 422 and "note" in r.json()["detail"]
    r = client.post(f"/api/work-orders/{wo['id']}/close", json={"note": "regreased"}, headers=auth)
    assert r.json()["status"] == "closed"
    assert (
        client.get("/api/work-orders", params={"asset": "site/line1", "status": "closed"}).json()[
            0
        ]["note"]
        == "regreased"
    )
    r = client.post("/api/work-orders", json={"asset": "site/nowhere", "title": "x"}, headers=auth)
    assert r.status_code == 404 and "known assets" in r.json()["detail"]
    kinds = [e["kind"] for e in client.get(f"/api/assets/{PUMP}/timeline").json()]
    assert kinds[:2] == ["maintenance", "maintenance"]
    stored = store.read_events(source=PUMP, kind="maintenance")
    assert [json.loads(p)["action"] for p in stored.column("payload").to_pylist()] == [
        "opened",
        "closed",
    ]


def test_model_events_and_openapi(env):
    client, twin, store, _ = env
    feed(
        twin,
        store,
        make_events([T0], PUMP, "diagnosis", 700, {"module": "cwru-diag", "label": "inner race"}),
    )
    alarms = client.get("/api/alarms", params={"asset": PUMP}).json()
    assert alarms[0]["origin"] == "model" and "inner race" in alarms[0]["message"]
    spec = client.get("/openapi.json").json()
    for path in (
        "/api/latest",
        "/api/signals/{signal_id}/downsample",
        "/api/alarms/{alarm_id}/acknowledge",
        "/api/work-orders",
        "/api/aas/export",
        "/api/stream",
        "/api/modules",
    ):
        assert path in spec["paths"], path
    assert client.get("/").status_code == 200
