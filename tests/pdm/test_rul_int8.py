"""The exact INT8 graph passes the RUL twin uses: float outputs and first-conv channel padding."""

from __future__ import annotations

import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from edgetwin.edge.quantize import (  # noqa: E402
    calibration_batches,
    float_graph_outputs,
    pad_first_conv_channels,
    quantize_static,
)
from edgetwin.pdm.rul.net import RulCnn, grouped_onnx  # noqa: E402


@pytest.fixture(scope="module")
def quantised() -> tuple[bytes, np.ndarray]:
    torch.manual_seed(1)
    members = [
        RulCnn(6, channels=8, activation="relu", head_activation="gelu").eval() for _ in range(3)
    ]
    x = np.random.default_rng(1).normal(size=(96, 40, 6)).astype(np.float32)
    q = quantize_static(
        grouped_onnx(members, window=40, n_features=6, channels_last_head=True),
        calibration_batches(x, "windows", batch_size=32),
    )
    return q, x


def _run(model: bytes, x: np.ndarray) -> np.ndarray:
    return ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(
        ["rul"], {"windows": x}
    )[0]


def _output_grid(model: bytes) -> tuple[float, float, float]:
    """(step, lowest, highest) value the quantised output can take."""
    g = onnx.load(io.BytesIO(model)).graph
    dq = next(n for n in g.node if n.output[0] == "rul")
    init = {i.name: onnx.numpy_helper.to_array(i) for i in g.initializer}
    scale, zp = float(init[dq.input[1]]), float(init[dq.input[2]])
    return scale, (0 - zp) * scale, (255 - zp) * scale


def test_padding_first_conv_channels_changes_no_output(quantised) -> None:
    q, x = quantised
    padded = pad_first_conv_channels(q, 16)
    g = onnx.load(io.BytesIO(padded)).graph
    pad = next(n for n in g.node if n.op_type == "Pad")
    conv = next(n for n in g.node if n.op_type == "Conv")
    w_dq = next(n for n in g.node if n.output[0] == conv.input[1])
    w = next(i for i in g.initializer if i.name == w_dq.input[0])
    assert list(w.dims)[1] == 16  # 6 input channels -> 16
    assert pad.output[0] in [i for n in g.node for i in n.input]
    np.testing.assert_array_equal(_run(padded, x), _run(q, x))  # bit for bit the same
    # already a multiple: the graph is returned untouched
    assert pad_first_conv_channels(q, 3) == q
    assert pad_first_conv_channels(q, 2) == q


def test_float_outputs_drop_only_the_output_rounding(quantised) -> None:
    q, x = quantised
    fl = float_graph_outputs(q)
    ops = [n.op_type for n in onnx.load(io.BytesIO(fl)).graph.node]
    assert (
        ops.count("QuantizeLinear")
        == [n.op_type for n in onnx.load(io.BytesIO(q)).graph.node].count("QuantizeLinear") - 1
    )
    a, b = _run(q, x), _run(fl, x)
    step, lo, hi = _output_grid(q)
    # the quantised output is the float one rounded to its 8-bit grid (and clipped to the
    # calibrated range): at most half a step from the clipped float output
    assert np.abs(a - np.clip(b, lo, hi)).max() <= 0.5 * step + 1e-4
    assert np.abs(a - b).max() > 0  # and the rounding was really there
    assert float_graph_outputs(fl) == fl  # nothing left to drop
    graph = onnx.load(io.BytesIO(fl)).graph
    used = {name for n in graph.node for name in n.input}
    assert [i.name for i in graph.initializer if i.name not in used] == []  # no dead scale/zp
