"""Headless Chromium (Debian package) drives the dashboard: an asset goes from healthy to alarm,
the operator acknowledges it in the page, and the API confirms the acknowledgement.

The twin is fed inside the server's event loop, exactly as the runtime feeds it; the page only
learns about the alarm through the live stream (server-sent events), so the test fails if live
updates break.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import numpy as np
import pytest

from edgetwin.core import make_samples
from edgetwin.core.config import parse_plant
from edgetwin.server import TokenStore, create_app
from edgetwin.server.background import ServerThread
from edgetwin.server.headless import CHROMIUM, launch
from edgetwin.store import open_store
from edgetwin.twin import Twin

PUMP = "site/area1/line1/pump1"
ALARM = f"{PUMP}/temp/hi"
S = 1_000_000_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs /usr/bin/chromium (apt-get install chromium chromium-driver)",
    ),
]


def artifacts_dir(tmp_path: Path) -> Path:
    root = os.environ.get("EDGETWIN_ARTIFACTS")
    path = Path(root) if root else Path(__file__).resolve().parents[2] / "artifacts"
    try:
        path.mkdir(parents=True, exist_ok=True)
        return path
    except OSError:
        return tmp_path


@pytest.fixture
def served(tmp_path, port):
    plant = parse_plant(
        {
            "name": "browser test plant",
            "assets": [
                {"path": PUMP, "type": "pump", "signals": [{"name": "temp", "unit": "degC"}]},
                {
                    "path": "site/area1/line1/pump2",
                    "type": "pump",
                    "signals": [{"name": "temp", "unit": "degC"}],
                },
                {"path": "site/area2/fan1", "signals": [{"name": "speed", "unit": "rpm"}]},
            ],
            "alarms": [
                {
                    "signal": f"{PUMP}/temp",
                    "high": 80.0,
                    "priority": "high",
                    "message": "bearing temperature high",
                }
            ],
        }
    )
    store = open_store(tmp_path / "h.duckdb")
    twin = Twin.from_config(plant, state_dir=tmp_path)
    tokens = TokenStore(tmp_path / "tokens.json")
    token = tokens.create("operator1")
    t0 = 1_800_000_000 * S
    history = make_samples(
        t0 + np.arange(600) * S, f"{PUMP}/temp", 60 + np.sin(np.arange(600) / 30)
    )
    store.append(history)
    twin.ingest(history)
    app = create_app(twin, store, token_store=tokens)
    with ServerThread(app, port=port) as srv:
        yield srv, twin, store, token, t0 + 600 * S
    store.close()
    twin.close()


def feed(srv, twin, store, table):
    events = srv.call(twin.ingest, table)
    store.append(table)
    store.append(events)


def test_asset_goes_to_alarm_and_is_acknowledged_in_the_page(served, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    srv, twin, store, token, t_next = served
    node = f'.tree .node[data-path="{PUMP}"]'
    row = f'tr[data-alarm="{ALARM}"]'
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{srv.url}/#token={token}")
            expect(page.locator(node)).to_have_class(re.compile(r"\bstatus-ok\b"))
            expect(page.locator("#token-btn")).to_have_text("Signed in: operator1")
            page.click(node)
            expect(page.locator("#asset-status")).to_have_text("ok")
            expect(page.locator(".chart canvas").first).to_be_visible()
            expect(page.locator("#no-alarms")).to_be_visible()

            # the process crosses the high limit: the page must turn red through the live stream
            feed(
                srv,
                twin,
                store,
                make_samples(t_next + np.arange(3) * S, f"{PUMP}/temp", [79.0, 84.0, 86.5]),
            )
            expect(page.locator("#asset-status")).to_have_text("alarm")
            expect(page.locator(node)).to_have_class(re.compile(r"\bstatus-alarm\b"))
            expect(page.locator('.tree .node[data-path="site"]')).to_have_class(
                re.compile(r"\bstatus-alarm\b")
            )
            expect(page.locator(f"{row} .state")).to_contain_text("unacknowledged-active")
            expect(page.locator('#signals tr[data-signal="temp"] td.num')).to_have_text("86.500")

            page.click(f"{row} button.ack")
            expect(page.locator(f"{row} .state")).to_contain_text("acknowledged-active")
            expect(page.locator(f"{row} .state")).not_to_contain_text("unacknowledged")
            expect(page.locator(f"{row} button.ack")).to_have_count(0)
            expect(page.locator('#timeline li[data-kind="alarm"]').first).to_contain_text(
                "acknowledged"
            )

            shot = artifacts_dir(tmp_path) / "dashboard_alarm_acknowledged.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot: {shot}")
            assert shot.stat().st_size > 10_000
        finally:
            browser.close()

    state = httpx.get(f"{srv.url}/api/alarms/{ALARM}/state").json()
    assert state["state"] == "acknowledged-active"
    assert state["user"] == "operator1"
    assert state["value"] == 86.5
    stored = [
        e["payload"]["transition"]
        for e in httpx.get(f"{srv.url}/api/events", params={"kind": "alarm"}).json()
    ]
    assert stored == ["activated", "acknowledged"]
