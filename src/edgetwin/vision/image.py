"""Image I/O and the numpy preprocessing every inspection path shares (no torch).

Images travel as float32 H x W x 3 arrays in [0, 1] (RGB). Grayscale parts (magnetic tiles) are
replicated to three channels, because the backbone was trained on RGB. Sizes are (height, width)
in pixels. Resizing is plain bilinear to a fixed size, so parts of different aspect ratios are
stretched; a part larger than the model input can be inspected at full resolution by tiling
(`edgetwin.vision.tiling`).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edgetwin.core.errors import DataError


def read_image(path: str | Path) -> np.ndarray:
    """Read any image file as float32 RGB in [0, 1], H x W x 3."""
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise DataError(f"image {str(path)!r} cannot be read; give a PNG/JPEG/BMP file that exists")
    return as_rgb(raw)


def as_rgb(raw: np.ndarray) -> np.ndarray:
    """uint8/uint16/float gray, BGR or BGRA array -> float32 RGB in [0, 1]."""
    arr = np.asarray(raw)
    if arr.dtype == np.uint8:
        img = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.uint16:
        img = arr.astype(np.float32) / 65535.0
    else:
        img = np.clip(arr.astype(np.float32), 0.0, 1.0)
    if img.ndim == 2:
        return np.repeat(img[:, :, None], 3, axis=2)
    if img.ndim == 3 and img.shape[2] == 1:
        return np.repeat(img, 3, axis=2)
    if img.ndim == 3 and img.shape[2] in (3, 4):
        return np.ascontiguousarray(img[:, :, 2::-1])  # BGR(A) -> RGB
    raise DataError(f"image array of shape {arr.shape} is not gray, RGB or RGBA")


def read_mask(path: str | Path | None, shape: tuple[int, int]) -> np.ndarray:
    """Ground-truth mask as bool H x W at `shape`; defect where the mask is >= 128.

    Masks are resized with nearest neighbour *before* thresholding would blur edges, so the
    smoothed in-between values some data sets carry (magnetic tile) are cut at 128 afterwards.
    A missing mask (good part) is all False.
    """
    if path is None:
        return np.zeros(shape, dtype=bool)
    raw = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if raw is None:
        raise DataError(f"mask {str(path)!r} cannot be read")
    resized = cv2.resize(raw, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    return resized >= 128


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of an H x W x C image to (height, width)."""
    if image.shape[:2] == tuple(size):
        return image
    interp = cv2.INTER_AREA if image.shape[0] > size[0] else cv2.INTER_LINEAR
    return cv2.resize(image, (size[1], size[0]), interpolation=interp)


def to_batch(
    images: list[np.ndarray] | np.ndarray, size: tuple[int, int] | None = None
) -> np.ndarray:
    """List of H x W x 3 images (or one) -> float32 N x 3 x H x W, the module's input."""
    if isinstance(images, np.ndarray) and images.ndim == 3:
        images = [images]
    out = []
    for img in images:
        rgb = as_rgb(img) if img.dtype != np.float32 or img.ndim != 3 or img.shape[2] != 3 else img
        if size is not None:
            rgb = resize(rgb, size)
        out.append(np.transpose(rgb, (2, 0, 1)))
    return np.ascontiguousarray(np.stack(out), dtype=np.float32)


def check_size(size: tuple[int, int]) -> tuple[int, int]:
    """The backbone downsamples by 32: both sides must be positive multiples of 32."""
    h, w = int(size[0]), int(size[1])
    if h <= 0 or w <= 0 or h % 32 or w % 32:
        raise DataError(f"image size {size} must be positive multiples of 32 (e.g. 224 or 512)")
    return h, w
