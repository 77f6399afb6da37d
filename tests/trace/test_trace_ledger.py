"""The ledger detects every single edit, removal, swap and truncation, and says which."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgetwin.core.errors import DataError
from edgetwin.trace import Ledger, entry_hash, ledger_path_for, record_decision, record_training
from edgetwin.trace.ledger import GENESIS, canonical

KINDS = ["dataset", "training", "module", "deployment", "decision"]


def _fill(path: Path, n: int) -> Ledger:
    led = Ledger(path)
    for i in range(n):
        led.append(
            KINDS[i % 5],
            f"subject-{i}",
            {"i": i, "note": "x" * (i % 3)},
            ts=f"2026-01-01T00:00:{i:02d}+00:00",
        )
    return led


def _lines(led: Ledger) -> list[str]:
    return led.path.read_text().splitlines()


def _write(led: Ledger, lines: list[str]) -> None:
    led.path.write_text("".join(line + "\n" for line in lines))


def test_append_chains_hashes(tmp_path):
    led = _fill(tmp_path / "l.jsonl", 4)
    entries = list(led.entries())
    assert [e["seq"] for e in entries] == [0, 1, 2, 3]
    assert entries[0]["prev_hash"] == GENESIS
    for a, b in zip(entries, entries[1:], strict=False):
        assert b["prev_hash"] == a["hash"]
    for e in entries:
        assert e["hash"] == entry_hash(e)
    report = led.verify()
    assert report.ok and report.entries == 4 and report.checked_head
    assert report.head_hash == entries[-1]["hash"]
    assert report.kinds == {"dataset": 1, "training": 1, "module": 1, "deployment": 1}
    assert led.head() == {"seq": 3, "hash": entries[-1]["hash"]}


def test_ledger_beside_duckdb_and_bad_input(tmp_path):
    assert ledger_path_for(tmp_path / "edgetwin.duckdb") == tmp_path / "edgetwin.ledger.jsonl"
    led = Ledger.beside(tmp_path / "edgetwin.duckdb")
    with pytest.raises(DataError, match="ledger kind 'alarm'"):
        led.append("alarm", "x")
    with pytest.raises(DataError, match="not JSON-serialisable"):
        led.append("decision", "x", {"obj": object()})


def test_decision_names_module_and_window(tmp_path):
    led = Ledger(tmp_path / "l.jsonl")
    mod = {"name": "pump-diag", "version": "1.0.0", "sha256": "ab" * 32}
    record_training(led, "pump-diag", ["cwru@" + "cd" * 8], {"lr": 1e-3}, {"acc": 0.98})
    e = record_decision(
        led,
        mod,
        {
            "signal": "site/l1/pump1/vib_de",
            "start": "2026-01-01T00:00:00Z",
            "end": "2026-01-01T00:00:01Z",
        },
        "alarm: outer-race fault",
        score=0.93,
    )
    assert e["payload"]["module"]["name"] == "pump-diag" and e["payload"]["window"][
        "signal"
    ].endswith("vib_de")
    assert e["subject"] == "site/l1/pump1/vib_de" and e["seq"] == 1
    with pytest.raises(DataError, match=r"window: missing \['end'\]"):
        record_decision(led, mod, {"signal": "s", "start": 0}, "alarm")
    assert led.verify().ok


def test_edit_is_named(tmp_path):
    led = _fill(tmp_path / "l.jsonl", 6)
    lines = _lines(led)
    e = json.loads(lines[3])
    e["payload"]["i"] = 99
    lines[3] = json.dumps(e)
    _write(led, lines)
    p = led.verify().problem
    assert p is not None and (p.seq, p.reason) == (3, "edited")
    assert "does not match its hash" in str(p)


def test_edit_with_recomputed_hash_is_named(tmp_path):
    led = _fill(tmp_path / "l.jsonl", 6)
    lines = _lines(led)
    e = json.loads(lines[2])
    e["subject"] = "forged"
    e["hash"] = entry_hash(e)
    lines[2] = canonical(e).decode()
    _write(led, lines)
    p = led.verify().problem
    assert p is not None and (p.seq, p.reason) == (2, "edited") and "re-hashed" in p.detail


def test_removed_reordered_truncated_rewritten(tmp_path):
    led = _fill(tmp_path / "a.jsonl", 6)
    lines = _lines(led)
    _write(led, lines[:2] + lines[3:])
    p = led.verify().problem
    assert p is not None and (p.reason, p.line) == ("removed", 2) and "seq=2" in p.detail

    _write(led, lines[:1] + [lines[4], lines[2], lines[3], lines[1], lines[5]])
    p = led.verify().problem
    assert p is not None and (p.reason, p.line, p.seq) == ("reordered", 1, 4)

    _write(led, lines[:4])
    p = led.verify().problem
    assert p is not None and p.reason == "truncated" and "2 entries removed" in p.detail

    # without the head file, truncation needs a published head hash
    led.head_path.unlink()
    assert led.verify().ok
    full_head = json.loads(lines[-1])["hash"]
    p = led.verify(expected_head=full_head).problem
    assert p is not None and p.reason == "rewritten"


def test_appending_after_verify_continues_chain(tmp_path):
    led = _fill(tmp_path / "l.jsonl", 3)
    other = Ledger(led.path)  # a second writer process sees the same tail
    e = other.append("decision", "s", {"k": 1})
    assert e["seq"] == 3 and e["prev_hash"] == list(led.entries())[2]["hash"]
    assert led.verify().ok


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n=st.integers(min_value=2, max_value=12),
    op=st.sampled_from(["edit", "rehash-edit", "remove", "swap"]),
    data=st.data(),
)
def test_any_single_tampering_is_detected(tmp_path_factory, n, op, data):
    led = _fill(tmp_path_factory.mktemp("l") / "l.jsonl", n)
    lines = _lines(led)
    k = data.draw(st.integers(min_value=0, max_value=n - 1), label="k")
    if op in ("edit", "rehash-edit"):
        e = json.loads(lines[k])
        field = data.draw(st.sampled_from(["ts", "kind", "subject", "payload"]), label="field")
        e[field] = {
            "ts": "2030-01-01T00:00:00+00:00",
            "kind": "forged",
            "subject": "forged",
            "payload": {"i": -1},
        }[field]
        if op == "rehash-edit":
            e["hash"] = entry_hash(e)
        lines[k] = canonical(e).decode()
        expected = {"edited", "rewritten"}
    elif op == "remove":
        del lines[k]
        expected = {"removed", "truncated"}
    else:
        j = data.draw(st.integers(min_value=0, max_value=n - 1).filter(lambda j: j != k), label="j")
        lines[k], lines[j] = lines[j], lines[k]
        expected = {"reordered"}
    _write(led, lines)
    report = led.verify()
    assert not report.ok
    assert report.problem is not None and report.problem.reason in expected
    if op in ("edit", "remove") and not (op == "remove" and k == n - 1):
        assert report.problem.line == k
    if op == "rehash-edit" and k < n - 1:
        assert (report.problem.line, report.problem.reason) == (k, "edited")
