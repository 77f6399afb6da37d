"""AAS rendering of a manifest, and the benchmark rows on a real module."""

from __future__ import annotations

import json

import numpy as np

from edgetwin.edge import DatasetRef, Manifest, build_module, update_module
from edgetwin.edge.aas import SEMANTIC_IDS, manifest_to_aas_submodels
from edgetwin.edge.bench import (
    bench_module,
    interleaved,
    latency_stats,
    rows_table,
    synthetic_feeds,
)
from edgetwin.edge.quantize import calibration_batches, quantize_static


def _walk(elements):
    for e in elements:
        yield e
        if e["modelType"] == "SubmodelElementCollection":
            yield from _walk(e["value"])


def test_manifest_renders_as_nameplate_and_deployment():
    m = Manifest(
        name="cmapss-rul",
        task="rul",
        version="2.1.0",
        data=[DatasetRef("FD001", "/d/cmapss/train_FD001.txt", "ab" * 32, 20631)],
        model={"family": "1d-cnn", "hyperparameters": {"window": 30, "lr": 0.001, "dropout": True}},
        verification={"rmse": 13.2},
        deployment={"targets": [{"target": "rpi5", "latency_ms": 1.2}]},
        operation={"monitors": ["input-drift"], "latency_budget_ms": 50},
    )
    sms = manifest_to_aas_submodels(m)
    assert set(sms) == {"AIModelNameplate", "AIDeployment"}
    np_ = sms["AIModelNameplate"]
    assert np_["semanticId"]["keys"][0]["value"] == SEMANTIC_IDS["nameplate"]
    assert np_["id"] == "urn:edgetwin:module:cmapss-rul:2.1.0:AIModelNameplate"
    props = {
        e["idShort"]: e for e in _walk(np_["submodelElements"]) if e["modelType"] == "Property"
    }
    assert props["ModelVersion"]["value"] == "2.1.0"
    assert props["window"] == {**props["window"], "valueType": "xs:long", "value": "30"}
    assert props["lr"]["valueType"] == "xs:double" and props["dropout"]["value"] == "true"
    assert props["sha256"]["value"] == "ab" * 32 and props["rmse"]["value"] == "13.2"
    dep = {e["idShort"]: e for e in _walk(sms["AIDeployment"]["submodelElements"])}
    assert dep["LatencyBudgetMs"]["value"] == "50.0"
    assert dep["latency_ms"]["value"] == "1.2"
    import re

    for sm in sms.values():
        for e in _walk(sm["submodelElements"]):
            assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", e["idShort"])
    json.dumps(sms)  # plain JSON


def test_bench_rows_for_fp32_and_int8(tmp_path, cnn_onnx, cnn_inputs):
    path = build_module(
        tmp_path / "m.zip", onnx_fp32=cnn_onnx, manifest=Manifest(name="b", task="diagnosis")
    )
    update_module(path, onnx_int8=quantize_static(cnn_onnx, calibration_batches(cnn_inputs, "x")))
    rows = bench_module(
        path, batches=(1, 8), iterations=30, warmup=3, threads=1, providers=["CPUExecutionProvider"]
    )
    assert [(r.precision, r.batch) for r in rows] == [
        ("fp32", 1),
        ("fp32", 8),
        ("int8", 1),
        ("int8", 8),
    ]
    for r in rows:
        assert r.threads == 1 and r.n == 30
        assert 0 < r.p50_ms <= r.p99_ms <= r.max_ms
        assert r.throughput == r.batch * 1e3 / r.mean_ms
        assert r.peak_rss_mb is None or r.peak_rss_mb > 10
    real = bench_module(
        path, batches=(4,), precisions=("fp32",), iterations=5, warmup=1, samples=cnn_inputs[:3]
    )
    assert real[0].batch == 4
    from rich.console import Console

    c = Console(record=True, width=160)
    c.print(rows_table(rows))
    assert "int8" in c.export_text()


def test_latency_stats_and_synthetic_feeds():
    s = latency_stats([0.001] * 99 + [0.011], batch=2)
    assert s["p50_ms"] == 1.0 and s["max_ms"] == 11.0 and abs(s["mean_ms"] - 1.1) < 1e-9
    assert abs(s["throughput"] - 2 / 0.0011) < 1e-6
    feeds = synthetic_feeds(
        Manifest(name="s", task="rul", inputs={"x": ["batch", 14, 30]}), batch=5
    )
    assert feeds["x"].shape == (5, 14, 30) and feeds["x"].dtype == np.float32


def test_interleaved_reverses_the_order_every_round_and_times_each_call():
    calls: list[str] = []
    fns = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    per_round = interleaved(fns, rounds=3, calls=4, warmup=2)
    assert list(per_round) == ["a", "b"] and all(len(v) == 3 for v in per_round.values())
    assert all(t >= 0.0 for v in per_round.values() for t in v)
    # each round: warm-up + timed calls of one function, then the other; order flips per round
    assert calls == ["a"] * 6 + ["b"] * 6 + ["b"] * 6 + ["a"] * 6 + ["a"] * 6 + ["b"] * 6
