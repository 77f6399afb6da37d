"""The dashboard of a running headless demo: pump2 goes from healthy to alarm, the operator
acknowledges the model alarm in the page, and the API confirms it.

Nothing is fed by the test: the simulator, runtime, anomaly monitor and twin run in a real
`edgetwin demo` process; the browser learns about the alarm through the live stream.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from edgetwin.server.headless import CHROMIUM, launch

PUMP2 = "acme/site1/area1/line1/pump2"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)"
    ),
]


@pytest.fixture
def demo(tmp_path: Path, port: int):
    env = {
        **os.environ,
        "EDGETWIN_HOME": str(tmp_path / "home"),
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "250",
    }
    # 600 plant seconds per second: the fault (1.5 h) shows ~9 s in, after the page has loaded
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edgetwin.cli.main",
            "demo",
            "--headless",
            "--speed",
            "600",
            "--plant-time",
            "3h",
            "--port",
            str(port),
            "--linger",
            "120s",
            "--twin-opcua-port",
            str(free_port()),
            "--db",
            str(tmp_path / "d.duckdb"),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = None
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        m = re.search(r"dashboard: (http://\S+#token=\S+)", line)
        if m:
            url = m.group(1)
            break
    try:
        assert url, "demo did not print its dashboard URL"
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_pump_goes_to_alarm_and_is_acknowledged(demo: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    base = demo.split("#", 1)[0].rstrip("/")
    node = f'.tree .node[data-path="{PUMP2}"]'
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(demo)
            expect(page.locator(node)).not_to_have_class(re.compile(r"\bstatus-alarm\b"))
            page.click(node)
            expect(page.locator("#asset-status")).to_have_text("alarm", timeout=90_000)
            expect(page.locator(node)).to_have_class(re.compile(r"\bstatus-alarm\b"))
            row = page.locator("tr[data-alarm]").first
            expect(row.locator(".state")).to_contain_text("unacknowledged-active")
            row.locator("button.ack").click()
            expect(row.locator(".state")).to_contain_text("acknowledged-active")
            expect(row.locator(".state")).not_to_contain_text("unacknowledged")
            shots = Path(
                os.environ.get("EDGETWIN_ARTIFACTS", Path(__file__).parents[2] / "artifacts")
            )
            shots.mkdir(parents=True, exist_ok=True)  # kept after the run: the test's artefact
            shot = shots / "demo_dashboard_acknowledged.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot: {shot}")
            assert shot.stat().st_size > 10_000
        finally:
            browser.close()
    alarms = httpx.get(f"{base}/api/alarms", params={"asset": PUMP2}).json()
    assert alarms, "the model alarm is gone from the API"
    assert alarms[0]["state"] == "acknowledged-active"
    assert alarms[0]["user"].startswith("demo-")
    for healthy in ("pump1", "pump3", "fan1"):
        assert (
            httpx.get(
                f"{base}/api/alarms", params={"asset": f"acme/site1/area1/line1/{healthy}"}
            ).json()
            == []
        )
