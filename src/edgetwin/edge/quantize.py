"""Static INT8 quantization (QDQ) calibrated on real data.

Static QDQ, not dynamic: on a 1D CNN here dynamic INT8 ran 5x slower than fp32 while static QDQ
ran about 3x faster, because dynamic quantization re-computes activation scales on every call
and leaves convolutions in float. Calibration must use real inputs of the deployment
distribution; the activation ranges it measures are baked into the model.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from edgetwin.core.errors import ModuleError

log = logging.getLogger(__name__)


def calibration_batches(
    x: np.ndarray, input_name: str, batch_size: int = 16, max_samples: int | None = 512
) -> Iterator[dict[str, np.ndarray]]:
    """Split an array of real inputs into feeds for `quantize_static`."""
    arr = np.asarray(x, dtype=np.float32)
    if max_samples is not None:
        arr = arr[:max_samples]
    for start in range(0, len(arr), batch_size):
        yield {input_name: arr[start : start + batch_size]}


class _Reader:
    """onnxruntime's CalibrationDataReader over an iterable of feeds."""

    def __init__(self, feeds: Iterable[dict[str, np.ndarray]]) -> None:
        self._it = iter(feeds)
        self.count = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        feed = next(self._it, None)
        if feed is None:
            return None
        self.count += 1
        return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in feed.items()}

    def rewind(self) -> None:  # pragma: no cover - only used by some calibrators
        raise ModuleError("calibration data can be read only once; pass a list for re-reads")


def quantize_static(
    onnx_bytes: bytes,
    calibration: Iterable[dict[str, np.ndarray]],
    *,
    per_channel: bool = False,
    method: str = "minmax",
    activation_type: str = "uint8",
) -> bytes:
    """Return a static INT8 QDQ model calibrated on `calibration` feeds.

    `calibration` yields `{input_name: array}` of real, representative inputs (a few hundred
    samples is usually enough). `method` is `minmax`, `entropy` or `percentile`;
    `activation_type` is `uint8` (onnxruntime's default U8S8, fastest on x86) or `int8`.
    Weights are always signed INT8.
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
    )
    from onnxruntime.quantization import quantize_static as ort_quantize_static

    methods = {
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }
    if activation_type not in ("uint8", "int8"):
        raise ModuleError(f"activation_type {activation_type!r}: use 'uint8' or 'int8'")
    if method not in methods:
        raise ModuleError(f"calibration method {method!r}: use one of {sorted(methods)}")

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self.inner = _Reader(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return self.inner.get_next()

    with tempfile.TemporaryDirectory(prefix="edgetwin-quant-") as tmp:
        src = Path(tmp) / "model.onnx"
        pre = Path(tmp) / "model.pre.onnx"
        dst = Path(tmp) / "model.int8.onnx"
        src.write_bytes(onnx_bytes)
        try:
            from onnxruntime.quantization.shape_inference import quant_pre_process

            quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
            model_in = pre
        except Exception as exc:  # pre-processing is an optimisation, not a requirement
            log.warning("quantization pre-processing skipped: %s", exc)
            model_in = src
        reader = Reader()
        try:
            ort_quantize_static(
                str(model_in),
                str(dst),
                reader,
                quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QUInt8 if activation_type == "uint8" else QuantType.QInt8,
                weight_type=QuantType.QInt8,
                per_channel=per_channel,
                calibrate_method=methods[method],
            )
        except Exception as exc:
            raise ModuleError(f"static quantization failed: {exc}") from exc
        if reader.inner.count == 0:
            raise ModuleError("calibration: no batches were given; pass real input arrays")
        log.info("quantized with %d calibration batches", reader.inner.count)
        return dst.read_bytes()
