"""MACs and bytes from the ONNX graph, roofline estimates and the fit check."""

from __future__ import annotations

import numpy as np
import pytest

from edgetwin.core.errors import ModuleError
from edgetwin.edge.targets import TARGETS, TargetProfile, estimate, model_cost


def test_macs_counted_by_hand(cnn1d):
    # conv1: out (1, 8, 128) x (2*5) ; conv2: out (1, 16, 128) x (8*5) ; gemm: 3 x 16
    cost = model_cost(cnn1d(channels=2, length=128, classes=3), batch=1)
    assert cost.per_op["Conv"] == 8 * 128 * 10 + 16 * 128 * 40
    assert cost.per_op["Gemm"] == 3 * 16
    assert cost.macs == 8 * 128 * 10 + 16 * 128 * 40 + 48
    assert cost.params == 8 * 2 * 5 + 8 + 16 * 8 * 5 + 16 + 3 * 16 + 3
    assert cost.io_elems == 2 * 128 + 3
    c8 = model_cost(cnn1d(), batch=8)
    assert c8.macs == 8 * cost.macs and c8.params == cost.params


def test_roofline_estimate_and_verdicts(cnn1d):
    cost = model_cost(cnn1d(), batch=1)
    rpi = TARGETS["rpi5"]
    e = estimate(cost, rpi, "fp32", budget_ms=10.0, gap=5.0)
    ops = 2 * cost.macs
    assert e.compute_ms == pytest.approx(ops / 153.6e9 * 1e3)
    assert e.memory_ms == pytest.approx(cost.bytes_moved("fp32") / 17.1e9 * 1e3)
    assert e.roofline_ms == max(e.compute_ms, e.memory_ms)
    assert e.calibrated_ms == pytest.approx(5 * e.roofline_ms)
    assert e.verdict == "fits"
    # a budget below the ideal bound cannot be met
    assert estimate(cost, rpi, "fp32", budget_ms=e.roofline_ms / 2).verdict == "does not fit"
    # without a measured gap there is no claim beyond the bound
    assert estimate(cost, rpi, "fp32", budget_ms=10.0).verdict == "uncertain"
    # accelerators: INT8 only, weights on chip -> only I/O over the link counts
    assert estimate(cost, TARGETS["hailo8"], "fp32").verdict == "unsupported"
    h = estimate(cost, TARGETS["hailo8"], "int8")
    assert h.memory_ms == pytest.approx(cost.io_bytes("int8") / 3.9e9 * 1e3)


def test_coral_onchip_memory_limit(cnn1d):
    big = TargetProfile(
        "x", "x", "npu", {"int8": 4000.0}, 0.5, None, "test", onchip_mb=0.0005, weights_on_chip=True
    )
    cost = model_cost(cnn1d(), batch=1)
    e = estimate(cost, big, "int8", budget_ms=1e6, gap=1.0)
    assert e.fits_memory is False and e.verdict == "does not fit"


def test_dynamic_length_refused(cnn1d):
    import onnx

    m = onnx.load_from_string(cnn1d())
    m.graph.input[0].type.tensor_type.shape.dim[2].dim_param = "length"
    with pytest.raises(ModuleError, match="axis 2 is dynamic"):
        model_cost(m.SerializeToString())


def test_all_profiles_have_sources_and_positive_figures():
    for t in TARGETS.values():
        assert t.source and t.bandwidth_gbs > 0 and t.peak_gops
        assert all(v > 0 for v in t.peak_gops.values())
        # INT8 is never slower than fp32 on the chips we list
        if "fp32" in t.peak_gops:
            assert t.peak_gops["int8"] >= t.peak_gops["fp32"]
    assert np.isclose(TARGETS["jetson-orin-nano"].peak_gops["int8"], 20000.0)
