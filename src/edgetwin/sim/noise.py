"""Seeded Gaussian noise addressed by sample index, so output does not depend on step size.

Pacing the simulator in 1 s or 60 s steps must give the same data (a replay at another speed
must match the original). Each signal draws its noise in fixed blocks from a generator seeded
by (plant seed, asset, signal, block number); a step asks for absolute sample indices.
"""

from __future__ import annotations

import numpy as np

BLOCK = 4096


class IndexedNoise:
    """Standard-normal noise n[k] for absolute sample index k >= 0, reproducible per key."""

    def __init__(self, key: list[int]) -> None:
        self.key = list(key)
        self._block = -1
        self._values = np.empty(0)

    def _get_block(self, b: int) -> np.ndarray:
        if b != self._block:
            self._block = b
            self._values = np.random.default_rng([*self.key, b]).standard_normal(BLOCK)
        return self._values

    def take(self, k_first: int, count: int) -> np.ndarray:
        """Noise for indices k_first .. k_first + count - 1."""
        out = np.empty(count)
        pos = 0
        k = k_first
        while pos < count:
            b, off = divmod(k, BLOCK)
            n = min(BLOCK - off, count - pos)
            out[pos : pos + n] = self._get_block(b)[off : off + n]
            pos += n
            k += n
        return out
