"""Band-limited analytic signals and spectral-kurtosis band selection.

A bearing defect rings a structural resonance at every impact; demodulating the band around that
resonance gives the impact rate. Working in the frequency domain keeps this cheap: the bins of a
band, shifted to base band and inverse-transformed, are the complex envelope of the band-passed
signal at a low sample rate (no filter design, no FIR delay). The band is picked per window by
spectral kurtosis (Antoni 2006): the band whose envelope is most impulsive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import fft as sfft

from edgetwin.core.errors import DataError


@dataclass(frozen=True)
class Band:
    """A frequency band [lo_hz, hi_hz) of a window sampled at `rate_hz`."""

    lo_hz: float
    hi_hz: float

    @property
    def centre_hz(self) -> float:
        return 0.5 * (self.lo_hz + self.hi_hz)


def candidate_bands(rate_hz: float, levels: int = 3, min_lo_hz: float = 500.0) -> list[Band]:
    """Bands of a 1/2, 1/4, ... of Nyquist wide, overlapping by half (a coarse kurtogram grid).

    Bands starting below `min_lo_hz` are clipped there: below it the bearing tones and shaft
    harmonics themselves sit in the band and its envelope would mix them in.
    """
    nyq = rate_hz / 2.0
    bands: list[Band] = []
    for level in range(1, levels + 1):
        width = nyq / 2**level
        lo = 0.0
        while lo + width <= nyq + 1e-9:
            clipped = max(lo, min_lo_hz)
            if lo + width - clipped >= width / 2:
                bands.append(Band(clipped, lo + width))
            lo += width / 2
    return bands


def band_bins(n_samples: int, rate_hz: float, band: Band) -> slice:
    """The rfft bins of `band` for a window of `n_samples` samples."""
    df = rate_hz / n_samples
    i0 = int(np.ceil(band.lo_hz / df))
    i1 = int(np.floor(band.hi_hz / df))
    if i1 - i0 < 4:
        raise DataError(
            f"band {band.lo_hz:.0f}-{band.hi_hz:.0f} Hz has {i1 - i0} bins at {n_samples} "
            f"samples and {rate_hz} Hz: use a longer window or a wider band"
        )
    return slice(i0, i1)


def complex_envelope(
    spectrum: NDArray[np.complexfloating], bins: slice, out_len: int | None = None
) -> NDArray[np.complex128]:
    """Complex envelope of the band `bins` of an rfft `spectrum` ([batch, n_bins]).

    Returns [batch, out_len] at a rate of out_len * df (df = the bin spacing); zero-padding
    `out_len` to at least twice the band's bin count keeps |z|^2 free of aliasing.
    """
    seg = spectrum[..., bins]
    n = seg.shape[-1] if out_len is None else out_len
    return np.asarray(sfft.ifft(seg, n=n, axis=-1))


def spectral_kurtosis(
    spectrum: NDArray[np.complexfloating], n_samples: int, rate_hz: float, bands: list[Band]
) -> NDArray[np.float64]:
    """Spectral kurtosis of each band for each row: [batch, n_bands].

    K = E|z|^4 / (E|z|^2)^2 - 2 for the complex envelope z: 0 for stationary Gaussian noise, large
    for a train of impacts.
    """
    out = np.empty((spectrum.shape[0], len(bands)))
    for j, band in enumerate(bands):
        z = complex_envelope(spectrum, band_bins(n_samples, rate_hz, band))
        z2 = z.real * z.real + z.imag * z.imag
        out[:, j] = np.mean(z2**2, axis=-1) / (np.mean(z2, axis=-1) ** 2 + 1e-300) - 2.0
    return out
