"""Fixtures for edge-module tests: an isolated key store and a small real 1D CNN in ONNX."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper


@pytest.fixture(autouse=True)
def edgetwin_home(tmp_path, monkeypatch):
    """Every test gets its own dev key and trust list."""
    home = tmp_path / "edgetwin_home"
    monkeypatch.setenv("EDGETWIN_HOME", str(home))
    return home


def cnn1d_onnx(channels: int = 2, length: int = 128, classes: int = 3, seed: int = 0) -> bytes:
    """Conv1d(8,k5)-ReLU-Conv1d(16,k5)-ReLU-GlobalAvgPool-Gemm: the shape of the PdM CNNs."""
    rng = np.random.default_rng(seed)

    def init(name: str, shape: tuple[int, ...], scale: float) -> onnx.TensorProto:
        return numpy_helper.from_array(
            (rng.standard_normal(shape) * scale).astype(np.float32), name
        )

    inits = [
        init("w1", (8, channels, 5), 0.4),
        init("b1", (8,), 0.1),
        init("w2", (16, 8, 5), 0.2),
        init("b2", (16,), 0.1),
        init("w3", (classes, 16), 0.5),
        init("b3", (classes,), 0.1),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[2, 2]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[2, 2]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["scores"], transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "cnn1d",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", channels, length])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", classes])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


@pytest.fixture(scope="session")
def cnn1d():
    """The model builder itself, for tests that need other shapes (tests must not import
    conftest: with several conftest.py files the module name is ambiguous)."""
    return cnn1d_onnx


@pytest.fixture(scope="session")
def cnn_onnx() -> bytes:
    return cnn1d_onnx()


@pytest.fixture(scope="session")
def cnn_inputs() -> np.ndarray:
    """Sensor-like windows: two channels of noisy sinusoids, 64 windows of 128 samples."""
    rng = np.random.default_rng(1)
    t = np.arange(128) / 128.0
    freq = rng.uniform(2, 12, size=(64, 2, 1))
    return (np.sin(2 * np.pi * freq * t) + 0.1 * rng.standard_normal((64, 2, 128))).astype(
        np.float32
    )
