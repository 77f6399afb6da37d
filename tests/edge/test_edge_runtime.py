"""ModuleRunner: same outputs as predict, latency tracking, budget, watchdog, input drift."""

from __future__ import annotations

import numpy as np
import pytest

from edgetwin.core.errors import ModuleError
from edgetwin.core.schemas import SAMPLES_SCHEMA
from edgetwin.edge import EdgeModule, InputStats, Manifest, build_module
from edgetwin.edge.runtime import ModuleRunner


@pytest.fixture
def module(tmp_path, cnn_onnx, cnn_inputs):
    m = Manifest(
        name="drift-demo",
        task="diagnosis",
        operation={
            "monitors": ["drift"],
            "latency_budget_ms": 1000.0,
            "input_stats": {"x": InputStats.from_array(cnn_inputs)},
        },
    )
    return EdgeModule.load(build_module(tmp_path / "m.zip", onnx_fp32=cnn_onnx, manifest=m))


def test_runner_outputs_and_latency(module, cnn_inputs):
    runner = ModuleRunner(module)
    assert runner.latency_budget_ms == 1000.0  # from the manifest
    for i in range(10):
        res = runner.run_window(cnn_inputs[i : i + 1], meta={"signal": "vib", "start": i})
        np.testing.assert_allclose(res.output, module.predict(cnn_inputs[i : i + 1]), rtol=1e-6)
        assert res.latency_ms > 0 and not res.over_budget
    m = runner.metrics()
    assert m["calls"] == 10 and m["over_budget"] == 0
    assert m["latency_p50_ms"] <= m["latency_p99_ms"] <= m["latency_max_ms"]
    table = runner.metrics_samples("site/l1/pump1/diag", ts_ns=1_700_000_000_000_000_000)
    assert table.schema == SAMPLES_SCHEMA
    signals = set(table.column("signal").to_pylist())
    assert (
        "site/l1/pump1/diag/latency_p99_ms" in signals
        and "site/l1/pump1/diag/drift_psi_max" in signals
    )


def test_budget_violation_counted(module, cnn_inputs):
    runner = ModuleRunner(module, latency_budget_ms=0.0)
    res = runner.run_window(cnn_inputs[:1])
    assert res.over_budget and runner.metrics()["over_budget"] == 1


def test_drift_rises_for_shifted_inputs(module, cnn_inputs):
    same = ModuleRunner(module, drift_overhead=float("inf"))  # track every window
    for w in cnn_inputs[:32]:
        same.run_window(w[None])
    shifted = ModuleRunner(module, drift_overhead=float("inf"))
    for w in cnn_inputs[:32]:
        shifted.run_window(w[None] + 1.5)  # a 1.5-unit offset: about 2 sigma of a unit sine
    a, b = same.metrics(), shifted.metrics()
    assert a["drift_psi_max"] < 0.1 and a["drift_z_max"] < 0.2
    assert b["drift_psi_max"] > 1.0 and b["drift_z_max"] > 1.5
    assert a["drift_updates"] == 32 and a["drift_windows"] == 32


def test_drift_tracking_is_subsampled_within_its_time_share(module, cnn_inputs):
    runner = ModuleRunner(module, drift_overhead=0.0)  # no time for drift beyond the first window
    for w in cnn_inputs[:10]:
        runner.run_window(w[None])
    m = runner.metrics()
    assert m["calls"] == 10 and m["drift_updates"] == 1 and m["drift_windows"] == 1


def test_wrong_feature_count_is_explained(module):
    runner = ModuleRunner(module)
    with pytest.raises(ModuleError):
        runner.run_window(np.zeros((1, 3, 128), np.float32))
    assert runner.metrics()["errors"] == 1


def test_watchdog_aborts_a_slow_model(tmp_path):
    """A real slow graph (a chain of 512x512 MatMuls over a large batch) against a 1 ms watchdog."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array((rng.standard_normal((512, 512)) / 22).astype(np.float32), "w")
    nodes, prev = [], "x"
    for i in range(40):
        nodes.append(helper.make_node("MatMul", [prev, "w"], [f"h{i}"]))
        prev = f"h{i}"
    nodes.append(helper.make_node("Identity", [prev], ["y"]))
    g = helper.make_graph(
        nodes,
        "slow",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 512])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 512])],
        [w],
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    mod = EdgeModule.load(
        build_module(
            tmp_path / "slow.zip",
            onnx_fp32=model.SerializeToString(),
            manifest=Manifest(name="slow", task="anomaly"),
        )
    )
    runner = ModuleRunner(mod, watchdog_ms=1.0)
    with pytest.raises(ModuleError, match="watchdog aborted"):
        runner.run_window(rng.standard_normal((512, 512)).astype(np.float32))
    assert runner.metrics()["watchdog_aborts"] == 1
    # with a generous watchdog the same call completes
    ok = ModuleRunner(mod, watchdog_ms=60_000).run_window(np.ones((2, 512), np.float32))
    assert ok.output.shape == (2, 512)


def test_native_fast_path_falls_back_to_the_wrapper(module, cnn_inputs):
    """`run` calls onnxruntime's native session; when that fails the Python wrapper runs the
    call (its messages, its provider fallback) and the native binding is taken again."""
    feeds = module.preprocess(cnn_inputs[:2])
    expected = module.session.run(None, feeds)[0]
    calls = []

    def broken(*args):
        calls.append(args)
        raise RuntimeError("native session replaced by a provider fallback")

    module._native_run = broken
    np.testing.assert_array_equal(module.run(feeds)[module.output_names[0]], expected)
    assert len(calls) == 1 and module._native_run is not broken  # re-bound after the fallback
    np.testing.assert_array_equal(module.run(feeds)[module.output_names[0]], expected)
    with pytest.raises(ModuleError, match="manifest.inputs"):
        module.run({"x": np.zeros((1, 3, 128), np.float32)})
