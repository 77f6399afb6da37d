"""Edge modules listed from a folder (a real signed module), AASX download, inspection images."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from fastapi.testclient import TestClient
from onnx import TensorProto, helper

from edgetwin.core import make_events
from edgetwin.core.config import parse_plant
from edgetwin.server import TokenStore, create_app
from edgetwin.twin import Twin
from edgetwin.twin.aas import read_aasx

PUMP = "site/line1/pump1"


def tiny_onnx() -> bytes:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 4])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m.SerializeToString()


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGETWIN_HOME", str(tmp_path / "home"))  # dev signing key lives here
    from edgetwin.edge import Manifest, build_module

    mods = tmp_path / "modules"
    mods.mkdir()
    manifest = Manifest(
        name="pump-relu",
        task="anomaly",
        version="1.2.0",
        verification={"f1": 0.93},
        evidence={
            "latency_ms": {"p50": 0.05, "p99": 0.2},
            "robustness": [{"perturbation": "noise", "severity": 1, "f1": 0.9}],
        },
    )
    build_module(mods / "pump-relu.etm", onnx_fp32=tiny_onnx(), manifest=manifest)
    (mods / "broken.etm").write_bytes(b"not a zip")
    plant = parse_plant(
        {
            "name": "mod plant",
            "assets": [{"path": PUMP, "signals": [{"name": "temp", "unit": "degC"}]}],
        }
    )
    twin = Twin.from_config(plant)
    app = create_app(
        twin,
        None,
        token_store=TokenStore(None),
        modules_dir=mods,
        public_url="http://127.0.0.1:8080/",
    )
    with TestClient(app) as c:
        yield c, twin, tmp_path


def test_modules_listed_with_signature_and_evidence(client):
    c, _, _ = client
    mods = {m["file"]: m for m in c.get("/api/modules").json()}
    assert mods["pump-relu.etm"]["signature"] == "valid"
    assert (
        mods["pump-relu.etm"]["version"] == "1.2.0" and mods["pump-relu.etm"]["task"] == "anomaly"
    )
    assert "not a readable edge module" in mods["broken.etm"]["error"]
    m = c.get("/api/modules/pump-relu").json()
    assert m["evidence"]["latency_ms"]["p99"] == 0.2
    assert m["manifest"]["verification"] == {"f1": 0.93}
    assert c.get("/api/modules/nope").status_code == 404


def test_tampered_module_is_flagged(client):
    c, _, tmp = client
    src = tmp / "modules" / "pump-relu.etm"
    buf = io.BytesIO()
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(buf, "w") as zout:
        for item in zin.namelist():
            data = zin.read(item)
            if item == "model.onnx":
                data = data[:-1] + bytes([data[-1] ^ 1])  # flip one bit of the model
            zout.writestr(item, data)
    src.write_bytes(buf.getvalue())
    sig = {m["file"]: m for m in c.get("/api/modules").json()}["pump-relu.etm"]["signature"]
    assert sig.startswith("invalid")


def test_aasx_download_has_module_shells(client, tmp_path):
    c, _, _ = client
    r = c.get("/api/aas/export")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/asset-administration-shell-package"
    path = tmp_path / "dl.aasx"
    path.write_bytes(r.content)
    ids = {o.id for o in read_aasx(path)}
    assert "urn:edgetwin:module:pump-relu:1.2.0:AIModelNameplate" in ids
    assert "urn:edgetwin:mod_plant:asset:site/line1/pump1:sm:TimeSeries" in ids


def test_inspection_images_only_when_named_by_an_event(client):
    c, twin, tmp = client
    png = tmp / "overlay.png"
    import cv2

    assert cv2.imwrite(str(png), np.zeros((8, 8, 3), np.uint8))
    other = tmp / "secret.txt"
    other.write_text("no")
    assert c.get("/api/inspection-image", params={"path": str(png)}).status_code == 404
    twin.ingest(
        make_events(
            [1], PUMP, "inspection", 200, {"overlay": str(png), "verdict": "defect", "score": 0.8}
        )
    )
    r = c.get("/api/inspection-image", params={"path": str(png)})
    assert r.status_code == 200 and r.content[:4] == b"\x89PNG"
    assert c.get("/api/inspection-image", params={"path": str(other)}).status_code == 404
    assert [e["kind"] for e in c.get(f"/api/assets/{PUMP}/timeline").json()] == ["inspection"]
