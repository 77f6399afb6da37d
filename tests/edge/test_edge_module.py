"""Build, sign, load, tamper, quantize and parity-check a real ONNX module end to end."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import onnxruntime as ort
import pytest

from edgetwin.core.errors import ModuleError, SignatureError
from edgetwin.edge import (
    DatasetRef,
    EdgeModule,
    InputStats,
    Manifest,
    build_module,
    signing,
    update_module,
)
from edgetwin.edge.module import MODEL_FP32, read_module_files, verify_module
from edgetwin.edge.parity import check_parity
from edgetwin.edge.quantize import calibration_batches, quantize_static


def _manifest(**kw) -> Manifest:
    base = dict(
        name="pump-diag",
        task="diagnosis",
        version="1.0.0",
        data=[DatasetRef("cwru-12k", "/data/cwru", "ab" * 32, 1200)],
        preparation=["window 128 samples", "standardize per channel"],
        model={"family": "1d-cnn", "hyperparameters": {"filters": [8, 16], "kernel": 5}},
        verification={"accuracy": 0.97},
        operation={"monitors": ["input-drift", "latency"]},
    )
    base.update(kw)
    return Manifest(**base)


def _rewrite(path, mutate) -> None:
    files = read_module_files(path)
    mutate(files)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    path.write_bytes(buf.getvalue())


def test_build_load_run_matches_bare_onnxruntime(tmp_path, cnn_onnx, cnn_inputs):
    path = build_module(tmp_path / "m.zip", onnx_fp32=cnn_onnx, manifest=_manifest())
    names = set(zipfile.ZipFile(path).namelist())
    assert names == {
        "manifest.json",
        "model.onnx",
        "processing.json",
        "evidence.json",
        "signature.json",
    }
    mod = EdgeModule.load(path)
    # inputs/outputs were filled from the graph
    assert mod.manifest.inputs["x"].shape == ["batch", 2, 128]
    assert mod.manifest.outputs["scores"].dtype == "float32"
    bare = ort.InferenceSession(cnn_onnx, providers=["CPUExecutionProvider"])
    want = bare.run(None, {"x": cnn_inputs})[0]
    got = mod.run({"x": cnn_inputs})["scores"]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert mod.signature.signer == "local-dev"
    assert mod.manifest.data[0].rows == 1200


def test_predict_applies_named_processing(tmp_path, cnn_onnx, cnn_inputs):
    m = _manifest(
        preprocess={
            "function": "edgetwin.edge.processing:standardize",
            "params": {"mean": [1.0, -1.0], "std": [2.0, 0.5]},
        },
        postprocess={
            "function": "edgetwin.edge.processing:argmax_labels",
            "params": {"labels": ["ok", "ir", "or"]},
        },
    )
    mod = EdgeModule.load(build_module(tmp_path / "m.zip", onnx_fp32=cnn_onnx, manifest=m))
    x = cnn_inputs[:5]
    scaled = (x - np.array([1.0, -1.0])[None, :, None]) / np.array([2.0, 0.5])[None, :, None]
    scores = mod.run({"x": scaled.astype(np.float32)})["scores"]
    labels = mod.predict(x)
    assert list(labels) == [["ok", "ir", "or"][i] for i in scores.argmax(axis=1)]
    spec = json.loads(read_module_files(mod.path)["processing.json"])
    assert spec["postprocess"]["params"]["labels"] == ["ok", "ir", "or"]


def test_processing_function_outside_edgetwin_is_refused(tmp_path, cnn_onnx):
    m = _manifest(preprocess={"function": "os:system", "params": {}})
    path = build_module(tmp_path / "m.zip", onnx_fp32=cnn_onnx, manifest=m)
    with pytest.raises(ModuleError, match="only functions under"):
        EdgeModule.load(path)


def test_manifest_names_must_match_graph(tmp_path, cnn_onnx):
    with pytest.raises(ModuleError, match="manifest.inputs"):
        build_module(
            tmp_path / "m.zip",
            onnx_fp32=cnn_onnx,
            manifest=_manifest(inputs={"signal": [None, 2, 128]}),
        )


def test_flipped_byte_in_model_is_refused(tmp_path, cnn_onnx):
    path = build_module(tmp_path / "m.zip", onnx_fp32=cnn_onnx, manifest=_manifest())

    def flip(files):
        data = bytearray(files[MODEL_FP32])
        data[len(data) // 2] ^= 0x01
        files[MODEL_FP32] = bytes(data)

    _rewrite(path, flip)
    with pytest.raises(SignatureError, match="tampered: 'model.onnx' changed"):
        EdgeModule.load(path)


def test_edited_manifest_removed_file_unsigned_are_refused(tmp_path, cnn_onnx):
    path = build_module(tmp_path / "m.zip", onnx_fp32=cnn_onnx, manifest=_manifest())

    def edit(files):
        doc = json.loads(files["manifest.json"])
        doc["verification"]["accuracy"] = 0.999
        files["manifest.json"] = json.dumps(doc).encode()

    _rewrite(path, edit)
    with pytest.raises(SignatureError, match="'manifest.json' changed"):
        EdgeModule.load(path)

    path2 = build_module(tmp_path / "m2.zip", onnx_fp32=cnn_onnx, manifest=_manifest())
    _rewrite(path2, lambda f: f.pop("evidence.json"))
    with pytest.raises(SignatureError, match="'evidence.json' is missing"):
        EdgeModule.load(path2)

    path3 = build_module(tmp_path / "m3.zip", onnx_fp32=cnn_onnx, manifest=_manifest())
    _rewrite(path3, lambda f: f.update({"extra.bin": b"x"}))
    with pytest.raises(SignatureError, match="added after signing"):
        EdgeModule.load(path3)

    path4 = build_module(tmp_path / "m4.zip", onnx_fp32=cnn_onnx, manifest=_manifest())
    _rewrite(path4, lambda f: f.pop("signature.json"))
    with pytest.raises(SignatureError, match="unsigned"):
        EdgeModule.load(path4)


def test_resigned_by_forger_is_refused_as_untrusted(tmp_path, cnn_onnx):
    path = build_module(tmp_path / "m.zip", onnx_fp32=cnn_onnx, manifest=_manifest())
    forger = signing.Ed25519PrivateKey.generate()
    # a forger edits the manifest and re-signs with their own key: the signature is valid,
    # but the key is not in the trust list
    files = read_module_files(path)
    doc = json.loads(files["manifest.json"])
    doc["verification"]["accuracy"] = 0.999
    files["manifest.json"] = json.dumps(doc).encode()
    from edgetwin.edge.module import write_module

    write_module(path, files, signing_key=forger)
    with pytest.raises(SignatureError, match="untrusted key"):
        verify_module(path)
    # once trusted it loads
    signing.trust_key(signing.public_key_bytes(forger), "partner")
    assert verify_module(path).signer == "partner"


def test_signature_swapped_between_modules_is_refused(tmp_path, cnn_onnx):
    a = build_module(tmp_path / "a.zip", onnx_fp32=cnn_onnx, manifest=_manifest(version="1.0.0"))
    b = build_module(tmp_path / "b.zip", onnx_fp32=cnn_onnx, manifest=_manifest(version="2.0.0"))
    sig_b = read_module_files(b)["signature.json"]
    _rewrite(a, lambda f: f.update({"signature.json": sig_b}))
    with pytest.raises(SignatureError, match="manifest.json"):
        EdgeModule.load(a)


def test_quantize_static_int8_twin_and_parity(tmp_path, cnn_onnx, cnn_inputs):
    int8 = quantize_static(cnn_onnx, calibration_batches(cnn_inputs[:48], "x", batch_size=8))
    import onnx

    ops = {n.op_type for n in onnx.load_from_string(int8).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    path = build_module(tmp_path / "m.zip", onnx_fp32=cnn_onnx, manifest=_manifest())
    update_module(path, onnx_int8=int8)
    fp = EdgeModule.load(path, precision="fp32").run({"x": cnn_inputs})["scores"]
    q = EdgeModule.load(path, precision="int8").run({"x": cnn_inputs})["scores"]
    spread = float(fp.max() - fp.min())
    report = check_parity(fp, q, atol=0.1 * spread, name="int8")
    assert report.passed and report.max_abs > 0  # quantized, so not bit-identical
    assert report.label_agreement is not None and report.label_agreement >= 0.85


def test_parity_fails_on_injected_offset(cnn_onnx, cnn_inputs):
    sess = ort.InferenceSession(cnn_onnx, providers=["CPUExecutionProvider"])
    ref = sess.run(None, {"x": cnn_inputs})[0]
    ok = check_parity(ref, ref + 1e-6, atol=1e-4)
    assert ok.passed and ok.violations == 0
    with pytest.raises(ModuleError, match="parity failed, 192/192"):
        check_parity(ref, ref + 0.5, atol=1e-3, name="export")
    bad = check_parity(ref, ref + 0.5, atol=1e-3, raise_on_fail=False)
    assert not bad.passed and bad.max_abs == pytest.approx(0.5, abs=1e-6)


def test_int8_precision_missing_is_explained(tmp_path, cnn_onnx):
    path = build_module(tmp_path / "m.zip", onnx_fp32=cnn_onnx, manifest=_manifest())
    with pytest.raises(ModuleError, match="module quantize"):
        EdgeModule.load(path, precision="int8")


def test_input_stats_and_dataset_hash(tmp_path, cnn_inputs):
    stats = InputStats.from_array(cnn_inputs, feature_axis=1)
    assert len(stats.mean) == 2 and len(stats.bin_fractions[0]) == len(stats.bin_edges[0]) + 1
    np.testing.assert_allclose(stats.mean, cnn_inputs.mean(axis=(0, 2)), atol=1e-6)
    np.testing.assert_allclose(sum(stats.bin_fractions[1]), 1.0)
    f = tmp_path / "d.csv"
    f.write_text("a,b\n1,2\n")
    ref = DatasetRef.from_path("d", f, rows=1)
    import hashlib

    assert ref.sha256 == hashlib.sha256(b"a,b\n1,2\n").hexdigest()


def test_manifest_yaml_round_trip_and_stages(tmp_path):
    m = _manifest()
    import yaml

    p = tmp_path / "m.yaml"
    p.write_text(yaml.safe_dump(m.model_dump(mode="json")))
    back = Manifest.from_file(p)
    assert back == m
    stages = back.stages()
    assert list(stages) == [
        "data acquisition",
        "data preparation",
        "modelling",
        "verification and validation",
        "deployment",
        "operation",
    ]
    assert stages["modelling"]["family"] == "1d-cnn"
    with pytest.raises(ValueError, match="package.module:function_name"):
        Manifest(name="x", task="rul", preprocess={"function": "nofunc"})
