"""`edgetwin token` and `edgetwin server serve` as a user runs them (real processes)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import numpy as np

from edgetwin.core import make_samples
from edgetwin.store import open_store

CLI = [sys.executable, "-m", "edgetwin.cli.main"]
PLANT = """
name: cli plant
assets:
  - path: site/line1/pump1
    signals: [{name: temp, unit: degC}]
alarms:
  - {signal: site/line1/pump1/temp, high: 80}
"""


def test_token_cli_prints_token_once_and_stores_hash(tmp_path):
    env = {**os.environ, "EDGETWIN_HOME": str(tmp_path)}
    r = subprocess.run(
        [*CLI, "token", "create", "alice"], capture_output=True, text=True, env=env, timeout=60
    )
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    assert token.startswith("et_") and len(token) > 40
    stored = (tmp_path / "tokens.json").read_text()
    assert token not in stored and "alice" in stored
    assert (tmp_path / "tokens.json").stat().st_mode & 0o077 == 0
    r = subprocess.run(
        [*CLI, "token", "revoke", "bob"], capture_output=True, text=True, env=env, timeout=60
    )
    assert r.returncode == 1 and "revoked 0" in r.stdout


def test_server_serve_starts_from_stored_values(tmp_path, port):
    (tmp_path / "plant.yaml").write_text(PLANT)
    db = tmp_path / "h.duckdb"
    with open_store(db) as store:
        store.append(
            make_samples(
                10**18 + np.arange(5) * 10**9, "site/line1/pump1/temp", [70, 71, 72, 85, 86.5]
            )
        )
    env = {**os.environ, "EDGETWIN_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [
            *CLI,
            "server",
            "serve",
            "--plant",
            str(tmp_path / "plant.yaml"),
            "--db",
            str(db),
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        asset = httpx.get(url + "/api/assets/site/line1/pump1").json()
        assert asset["signals"]["temp"]["value"] == 86.5
        assert asset["status"] == "alarm"  # the last stored value is above the limit
        r = httpx.get(
            url + "/api/signals/site/line1/pump1/temp/samples", params={"start": str(10**18)}
        )
        assert r.json()["value"] == [70, 71, 72, 85, 86.5]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
