"""Clipped (unobserved) pixels: where the sensor saturated, the image says nothing about the part.

A pixel at full scale (or at zero) is clipped: its true gray level lies somewhere beyond the
sensor's range, and its texture is gone. A memory-bank detector sees a clipped region as a flat
patch never met on good parts and calls it a defect, although the part may be perfect. On
Magnetic Tile this is what brightness changes do: +0.2 of full scale saturates the bright half
of some tiles, and the photometric standardisation cannot map those pixels back (measured with
each image's *clean* statistics applied to the brightened image: AUROC fell just as far, so the
statistics are not the cause, the lost texture is). Glare spots on good parts (a third of the
Magnetic Tile images carry a few saturated pixels) are the same thing at everyday lighting.

The rule (one implementation, `torch_model.observed_keep`: the exported graph runs it, and
`observed_mask` runs it on numpy batches for calibration): a pixel is
unobserved when any channel is within half a uint8 step of 0 or 1, or when it belongs to a
*plateau* at the image's own extreme: at least `PLATEAU_PX` pixels within half a uint8 step of the
image's maximum (or minimum). A region the sensor clipped stays such a plateau after any later
gain, offset, contrast or gamma change (identical values stay identical), while it no longer sits
at 1.0; an unclipped, resampled image reaches its extreme at a handful of pixels (at most 6 on
every unsaturated Magnetic Tile training part). The mask is dilated by
`radius_px` (default 8 px: one cell of the stride-8 patch grid, the patch a clipped pixel lies
in) and the anomaly map is set to 0 ("no evidence": the good parts' mean after the position-wise
normalisation, or zero distance on the raw map) under it. The decision therefore rests on
the pixels the camera did observe; the fraction it could not observe is reported beside the
score, so the line can raise an exposure alarm instead of a false reject.
"""

from __future__ import annotations

import numpy as np

LOW = 0.5 / 255.0
"""Gray level (in [0, 1]) at or below which a pixel counts as clipped at zero."""
HIGH = 254.5 / 255.0
"""Gray level (in [0, 1]) at or above which a pixel counts as saturated."""
PLATEAU_PX = 16
"""Pixels at the image's extreme (within half a uint8 step) that make a clipped plateau."""
DEFAULT_RADIUS_PX = 8
"""Dilation of the clipped-pixel mask, px at the model input: one stride-8 patch cell."""


def observed_mask(batch: np.ndarray, radius_px: int = DEFAULT_RADIUS_PX) -> np.ndarray:
    """N x 3 x H x W images in [0, 1] -> N x H x W float32, 1 where observed, 0 where masked.

    The graph's own rule (`torch_model.observed_keep`) on a numpy batch: any channel <= LOW or
    >= HIGH, or a plateau of >= PLATEAU_PX pixels at the image's extreme, then a square max
    filter of side 2 * radius_px + 1. Needs torch (training and calibration only; the module
    computes the mask in its graph).
    """
    import torch

    from edgetwin.vision.torch_model import observed_keep

    x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))
    with torch.no_grad():
        keep = observed_keep(x, radius_px)
    return np.asarray(keep[:, 0].numpy(), dtype=np.float32)
