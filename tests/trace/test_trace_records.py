"""Ledger records for a real signed module: the module entry carries its file hash."""

from __future__ import annotations

import hashlib

import pytest
from onnx import TensorProto, helper

from edgetwin.core.errors import SignatureError
from edgetwin.edge import Manifest, build_module
from edgetwin.trace import Ledger, record_dataset, record_decision, record_deployment, record_module


def _identity_onnx() -> bytes:
    g = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "id",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3])],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m.SerializeToString()


def test_lifecycle_records(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGETWIN_HOME", str(tmp_path / "home"))
    path = build_module(
        tmp_path / "m.zip",
        onnx_fp32=_identity_onnx(),
        manifest=Manifest(name="idm", task="anomaly", version="1.2.0"),
    )
    led = Ledger.beside(tmp_path / "edgetwin.duckdb")
    record_dataset(led, "skab-valve1", "/d/skab/valve1", "ab" * 32, rows=1147)
    mod = record_module(led, path)
    assert mod["subject"] == "idm@1.2.0"
    assert mod["payload"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    record_deployment(led, mod["payload"], "site/line1/pump1")
    record_decision(
        led, mod["payload"], {"signal": "site/line1/pump1/flow", "start": 0, "end": 10**9}, "alarm"
    )
    report = led.verify()
    assert report.ok and report.kinds == {"dataset": 1, "module": 1, "deployment": 1, "decision": 1}
    # a tampered module is not recorded
    import zipfile

    with zipfile.ZipFile(path) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    files["manifest.json"] = files["manifest.json"].replace(b'"1.2.0"', b'"9.9.9"')
    with zipfile.ZipFile(path, "w") as zf:
        for n, b in files.items():
            zf.writestr(n, b)
    with pytest.raises(SignatureError, match="manifest.json"):
        record_module(led, path)
    assert led.verify().entries == 4
