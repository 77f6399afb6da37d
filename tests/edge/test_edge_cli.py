"""`edgetwin module …` end to end on a real ONNX file: build, verify, tamper, quantize, bench."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import onnxruntime as ort
import yaml
from typer.testing import CliRunner

from edgetwin.cli.module import app
from edgetwin.edge import EdgeModule, read_manifest

runner = CliRunner()


def _ok(args):
    res = runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output + repr(res.exception)
    return res.output


def _flat(text: str) -> str:
    """Rich wraps long lines at the terminal width; compare with single spaces."""
    return " ".join(text.split())


def _setup(tmp_path, cnn_onnx, cnn_inputs):
    model = tmp_path / "model.onnx"
    model.write_bytes(cnn_onnx)
    man = tmp_path / "manifest.yaml"
    man.write_text(
        yaml.safe_dump(
            {
                "name": "cli-cnn",
                "task": "diagnosis",
                "version": "0.3.0",
                "model": {"family": "1d-cnn", "hyperparameters": {"kernel": 5}},
                "operation": {"monitors": ["drift"], "latency_budget_ms": 5.0},
            }
        )
    )
    ref = ort.InferenceSession(cnn_onnx, providers=["CPUExecutionProvider"]).run(
        None, {"x": cnn_inputs}
    )[0]
    np.save(tmp_path / "x.npy", cnn_inputs)
    np.save(tmp_path / "ref.npy", ref)
    np.savez(tmp_path / "eval.npz", x=cnn_inputs, y=ref.argmax(1))
    return model, man, ref


def test_build_with_parity_then_quantize_bench_robustness(tmp_path, cnn_onnx, cnn_inputs):
    model, man, ref = _setup(tmp_path, cnn_onnx, cnn_inputs)
    out = tmp_path / "m.zip"
    text = _ok(
        [
            "build",
            model,
            "-m",
            man,
            "-o",
            out,
            "--reference-inputs",
            tmp_path / "x.npy",
            "--reference-outputs",
            tmp_path / "ref.npy",
            "--atol",
            "1e-4",
        ]
    )
    assert "export parity OK" in text
    m = read_manifest(out)
    assert m.evidence["parity_export"]["passed"] and m.verification["export_parity_max_abs"] < 1e-4
    assert "OK" in _ok(["verify", out])

    text = _ok(
        [
            "quantize",
            out,
            "--calibration",
            tmp_path / "x.npy",
            "--eval",
            tmp_path / "eval.npz",
            "--max-accuracy-drop",
            "0.2",
        ]
    )
    m = read_manifest(out)
    ev = m.evidence["parity_int8"]
    assert ev["accuracy_fp32"] == 1.0 and 0.8 <= ev["accuracy_int8"] <= 1.0 and ev["max_abs"] > 0
    assert EdgeModule.load(out, precision="int8").precision == "int8"

    text = _ok(
        [
            "bench",
            out,
            "--batch",
            "1",
            "--batch",
            "4",
            "--iterations",
            "20",
            "--threads",
            "1",
            "--record",
        ]
    )
    assert "int8" in text and "fp32" in text
    rows = read_manifest(out).evidence["bench"]["rows"]
    assert {(r["precision"], r["batch"]) for r in rows} >= {("fp32", 1), ("int8", 4)}

    np.savez(tmp_path / "rob.npz", x=cnn_inputs[:24], y=ref[:24].argmax(1))
    text = _ok(
        [
            "robustness",
            out,
            "--data",
            tmp_path / "rob.npz",
            "--perturbation",
            "noise",
            "--perturbation",
            "offset",
        ]
    )
    rob = read_manifest(out).evidence["robustness_fp32"]
    assert rob["clean"] == 1.0 and [r["severity"] for r in rob["rows"]] == [0, 1, 2, 3, 4, 5] * 2
    offset = [r["metric"] for r in rob["rows"] if r["perturbation"] == "offset"]
    assert offset[0] == 1.0 and min(offset[3:]) < 0.9  # a 0.5-2 sigma offset flips decisions

    aas = tmp_path / "aas.json"
    text = _ok(["inspect", out, "--aas", aas])
    assert "verified" in text and "modelling" in text
    assert set(json.loads(aas.read_text())) == {"AIModelNameplate", "AIDeployment"}


def test_build_fails_when_export_scores_differ(tmp_path, cnn_onnx, cnn_inputs):
    model, man, ref = _setup(tmp_path, cnn_onnx, cnn_inputs)
    np.save(tmp_path / "ref_off.npy", ref + 0.05)  # the training model scored differently
    res = runner.invoke(
        app,
        [
            "build",
            str(model),
            "-m",
            str(man),
            "-o",
            str(tmp_path / "m.zip"),
            "--reference-inputs",
            str(tmp_path / "x.npy"),
            "--reference-outputs",
            str(tmp_path / "ref_off.npy"),
        ],
    )
    assert res.exit_code != 0 and "parity failed" in str(res.exception)
    assert not (tmp_path / "m.zip").exists()


def test_quantize_fails_on_tight_tolerance(tmp_path, cnn_onnx, cnn_inputs):
    model, man, _ = _setup(tmp_path, cnn_onnx, cnn_inputs)
    out = tmp_path / "m.zip"
    _ok(["build", model, "-m", man, "-o", out])
    res = runner.invoke(
        app, ["quantize", str(out), "--calibration", str(tmp_path / "x.npy"), "--atol", "1e-7"]
    )
    assert res.exit_code == 1 and "FAILED parity" in _flat(res.output)
    assert read_manifest(out).evidence["parity_int8"]["passed"] is False


def test_tamper_refused_then_keys(tmp_path, cnn_onnx, cnn_inputs):
    model, man, _ = _setup(tmp_path, cnn_onnx, cnn_inputs)
    out = tmp_path / "m.zip"
    _ok(["build", model, "-m", man, "-o", out])
    with zipfile.ZipFile(out) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    data = bytearray(files["model.onnx"])
    data[-10] ^= 0xFF
    files["model.onnx"] = bytes(data)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n, b in files.items():
            zf.writestr(n, b)
    out.write_bytes(buf.getvalue())
    res = runner.invoke(app, ["verify", str(out)])
    assert res.exit_code == 1 and "'model.onnx' changed after signing" in _flat(res.output)
    assert "NOT VERIFIED" in _ok(["inspect", out])

    # a release key that this machine does not trust yet
    key = tmp_path / "release.pem"
    pub = _ok(["keygen", key, "--name", "release", "--no-trust"]).strip().splitlines()[-1]
    _ok(["sign", out, "--key", key])
    res = runner.invoke(app, ["verify", str(out)])
    assert res.exit_code == 1 and "untrusted key" in _flat(res.output)
    _ok(["trust", pub, "--name", "release"])
    assert "signed by release" in _flat(_ok(["verify", out]))


def test_targets_table(tmp_path, cnn_onnx, cnn_inputs):
    model, man, _ = _setup(tmp_path, cnn_onnx, cnn_inputs)
    out = tmp_path / "m.zip"
    _ok(["build", model, "-m", man, "-o", out])
    text = _ok(["targets", out, "--threads", "1", "--record"])
    est = read_manifest(out).deployment["estimates"]
    assert est["kind"].startswith("roofline estimate")
    assert est["targets"]["hailo8/fp32"]["verdict"] == "unsupported"
    assert est["targets"]["rpi5/fp32"]["roofline_ms"] > 0 and est["macs"] == 92_208
    assert "ESTIMATES" in text and "rpi5" in text and "hailo8" in text and "unsupported" in text
    assert "this-machine" in text
