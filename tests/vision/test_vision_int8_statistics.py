"""INT8 calibration statistics (`train._int8_calibration`): from the INT8 graph's unmasked maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from edgetwin.vision.datasets import load_mvtec
from edgetwin.vision.evaluate import load_images
from edgetwin.vision.export import quantize_backbone, run_onnx_parts
from edgetwin.vision.exposure import observed_mask
from edgetwin.vision.image import to_batch
from edgetwin.vision.patchcore import leave_one_out_scores, position_statistics
from edgetwin.vision.synthetic import InspectionStation, write_mvtec_layout
from edgetwin.vision.threshold import threshold_from_good

SIZE = (128, 128)


def _constants(onnx_bytes: bytes, suffixes: tuple[str, ...]) -> dict[str, np.ndarray]:
    import onnx
    from onnx import numpy_helper

    model = onnx.load_from_string(onnx_bytes)
    return {
        i.name: numpy_helper.to_array(i)
        for i in model.graph.initializer
        if i.name.endswith(suffixes)
    }


def test_int8_position_statistics_come_from_unmasked_int8_maps(tmp_path: Path) -> None:
    from edgetwin.vision.train import N_QUANT_CALIBRATION, train_inspection

    station = InspectionStation(size=SIZE, defect_rate=0.0, seed=11)
    cat = write_mvtec_layout(station, tmp_path / "st", n_train=36, n_test_good=1, n_test_defect=1)
    data = load_mvtec(cat)
    # A saturated glare spot on one good calibration part: the graph zeroes its map there.
    path = Path(data.calibration[0].path)
    img = np.asarray(Image.open(path)).copy()
    img[40:60, 50:74] = 255
    Image.fromarray(img).save(path)
    res = train_inspection(data, tmp_path / "m.zip", image_size=SIZE, bank_size=256)
    det = res.detector

    calib = to_batch(load_images(data.calibration, SIZE))
    keep = observed_mask(calib, det.observed_px)
    masked = keep[0] == 0
    assert masked.sum() > 400 and keep[1:].min() == 1.0  # only the glare part has masked cells

    # The expected statistics: the raw INT8 twin (no mask), quantized from the same parts.
    train = load_images(data.train, SIZE)
    pick = np.random.default_rng(0).choice(
        len(train), min(N_QUANT_CALIBRATION, len(train)), replace=False
    )
    raw8 = quantize_backbone(
        det.to_onnx(fused_search=False, raw=True), to_batch([train[i] for i in pick]), search=True
    )
    (maps,) = run_onnx_parts(raw8, calib, names=("anomaly_map",))
    mean, std = position_statistics(maps)

    got = _constants(res.onnx["int8"], ("pos_mean", "pos_std"))
    got_mean = next(v for k, v in got.items() if k.endswith("pos_mean")).reshape(SIZE)
    got_std = next(v for k, v in got.items() if k.endswith("pos_std")).reshape(SIZE)
    np.testing.assert_allclose(got_mean, mean, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got_std, std, rtol=1e-5, atol=1e-5)
    # The threshold rests on the leave-one-out scores of the same maps, masked as the graph does.
    loo = leave_one_out_scores(maps, keep=keep)
    assert res.thresholds["int8"] == threshold_from_good(loo, 0.01)

    # What the old rule (map * std + mean of the masked output) put there: the fp32 mean in the
    # masked cells. The glare raises the INT8 distance there, so the two means differ by far more
    # than the tolerance above: the check is not blind to the bug.
    filled = maps.astype(np.float64)
    filled[0][masked] = det.pos_mean_[masked]
    old_mean, _ = position_statistics(filled)
    assert np.abs(old_mean - mean)[masked].max() > 0.05 * float(mean[masked].mean())
    np.testing.assert_allclose(old_mean[~masked], mean[~masked], rtol=1e-6)

    # The statistics twin is the shipped twin's quantization: the same scales and zero points
    # (torch numbers the nodes differently, so compared as a multiset of values).
    def values(b: bytes) -> list[tuple[str, tuple[int, ...], bytes]]:
        q = _constants(b, ("_scale", "_zero_point"))
        return sorted((v.dtype.str, v.shape, v.tobytes()) for v in q.values())

    assert len(values(raw8)) > 50 and values(raw8) == values(res.onnx["int8"])
