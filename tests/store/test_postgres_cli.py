"""`--db postgresql://...` end to end: a short headless demo writes to PostgreSQL, `query` reads it.

typer's Path options squash `://` to `:/`; the CLI restores it (store.location), so the URL must
reach the PostgreSQL store, never DuckDB, and the password must never be printed.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from typer.testing import CliRunner

from edgetwin.cli.main import _app
from edgetwin.store import open_store


def test_demo_and_query_on_postgres(pg_url: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # side files (ledger, twin state) go beside ./edgetwin-<db>.pg
    password = urlsplit(pg_url).password
    assert password
    runner = CliRunner()
    demo = runner.invoke(
        _app,
        ["demo", "--headless", "--no-serve", "--speed", "0", "--plant-time", "20min"]
        + ["--db", pg_url],
        env={"COLUMNS": "200"},
    )
    assert demo.exit_code == 0, demo.output
    assert "history in postgresql://" in demo.output and password not in demo.output

    signal = "acme/site1/area1/line1/pump1/bearing_temp"
    store = open_store(pg_url)
    try:
        assert store.read_samples(signal).num_rows == 20 * 60  # 1 Hz for 20 min of plant time
        assert store.read_waveforms().num_rows > 0
    finally:
        store.close()
    # the URL never became a DuckDB file name (typer squashes '//' in Path options)
    assert not list(tmp_path.glob("postgres*")) and not list(tmp_path.glob("*.duckdb"))

    query = runner.invoke(
        _app, ["query", signal, "--db", pg_url, "--every", "5min"], env={"COLUMNS": "200"}
    )
    assert query.exit_code == 0, query.output
    buckets = re.findall(r"│ \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+│", query.output)
    assert len(buckets) in (4, 5) and password not in query.output  # 20 min in 5-min buckets


def test_query_unknown_server_names_the_url_without_password(tmp_path: Path) -> None:
    url = "postgresql://someone:s3cret@127.0.0.1:1/nowhere"
    result = CliRunner().invoke(_app, ["query", "x/y", "--db", url])
    assert result.exit_code != 0  # a StoreError, which `edgetwin` prints without a traceback
    message = str(result.exception)
    assert "s3cret" not in message and "someone:***@127.0.0.1:1/nowhere" in message
