"""Tiled inference for parts larger than the model input (a 4k line-scan image of a sheet).

Shrinking a 4000 px part to 224 px erases a 0.2 mm crack. Instead the part is cut into
overlapping tiles of the model's input size at native resolution, each tile runs through the
module, and the tile maps are stitched by taking the maximum where tiles overlap (a defect seen
by any tile stays visible). The part's score is the max of the tile scores (a defect in any tile
rejects the part); for a map-max score this equals the max of the stitched map.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edgetwin.core.errors import DataError


def tile_origins(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets covering [0, length) with tiles of `tile` px overlapping by >= `overlap` px."""
    if tile <= overlap:
        raise DataError(f"tile {tile} px must be larger than the overlap {overlap} px")
    if length <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, length - tile, step)) + [length - tile]
    return sorted(set(starts))


def tiled_map(
    run: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    image: np.ndarray,
    tile: tuple[int, int] = (224, 224),
    overlap: int = 32,
    batch_size: int = 8,
) -> tuple[np.ndarray, float]:
    """Anomaly map at the image's native size and the part's score, from `run(N x 3 x th x tw) -> (maps, scores)`.

    `image` is float RGB H x W x 3 in [0, 1]; an image smaller than a tile is padded by
    reflection (and the padding cropped off the map).
    """
    h, w = image.shape[:2]
    th, tw = tile
    ph, pw = max(th, h), max(tw, w)
    if (ph, pw) != (h, w):
        image = np.pad(image, ((0, ph - h), (0, pw - w), (0, 0)), mode="reflect")
    boxes = [(y, x) for y in tile_origins(ph, th, overlap) for x in tile_origins(pw, tw, overlap)]
    out = np.full((ph, pw), -np.inf, dtype=np.float32)
    best = -np.inf
    for i in range(0, len(boxes), batch_size):
        chunk = boxes[i : i + batch_size]
        batch = np.stack(
            [image[y : y + th, x : x + tw].transpose(2, 0, 1) for y, x in chunk]
        ).astype(np.float32)
        maps, scores = run(batch)
        best = max(best, float(np.max(scores)))
        for (y, x), m in zip(chunk, maps, strict=True):
            np.maximum(out[y : y + th, x : x + tw], m, out=out[y : y + th, x : x + tw])
    out = out[:h, :w]
    return out, best
