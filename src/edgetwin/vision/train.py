"""Train an inspection module from good parts: fit, export, quantize, calibrate, check, sign.

The threshold is computed on the *exported* graphs (fp32 and INT8 separately, each from its own
scores on held-out good parts), because that is what decides on the line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgetwin.core.errors import DataError, ModuleError
from edgetwin.vision.datasets import InspectionData
from edgetwin.vision.evaluate import load_images
from edgetwin.vision.export import (
    quantize_backbone,
    replace_constants,
    run_onnx,
    run_onnx_parts,
)
from edgetwin.vision.exposure import DEFAULT_RADIUS_PX, observed_mask
from edgetwin.vision.image import check_size, resize, to_batch
from edgetwin.vision.patchcore import (
    DEFAULT_LAYERS,
    POOLED_LEVELS,
    Calibration,
    PatchCore,
    ProgressFn,
    calibrate_scores,
    gaussian_precision,
)
from edgetwin.vision.threshold import refine_threshold, threshold_from_good

log = logging.getLogger(__name__)

MIN_CALIBRATION = 5
N_PARITY = 8
N_QUANT_CALIBRATION = 32


@dataclass
class TrainResult:
    path: Path
    detector: PatchCore
    thresholds: dict[str, float]
    parity: dict[str, Any]
    calibration_scores: dict[str, np.ndarray] = field(default_factory=dict)
    onnx: dict[str, bytes] = field(default_factory=dict)


def _parity(
    ref: tuple[np.ndarray, np.ndarray],
    got: tuple[np.ndarray, np.ndarray],
    rel: float,
    what: str,
    strict: bool,
) -> dict[str, Any]:
    from edgetwin.edge.parity import check_parity

    scale = float(max(np.abs(ref[1]).max(), 1e-6))
    return {
        f"{what}_score": check_parity(
            ref[1], got[1], atol=rel * scale, name=f"{what} score", raise_on_fail=strict
        ).as_dict(),
        f"{what}_map": check_parity(
            ref[0], got[0], atol=rel * scale, name=f"{what} map", raise_on_fail=strict
        ).as_dict(),
    }


def _int8_calibration(
    det: PatchCore,
    onnx_int8: bytes,
    onnx_raw: bytes | None,
    calib: np.ndarray,
    train: np.ndarray,
) -> tuple[bytes, Calibration, tuple[np.ndarray, np.ndarray]]:
    """Give the INT8 graph its own statistics; return it, its calibration scores and outputs.

    The INT8 backbone shifts the raw distances and the pooled features (on Magnetic Tile the
    fp32 Gaussian put INT8 good parts at 70x their fp32 Mahalanobis distance), so the image
    Gaussian is refitted on the INT8 graph's pooled features of the same training parts, and the
    position statistics and score loc/scale are re-estimated from its own outputs on the same
    good calibration parts. `onnx_raw` is the INT8 twin of `PatchCore.to_onnx(raw=True)`,
    quantized like `onnx_int8`: its maps are the INT8 raw distances at every pixel, clipped or
    not, as `PatchCore.calibrate` reads them for fp32. (They cannot be recovered from the
    masked output: where the mask zeroed it, `map * std + mean` gives the fp32 mean, while INT8
    distances run about a fifth higher on Magnetic Tile.) It is needed with position
    normalisation only; without it the masked map is what the statistics use.
    """
    if det.gaussian_ is not None:
        (pooled,) = run_onnx_parts(onnx_int8, train, names=("pooled",))
        mean8, prec8 = gaussian_precision(pooled, det.pooled_dims_)
        onnx_int8 = replace_constants(onnx_int8, {"gauss_mean": mean8, "gauss_prec": prec8})
    maps, scores, parts = run_onnx_parts(onnx_int8, calib)
    cal = det.calibration_
    if cal is None or (cal.position is None and cal.score_norm is None):
        return onnx_int8, Calibration(None, None, scores, parts[:, 0]), (maps, scores)
    raw = maps.astype(np.float64)
    if cal.position is not None:
        if onnx_raw is None:
            raise ModuleError(
                "INT8 position statistics need the raw INT8 twin (onnx_raw): quantize "
                "PatchCore.to_onnx(raw=True) with the same calibration parts"
            )
        (raw_maps,) = run_onnx_parts(onnx_raw, calib, names=("anomaly_map",))
        raw = raw_maps.astype(np.float64)
    keep = observed_mask(calib, det.observed_px) if det.observed_px is not None else None
    cal8 = calibrate_scores(
        raw,
        parts[:, 1] if cal.score_norm is not None else None,
        position_norm=det.position_norm,
        keep=keep,
    )
    values: dict[str, np.ndarray] = {}
    if cal8.position is not None:
        values.update(pos_mean=cal8.position[0], pos_std=cal8.position[1])
    if cal8.score_norm is not None:
        values.update(score_loc=cal8.score_norm[0], score_scale=cal8.score_norm[1])
    onnx_int8 = replace_constants(onnx_int8, values)
    out = run_onnx(onnx_int8, calib)
    return onnx_int8, cal8, out


def train_inspection(
    data: InspectionData,
    out_path: str | Path,
    *,
    image_size: tuple[int, int] = (224, 224),
    bank_size: int = 8192,
    augment: str | None = None,
    false_reject_rate: float = 0.01,
    int8: bool = True,
    name: str = "inspection",
    seed: int = 0,
    progress: ProgressFn | None = None,
    signing_key: Any = None,
    data_path: str | Path | None = None,
    defect_images: list[np.ndarray] | None = None,
    max_false_reject_rate: float = 0.05,
    position_norm: bool = True,
    photometric: bool = True,
    image_gaussian: bool = False,
    search_dim: int | None = None,
    int8_search: bool = True,
    observed_px: int | None = DEFAULT_RADIUS_PX,
    layers: tuple[int, ...] = DEFAULT_LAYERS,
    expanded_layers: tuple[int, ...] = (),
) -> TrainResult:
    """Fit on `data.train`, threshold on `data.calibration`, write a signed module to `out_path`.

    With `defect_images` (the few known defective parts a user has, never the test set), each
    threshold is refined by `refine_threshold` within `max_false_reject_rate`; otherwise it is
    the good-only quantile for `false_reject_rate`. `observed_px` (None: off) zeroes the map
    near clipped input pixels (`edgetwin.vision.exposure`). `layers` / `expanded_layers` choose
    the patch features (`patchcore.NOISE_ROBUST_LAYERS` for a noisy camera, at 2.3x the search).
    """
    from edgetwin.edge import DatasetRef, Manifest, ModelInfo, build_module

    size = check_size(image_size)
    if len(data.calibration) < MIN_CALIBRATION:
        raise DataError(
            f"{len(data.calibration)} calibration images: the threshold needs at least "
            f"{MIN_CALIBRATION} held-out good images; add good images to train/good"
        )
    train_imgs = load_images(data.train, size)
    calib_imgs = load_images(data.calibration, size)
    det = PatchCore(
        image_size=size,
        layers=layers,
        expanded_layers=expanded_layers,
        bank_size=bank_size,
        augment=augment,
        seed=seed,
        position_norm=position_norm,
        photometric=photometric,
        image_gaussian=image_gaussian,
        search_dim=search_dim,
        observed_px=observed_px,
    ).fit(train_imgs, progress)
    # Statistics of good calibration maps and scores, per precision (INT8 shifts the distances);
    # the scores for the threshold are leave-one-out where the images fed the statistics.
    scores = {"fp32": det.calibrate(calib_imgs)}
    cal = det.calibration_
    map_scores = {"fp32": cal.map_scores if cal is not None else scores["fp32"]}
    onnx_fp32 = det.to_onnx()
    calib = to_batch(calib_imgs)
    ref = det.predict(calib_imgs[:N_PARITY])
    fp32_out = run_onnx(onnx_fp32, calib)
    parity = _parity(
        ref, (fp32_out[0][:N_PARITY], fp32_out[1][:N_PARITY]), 0.01, "fp32", strict=True
    )
    onnx = {"fp32": onnx_fp32}
    if int8:
        rng = np.random.default_rng(seed)
        pick = rng.choice(len(train_imgs), min(N_QUANT_CALIBRATION, len(train_imgs)), replace=False)
        qcal = to_batch([train_imgs[i] for i in pick])
        onnx["int8"] = quantize_backbone(
            det.to_onnx(fused_search=False) if int8_search else onnx_fp32,
            qcal,
            search=int8_search,
        )
        # The same quantization of the raw graph (no mask, no statistics), for the statistics:
        # nothing on the mask's or the statistics' path is quantized, so the scales are the same.
        onnx_raw = (
            quantize_backbone(
                det.to_onnx(fused_search=not int8_search, raw=True), qcal, search=int8_search
            )
            if position_norm
            else None
        )
        onnx["int8"], cal8, int8_out = _int8_calibration(
            det, onnx["int8"], onnx_raw, calib, to_batch(train_imgs)
        )
        scores["int8"], map_scores["int8"] = cal8.scores, cal8.map_scores
        parity.update(
            _parity(
                ref, (int8_out[0][:N_PARITY], int8_out[1][:N_PARITY]), 0.10, "int8", strict=False
            )
        )
    thresholds = {k: threshold_from_good(v, false_reject_rate) for k, v in scores.items()}
    # The map's own good-part threshold (same quantile of the map scores): the overlay's scale.
    map_thresholds = {k: threshold_from_good(v, false_reject_rate) for k, v in map_scores.items()}
    threshold_rule = f"good-only quantile, FRR {false_reject_rate}"
    if defect_images:
        batch = to_batch([resize(im, size) for im in defect_images])
        for k in thresholds:
            _, bad = run_onnx(onnx[k], batch)
            thresholds[k] = refine_threshold(
                scores[k], bad, max_false_reject_rate=max_false_reject_rate
            )
        threshold_rule = (
            f"refined with {len(defect_images)} defect images within FRR {max_false_reject_rate} "
            "(cost 1 per false reject, 10 per escape)"
        )
    refs = []
    if data_path is not None:
        refs.append(
            DatasetRef.from_path(
                data.name, data_path, rows=len(data.train) + len(data.calibration), role="train"
            )
        )
    map_unit = (
        "std of good maps above their mean at this pixel (position-normalised feature distance)"
        if position_norm
        else "feature distance"
    )
    score_unit = (
        "sum of the standardised map max and image Mahalanobis distance (each in std of good "
        "calibration scores above their mean)"
        if image_gaussian
        else f"{map_unit} (max of map)"
    )
    manifest = Manifest(
        name=name,
        task="vision-anomaly",
        description="PatchCore-family inspection: EfficientNet-Lite0 patch features (blocks 4 and 10) "
        "of the photometrically standardised image, L2 distance to the nearest of a greedy "
        "coreset of good patches, upsampled, Gaussian-smoothed and position-normalised map"
        + (", zeroed near clipped (saturated) input pixels" if observed_px is not None else "")
        + "; "
        "score = max of the map"
        + (
            " plus the Mahalanobis distance of pooled block features (both standardised on "
            "good calibration parts)"
            if image_gaussian
            else ""
        ),
        inputs={
            "image": {
                "shape": ["batch", 3, "height", "width"],
                "dtype": "float32",
                "unit": "RGB intensity in [0, 1]; sides multiples of 32",
            }
        },
        outputs={
            "anomaly_map": {
                "shape": ["batch", "height", "width"],
                "dtype": "float32",
                "unit": map_unit,
            },
            "score": {
                "shape": ["batch"],
                "dtype": "float32",
                "unit": score_unit,
            },
            "score_parts": {
                "shape": ["batch", 2],
                "dtype": "float32",
                "unit": f"[max of map ({map_unit}), squared Mahalanobis distance of pooled "
                "features (0 without the image Gaussian)]",
            },
            "pooled": {
                "shape": ["batch", "features"],
                "dtype": "float32",
                "unit": "border-cropped global averages of backbone blocks "
                f"{list(POOLED_LEVELS) if image_gaussian else []} (image-level features)",
            },
            "observed": {
                "shape": ["batch"],
                "dtype": "float32",
                "unit": "fraction of the map the decision rests on (the rest lies within "
                f"{observed_px} px of input pixels clipped at 0 or full scale; 1 when unmasked)",
            },
        },
        preprocess={
            "function": "edgetwin.vision.export:module_input",
            "params": {"size": list(size)},
        },
        postprocess={
            "output": "score",
            "function": "edgetwin.edge.processing:threshold",
            "params": {"value": thresholds["fp32"]},
            "thresholds": thresholds,
            "map_thresholds": map_thresholds,
            "false_reject_rate": false_reject_rate,
            "decision": "reject when score > threshold (fp32 value in params; thresholds per precision)",
        },
        data=refs,
        preparation=[
            {
                "step": "resize",
                "size": list(size),
                "interpolation": "bilinear (area when shrinking)",
            },
            {"step": "gray to RGB", "how": "replicate the channel"},
            {
                "step": "photometric standardisation",
                "where": "in the ONNX graph",
                "reference": list(det.photometric_ref_) if det.photometric_ref_ else None,
            },
            {"step": "ImageNet normalisation", "where": "in the ONNX graph"},
            {"step": "split", **data.protocol},
        ],
        model=ModelInfo(family="patchcore", hyperparameters=det.hyperparameters()),
        verification={
            "parity": parity,
            "calibration": {
                "n_good": len(data.calibration),
                "false_reject_rate": false_reject_rate,
                "threshold_rule": threshold_rule,
                "position_norm": "per-pixel mean/std of the calibration maps, in the graph; "
                "threshold on leave-one-out scores"
                if position_norm
                else None,
            },
        },
        deployment={
            "int8": "backbone convolutions static QDQ per-channel"
            + ("; search MatMul a @ (-2 b) QDQ (bank per entry)" if int8_search else "")
            + "; norms, image Gaussian and map post-processing fp32; own calibration statistics"
        },
    )
    path = build_module(
        out_path,
        onnx_fp32=onnx_fp32,
        manifest=manifest,
        onnx_int8=onnx.get("int8"),
        signing_key=signing_key,
    )
    log.info("inspection module %s: thresholds %s", path, thresholds)
    return TrainResult(path, det, thresholds, parity, scores, onnx)
