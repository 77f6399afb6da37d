"""`edgetwin trace verify|log` on a real ledger file."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from edgetwin.cli.trace import app
from edgetwin.trace import Ledger


def test_verify_and_log(tmp_path):
    led = Ledger.beside(tmp_path / "edgetwin.duckdb")
    for i in range(3):
        led.append("decision", f"site/l1/p{i}/vib", {"score": i / 10})
    runner = CliRunner()
    ok = runner.invoke(app, ["verify", str(tmp_path / "edgetwin.duckdb")])
    assert ok.exit_code == 0 and "OK 3 entries" in ok.output and "decision=3" in ok.output
    out = runner.invoke(app, ["log", str(led.path), "--json", "-n", "2"])
    rows = [json.loads(line) for line in out.output.splitlines()]
    assert [r["seq"] for r in rows] == [1, 2]
    lines = led.path.read_text().splitlines()
    led.path.write_text("\n".join([lines[0], lines[2]]) + "\n")
    bad = runner.invoke(app, ["verify", str(led.path)])
    assert bad.exit_code == 1 and "removed" in bad.output and "seq=1" in bad.output
