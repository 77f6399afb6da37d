"""Package a fitted PatchCore as a signed edge module: fp32 ONNX, INT8 twin, parity, manifest.

INT8 policy: the backbone convolutions are quantized (static QDQ, per channel, calibrated on good
parts) and, by default, the search MatMul a @ (-2 b) too (activations per tensor, the bank per
entry), which is where the time goes once the bank is large. The norms ||a||^2 and ||b||^2, the
image Gaussian, the upsampling and the smoothing stay fp32: the smoothing is also a Conv, and
calibrated on good parts its range would clip every defect. Quantizing the cross term only was
simulated on Magnetic Tile features before it was adopted (image AUROC 0.9263 against 0.9267).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgetwin.vision.image import to_batch

log = logging.getLogger(__name__)

MODULE_INPUT = "image"


def module_input(images: Any, size: Sequence[int] = (224, 224)) -> np.ndarray:
    """The module's named pre-processing: image(s) or path(s) -> float32 N x 3 x H x W in [0, 1]."""
    from edgetwin.vision.image import read_image

    if isinstance(images, str | Path):
        images = [images]
    if isinstance(images, np.ndarray) and images.ndim == 4 and images.shape[1] == 3:
        return np.ascontiguousarray(images, dtype=np.float32)
    items = (
        [read_image(x) if isinstance(x, str | Path) else x for x in images]
        if isinstance(images, list | tuple)
        else images
    )
    return to_batch(items, (int(size[0]), int(size[1])))


def quantize_backbone(
    onnx_bytes: bytes, calibration: np.ndarray, batch_size: int = 8, *, search: bool = False
) -> bytes:
    """Static QDQ INT8 of the backbone convolutions, and with `search` of the search MatMul.

    `edgetwin.edge.quantize.quantize_static` quantizes every supported op (the smoothing Conv
    and the Gaussian MatMul included), so this calls onnxruntime's quantizer on chosen nodes.
    With `search` the graph must be exported with `fused_search=False` (the MatMul weight is
    the `bank_w` constant, -2 b, quantized per bank entry).
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    batches = [calibration[i : i + batch_size] for i in range(0, len(calibration), batch_size)]

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self.it = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            b = next(self.it, None)
            return None if b is None else {MODULE_INPUT: np.ascontiguousarray(b, dtype=np.float32)}

    with tempfile.TemporaryDirectory(prefix="edgetwin-vision-q-") as tmp:
        src, pre, dst = Path(tmp) / "m.onnx", Path(tmp) / "m.pre.onnx", Path(tmp) / "m.int8.onnx"
        src.write_bytes(onnx_bytes)
        try:
            # With `search`, no graph optimisation: it would fuse the search MatMul and the
            # + ||b||^2 into a Gemm whose 2-D bias onnxruntime's QDQ quantizer cannot handle.
            quant_pre_process(
                str(src), str(pre), skip_symbolic_shape=True, skip_optimization=search
            )
        except Exception as exc:  # an optimisation only
            log.warning("quantization pre-processing skipped: %s", exc)
            pre = src
        # Everything after the search MatMul (distance, upsampling, the Gaussian smoothing, which
        # is also a Conv) stays fp32: calibrated on good parts, its range would clip every defect.
        import onnx

        model = onnx.load(str(pre))
        nodes = model.graph.node
        first = next(i for i, n in enumerate(nodes) if n.op_type in ("MatMul", "Gemm"))
        keep: set[str] = set()
        if search:
            keep = {
                n.name
                for n in nodes
                if n.op_type in ("MatMul", "Gemm") and any(x.endswith("bank_w") for x in n.input)
            }
            if len(keep) != 1:
                from edgetwin.core.errors import ModuleError

                raise ModuleError(
                    f"search MatMul on bank_w not found ({len(keep)} matches): export the graph "
                    "with fused_search=False before quantizing the search"
                )
        exclude = [n.name for n in nodes[first:] if n.name not in keep]
        quantize_static(
            str(pre),
            str(dst),
            Reader(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["Conv", "MatMul", "Gemm"] if search else ["Conv"],
            nodes_to_exclude=exclude,
        )
        return dst.read_bytes()


def quantize_all(onnx_bytes: bytes, calibration: np.ndarray, batch_size: int = 8) -> bytes:
    """The edge room's generic static QDQ (every op, search included), for comparison."""
    from edgetwin.edge.quantize import calibration_batches, quantize_static

    return quantize_static(onnx_bytes, calibration_batches(calibration, MODULE_INPUT, batch_size))


def run_onnx(
    onnx_bytes: bytes, batch: np.ndarray, threads: int = 2, batch_size: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """Maps and scores of an ONNX detector on an N x 3 x H x W batch (onnxruntime, CPU)."""
    from edgetwin.edge.module import make_session

    sess = make_session(onnx_bytes, ["CPUExecutionProvider"], threads)
    maps, scores = [], []
    for i in range(0, len(batch), batch_size):
        m, s = sess.run(["anomaly_map", "score"], {MODULE_INPUT: batch[i : i + batch_size]})
        maps.append(m)
        scores.append(s)
    return np.concatenate(maps), np.concatenate(scores)


def run_onnx_parts(
    onnx_bytes: bytes,
    batch: np.ndarray,
    threads: int = 2,
    batch_size: int = 8,
    names: tuple[str, ...] = ("anomaly_map", "score", "score_parts"),
) -> tuple[np.ndarray, ...]:
    """Named outputs of an ONNX detector (default: maps, scores, score parts N x 2)."""
    from edgetwin.edge.module import make_session

    sess = make_session(onnx_bytes, ["CPUExecutionProvider"], threads)
    outs: list[list[np.ndarray]] = [[] for _ in names]
    for i in range(0, len(batch), batch_size):
        for acc, v in zip(
            outs, sess.run(list(names), {MODULE_INPUT: batch[i : i + batch_size]}), strict=True
        ):
            acc.append(v)
    return tuple(np.concatenate(o) for o in outs)


def replace_constants(onnx_bytes: bytes, values: dict[str, np.ndarray]) -> bytes:
    """The same graph with other values of named constants (initializers ending in each key).

    Used to give the INT8 graph its own calibration statistics (position mean/std, score
    loc/scale): its backbone shifts the raw distances, so the fp32 statistics do not fit it.
    """
    import onnx
    from onnx import numpy_helper

    from edgetwin.core.errors import ModuleError

    model = onnx.load_from_string(onnx_bytes)
    done = set()
    for init in model.graph.initializer:
        for key, value in values.items():
            if init.name.endswith(key):
                shape = tuple(init.dims)
                init.CopyFrom(
                    numpy_helper.from_array(
                        np.asarray(value, dtype=np.float32).reshape(shape), init.name
                    )
                )
                done.add(key)
    if done != set(values):
        raise ModuleError(
            f"constants {sorted(set(values) - done)} not found in the graph (found {sorted(done)})"
        )
    return model.SerializeToString()
