"""Export a trained torch model to ONNX and prove the export scores like the model.

torch is imported inside the functions: the edge runtime never needs it. The parity check is
the step anomalib-style exports skip: the build fails when ONNX Runtime's scores differ from
torch's beyond the stated tolerance, on real inputs.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from edgetwin.edge.module import make_session
from edgetwin.edge.parity import ParityReport, check_parity


def torch_to_onnx(
    model: Any,
    example: np.ndarray,
    input_name: str = "x",
    output_name: str = "y",
    opset: int = 17,
    dynamic_batch: bool = True,
) -> bytes:
    """ONNX bytes of `model` (in eval mode) traced on `example` (the TorchScript exporter)."""
    import torch

    model.eval()
    buf = io.BytesIO()
    axes = {input_name: {0: "batch"}, output_name: {0: "batch"}} if dynamic_batch else None
    with torch.no_grad():
        torch.onnx.export(
            model,
            (torch.from_numpy(np.ascontiguousarray(example[:1], dtype=np.float32)),),
            buf,  # type: ignore[arg-type]  # torch accepts file-like objects too
            input_names=[input_name],
            output_names=[output_name],
            dynamic_axes=axes,
            opset_version=opset,
            dynamo=False,
        )
    return buf.getvalue()


def export_with_parity(
    model: Any,
    inputs: np.ndarray,
    *,
    atol: float,
    rtol: float = 1e-3,
    input_name: str = "x",
    output_name: str = "y",
    opset: int = 17,
) -> tuple[bytes, ParityReport]:
    """Export, then compare ONNX Runtime with torch on `inputs`; raise `ModuleError` beyond
    tolerance. Returns the ONNX bytes and the parity report (store it as evidence)."""
    import torch

    onnx_bytes = torch_to_onnx(model, inputs, input_name, output_name, opset)
    x = np.ascontiguousarray(inputs, dtype=np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    sess = make_session(onnx_bytes, ["CPUExecutionProvider"])
    got = sess.run(None, {input_name: x})[0]
    report = check_parity(ref, got, atol=atol, rtol=rtol, name="export parity (ONNX vs torch)")
    return onnx_bytes, report
