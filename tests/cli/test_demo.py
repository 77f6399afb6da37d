"""`edgetwin demo` headless, short: the injected fault is caught before failure, no false events."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from edgetwin.cli.main import _app


def test_demo_headless_detects_outer_race_fault(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # no artifacts/diagnosis.zip here: the anomaly monitor alone
    db = tmp_path / "demo.duckdb"
    result = CliRunner().invoke(
        _app,
        [
            "demo",
            "--headless",
            "--no-serve",
            "--speed",
            "0",
            "--plant-time",
            "2.5h",
            "--db",
            str(db),
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    out = result.output
    row = re.search(
        r"│ pump2\s+│ outer_race\s+│ 1\.50\s+│ 8\.00\s+│ (\d+\.\d+)\s+│ (\d+\.\d+) h", out
    )
    assert row, out
    detected_h, lead_h = float(row.group(1)), float(row.group(2))
    assert 1.5 <= detected_h < 2.0  # after the onset, within half an hour
    assert lead_h > 6.0
    for healthy in ("pump1", "pump3", "fan1"):
        assert re.search(rf"│ {healthy}\s+│ healthy\s+│ —\s+│ —\s+│ —\s+│ —\s+│ 0 ", out), out

    from edgetwin.trace.ledger import Ledger

    ledger = Ledger.beside(db)
    assert ledger.verify().ok
    decisions = [e for e in ledger.entries() if e["kind"] == "decision"]
    assert [d["subject"] for d in decisions] == ["acme/site1/area1/line1/pump2"]
    payload = decisions[0]["payload"]
    assert payload["module"]["name"] == "anomaly-pca-t2q" and len(payload["module"]["sha256"]) == 64
    assert payload["window"]["end"] - payload["window"]["start"] == 3 * 60 * 10**9

    query = CliRunner().invoke(
        _app,
        [
            "query",
            "acme/site1/area1/line1/pump2/anomaly_score",
            "--since",
            "1h",
            "--every",
            "15m",
            "--db",
            str(db),
        ],
        env={"COLUMNS": "200"},
    )
    assert query.exit_code == 0, query.output
    rows = re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d .*│\s+(\d+) │", query.output)
    assert 4 <= len(rows) <= 5  # an hour in 15-minute buckets (the first may be partial)
    assert sum(int(n) for n in rows) == 60  # one score per 60 s window over the last hour


def test_query_unknown_signal_lists_known_ones(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "demo.duckdb"
    CliRunner().invoke(
        _app,
        [
            "demo",
            "--headless",
            "--no-serve",
            "--speed",
            "0",
            "--plant-time",
            "10m",
            "--db",
            str(db),
        ],
    )
    result = CliRunner().invoke(_app, ["query", "nope/x", "--db", str(db)])
    assert result.exit_code != 0
    assert "has no samples" in str(result.exception) and "acme/site1" in str(result.exception)


def test_sigterm_stops_gracefully_and_flushes(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from edgetwin.store import open_store

    db = tmp_path / "term.duckdb"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edgetwin.cli.main",
            "demo",
            "--headless",
            "--no-serve",
            "--speed",
            "3600",
            "--plant-time",
            "24h",
            "--db",
            str(db),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"},
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        for line in proc.stdout:  # wait until the pipeline runs (imports are slow on a busy box)
            if line.startswith("running:") or time.monotonic() > deadline:
                break
        time.sleep(3)  # well inside the run: 24 h of plant time takes ~24 s here
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    assert "Demo summary" in out  # the summary still printed after the signal
    with open_store(db, read_only=True) as store:
        n = store.count()
        hours = store.count("waveforms") / 4 / 60  # 4 assets, one burst a minute
    assert n > 0
    assert 0 < hours < 24  # stopped early, not at the end


def test_bad_plant_config_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = tmp_path / "plant.yaml"
    bad.write_text(
        "name: x\nassets:\n  - path: acme/l1/p1\n    signals:\n      - {name: t, unit: degc}\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "edgetwin.cli.main", "run", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert f"{bad}: invalid plant config" in out.stderr
    assert "unknown unit 'degc' (did you mean 'degC'?)" in out.stderr


def test_demo_over_opcua_delivers_the_plant(tmp_path: Path, monkeypatch) -> None:
    import socket

    from edgetwin.store import open_store

    monkeypatch.chdir(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        ua_port = s.getsockname()[1]
    db = tmp_path / "ua.duckdb"
    result = CliRunner().invoke(
        _app,
        [
            "demo",
            "--headless",
            "--no-serve",
            "--via",
            "opcua",
            "--speed",
            "240",
            "--plant-time",
            "20m",
            "--opcua-port",
            str(ua_port),
            "--db",
            str(db),
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert f"plant data over OPC UA: opc.tcp://127.0.0.1:{ua_port}" in result.output
    with open_store(db, read_only=True) as store:
        flow = store.read_samples("acme/site1/area1/line1/pump1/flow")
        bursts = store.count("waveforms")
    ts = flow.column("ts").cast("int64").to_numpy()
    span_s = (ts[-1] - ts[0]) / 1e9 + 1
    # the server steps while the client connects (a few plant minutes at 240x go by); from the
    # subscription on, every 1 Hz value arrives through OPC UA, without gaps
    assert span_s >= 10 * 60
    assert flow.num_rows >= 0.98 * span_s
    assert bursts >= 0.9 * 4 * 20  # one burst a minute per machine, through the tap
