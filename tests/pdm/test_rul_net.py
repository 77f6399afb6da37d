"""The grouped ensemble computes exactly the members' mean, and its INT8 twin stays in int8."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from edgetwin.pdm.rul.net import GroupedRulEnsemble, RulCnn, RulEnsemble, grouped_onnx  # noqa: E402


def _members(
    activation: str, n: int = 3, head_activation: str | None = None, residual: str = "branch"
) -> list[RulCnn]:
    torch.manual_seed(0)
    members = [
        RulCnn(
            6,
            channels=8,
            dropout=0.5,
            activation=activation,
            head_activation=head_activation,
            residual=residual,
        )
        for _ in range(n)
    ]
    for m in members:  # non-trivial biases, so a mis-ordered bias copy shows
        with torch.no_grad():
            for p in m.parameters():
                p.add_(0.05 * torch.randn_like(p))
    return [m.eval() for m in members]


@pytest.mark.parametrize("residual", ["branch", "sum"])
@pytest.mark.parametrize("channels_last_head", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_grouped_ensemble_equals_member_mean(
    activation: str, channels_last_head: bool, residual: str
) -> None:
    # for "sum" this checks the skip connection folded into the grouped convolutions' weights
    _check_grouped_equals_mean(_members(activation, residual=residual), channels_last_head)


@pytest.mark.parametrize("n_members", [10, 20])
def test_grouped_ensemble_equals_member_mean_for_more_members(n_members: int) -> None:
    # the estimator's 10 (one repeat) and 20 (two repeats) members: the last Gemm carries
    # cap / M of each member's weights
    members = _members("relu", n=n_members, head_activation="gelu", residual="sum")
    grouped = _check_grouped_equals_mean(members, channels_last_head=True)
    assert grouped.n_members == n_members
    ref = members[4].head[3].weight * members[4].cap_cycles / n_members
    np.testing.assert_allclose(
        grouped.fc2.weight[:, 4 * 64 : 5 * 64].detach().numpy(), ref.detach().numpy(), rtol=1e-6
    )


def _check_grouped_equals_mean(
    members: list[RulCnn], channels_last_head: bool
) -> GroupedRulEnsemble:
    torch.manual_seed(1)
    x = torch.randn(16, 40, 6)
    with torch.no_grad():
        ref = RulEnsemble(members).eval()(x)
        grouped = GroupedRulEnsemble(members, channels_last_head=channels_last_head).eval()
        got = grouped(x)
        one = members[1](x)
    assert got.shape == (16, 1)
    np.testing.assert_allclose(got.numpy(), ref.numpy(), atol=1e-3)
    # and the mean is of all members, not one of them
    assert float((ref - one).abs().max()) > 0.01
    return grouped


def _int8_twin(members: list[RulCnn], x: np.ndarray) -> tuple[bytes, bytes]:
    from edgetwin.edge.quantize import calibration_batches, quantize_static

    fp32 = grouped_onnx(members, window=40, n_features=6)
    q = quantize_static(
        grouped_onnx(members, window=40, n_features=6, channels_last_head=True),
        calibration_batches(x, "windows", batch_size=32),
        float_outputs=True,
        first_conv_channel_multiple=16,
    )
    return fp32, q


def test_residual_forms_are_checked() -> None:
    with pytest.raises(ValueError, match="residual 'post'"):
        RulCnn(6, residual="post")
    mixed = _members("relu", n=1) + _members("relu", n=1, residual="sum")
    with pytest.raises(ValueError, match="mix residual forms"):
        GroupedRulEnsemble(mixed)


@pytest.mark.parametrize("residual", ["branch", "sum"])
def test_grouped_relu_int8_graph_runs_int8_ops(tmp_path: Path, residual: str) -> None:
    ort = pytest.importorskip("onnxruntime")
    import onnx

    # the estimator's network, in both residual forms
    members = _members("relu", head_activation="gelu", residual=residual)
    x = np.random.default_rng(0).normal(size=(128, 40, 6)).astype(np.float32)
    fp32, q = _int8_twin(members, x)
    # the fp32 graph: one op per layer, GELU as one op (opset 20), no reshape, no output scaling
    fp_ops = [n.op_type for n in onnx.load(io.BytesIO(fp32)).graph.node]
    assert "Reshape" not in fp_ops and "Shape" not in fp_ops and "Mul" not in fp_ops
    assert fp_ops.count("Conv") == 4 and fp_ops.count("Gemm") == 1
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL  # as the runtime
    opts.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    sess = ort.InferenceSession(q, opts, providers=["CPUExecutionProvider"])
    out = sess.run(["rul"], {"windows": x[:8]})[0]
    ref = ort.InferenceSession(fp32, providers=["CPUExecutionProvider"]).run(
        ["rul"], {"windows": x[:8]}
    )[0]
    assert out.shape == (8, 1)
    assert np.abs(out - ref).max() < 0.05 * np.abs(ref).max() + 0.5

    # the graph as quantised (3 trunk convolutions, the head convolution and the head Gemm):
    # every one has int8 QDQ on its input, so onnxruntime turns Conv+Relu into QLinearConv
    ops = [n.op_type for n in onnx.load(io.BytesIO(q)).graph.node]
    assert ops.count("Conv") == 4 and ops.count("Gemm") == 1 and "Relu" not in ops
    assert "ReduceMean" not in ops and "ReduceMax" not in ops  # pooling ops with int8 kernels
    # and after onnxruntime's fusions the convolutions, pooling and head all run in int8; the
    # only float ops are the head's GELU between a DequantizeLinear and a QuantizeLinear, and
    # the last Gemm writes the output in float (no output rounding)
    fused = [n.op_type for n in onnx.load(str(tmp_path / "optimized.onnx")).graph.node]
    assert fused.count("QLinearConv") == 4 and "Conv" not in fused and "FusedConv" not in fused
    assert fused.count("QGemm") == 1 and "Gemm" not in fused
    assert "QLinearGlobalAveragePool" in fused and "Gelu" in fused
    assert fused.count("DequantizeLinear") == 1  # into the GELU, nowhere else
    assert fused.count("QuantizeLinear") == 2  # the input and the GELU's output
    assert fused.index("Pad") == fused.index("QuantizeLinear") + 1  # channel padding, in uint8
    # the residual Adds: one per block for "branch"; none for "sum", whose skip connection
    # lives in the convolution weights
    assert fp_ops.count("Add") == (2 if residual == "branch" else 0)
    assert fused.count("QLinearAdd") == (2 if residual == "branch" else 0)
