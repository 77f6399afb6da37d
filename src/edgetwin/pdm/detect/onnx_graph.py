"""The MEWMA-T2 detector as an ONNX graph (built with onnx.helper, no torch needed).

Input ``z`` [batch, time, features] float32: rows already standardised by the per-run
calibration (a documented numpy step, `processing.standardize_first_rows`). Graph:
transpose to [B, D, T] -> left-pad width-1 rows repeating the first (edge) -> depthwise Conv
with one causal kernel per feature (EWMA, or EWMA of the change over ``slow_lag`` rows for
slow features) -> transpose back -> MatMul with the precision -> Mul -> ReduceSum:
output ``score`` [batch, time], Hotelling's T2 of the filtered vector.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edgetwin.pdm.detect.mewma import MewmaT2Detector

OPSET = 17


def detector_to_onnx(det: MewmaT2Detector) -> bytes:
    """Serialise a fitted detector's scoring (per-feature filter + T2) to ONNX bytes."""
    det._check(np.zeros((1, det.n_features_in_)))
    d, taps = det.n_features_in_, det.width_
    # Conv computes cross-correlation: out[t] = sum_k w[k] * in[t + k]; with taps-1 rows
    # padded on the left, w must be the kernel reversed so that lag 0 meets in[t].
    weight = np.ascontiguousarray(det.kernels_[:, None, ::-1]).astype(np.float32)  # [D, 1, taps]
    inits = [
        numpy_helper.from_array(weight, "ewma_weight"),
        numpy_helper.from_array(det.precision_.astype(np.float32), "precision"),
        numpy_helper.from_array(np.array([0, 0, taps - 1, 0, 0, 0], dtype=np.int64), "pads"),
        numpy_helper.from_array(np.array([-1], dtype=np.int64), "axis_last"),
    ]
    nodes = [
        helper.make_node("Transpose", ["z"], ["z_bdt"], perm=[0, 2, 1]),
        helper.make_node("Pad", ["z_bdt", "pads"], ["z_pad"], mode="edge"),
        helper.make_node(
            "Conv", ["z_pad", "ewma_weight"], ["zs_bdt"], group=d, kernel_shape=[taps]
        ),
        helper.make_node("Transpose", ["zs_bdt"], ["zs"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["zs", "precision"], ["zp"]),
        helper.make_node("Mul", ["zp", "zs"], ["terms"]),
        helper.make_node("ReduceSum", ["terms", "axis_last"], ["score"], keepdims=0),
    ]
    graph = helper.make_graph(
        nodes,
        "mewma_t2",
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", "time", d])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["batch", "time"])],
        initializer=inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="edgetwin"
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()
