"""The grouped ensemble computes exactly the members' mean, and its INT8 twin stays in int8."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from edgetwin.pdm.rul.net import GroupedRulEnsemble, RulCnn, RulEnsemble, grouped_onnx  # noqa: E402


def _members(activation: str, n: int = 3) -> list[RulCnn]:
    torch.manual_seed(0)
    members = [RulCnn(6, channels=8, dropout=0.5, activation=activation) for _ in range(n)]
    for m in members:  # non-trivial biases, so a mis-ordered bias copy shows
        with torch.no_grad():
            for p in m.parameters():
                p.add_(0.05 * torch.randn_like(p))
    return [m.eval() for m in members]


@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_grouped_ensemble_equals_member_mean(activation: str) -> None:
    members = _members(activation)
    x = torch.randn(16, 40, 6)
    with torch.no_grad():
        ref = RulEnsemble(members).eval()(x)
        got = GroupedRulEnsemble(members).eval()(x)
        one = members[1](x)
    assert got.shape == (16, 1)
    np.testing.assert_allclose(got.numpy(), ref.numpy(), atol=1e-3)
    # and the mean is of all members, not one of them
    assert float((ref - one).abs().max()) > 0.01


def test_grouped_relu_int8_graph_runs_int8_ops(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    from edgetwin.edge.quantize import calibration_batches, quantize_static

    members = _members("relu")
    fp32 = grouped_onnx(members, window=40, n_features=6)
    x = np.random.default_rng(0).normal(size=(128, 40, 6)).astype(np.float32)
    q = quantize_static(fp32, calibration_batches(x, "windows", batch_size=32))
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    opts.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    sess = ort.InferenceSession(q, opts, providers=["CPUExecutionProvider"])
    out = sess.run(["rul"], {"windows": x[:8]})[0]
    ref = ort.InferenceSession(fp32, providers=["CPUExecutionProvider"]).run(
        ["rul"], {"windows": x[:8]}
    )[0]
    assert np.abs(out - ref).max() < 0.05 * np.abs(ref).max() + 0.5
    import onnx

    # the graph as quantised (3 trunk + 2 head convolutions): every convolution and activation has int8 QDQ on its input, so
    # onnxruntime turns Conv+Relu into QLinearConv; no float Conv survives optimisation
    path = io.BytesIO(q)
    ops = [n.op_type for n in onnx.load(path).graph.node]
    assert ops.count("Conv") == 5 and "Relu" not in ops  # Relu folded into the QDQ ranges
    assert "ReduceMean" not in ops and "ReduceMax" not in ops  # pooling ops with int8 kernels
    # and after onnxruntime's fusions the convolutions, pooling and head all run in int8
    fused = [n.op_type for n in onnx.load(str(tmp_path / "optimized.onnx")).graph.node]
    assert fused.count("QLinearConv") == 5 and "Conv" not in fused and "FusedConv" not in fused
    assert "QLinearAveragePool" in fused and "Gemm" not in fused
    assert fused.count("DequantizeLinear") == 1  # only the output leaves int8
