"""Physics-informed bearing features: envelope-spectrum energy at the defect frequencies.

For each window: demodulate two bands (the most impulsive band by spectral kurtosis, and a wide
band above the shaft-tone region), take the squared-envelope spectrum (SES), and measure the peak
at harmonics 1..H of the shaft rate, BPFO, BPFI, BSF and FTF, plus the shaft-rate sidebands of
BPFI (an inner-race defect turns with the shaft through the load zone) and the FTF sidebands of
BSF (a ball defect turns with the cage). Each peak is divided by the median of the SES around
it, so features are log peak-to-background ratios: free of sensor gain, units and load level.
Defect frequencies come from the bearing geometry and the measured shaft speed, never from the
data, so they hold for fault sizes and loads that training never saw.

`envelope_features` is the numpy preprocessing function that edge modules name; it takes flat,
JSON-friendly parameters for that reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import fft as sfft

from edgetwin.core.errors import DataError
from edgetwin.pdm.features.bearing import SKF_6205_2RS, BearingGeometry, defect_frequencies
from edgetwin.pdm.features.spectral import (
    Band,
    band_bins,
    candidate_bands,
    complex_envelope,
    spectral_kurtosis,
)
from edgetwin.pdm.features.timedomain import TIME_FEATURES, time_features

FAMILIES: tuple[str, ...] = ("shaft", "bpfo", "bpfi", "bsf", "ftf")
SIDEBANDS: dict[str, str] = {"bpfi": "shaft", "bsf": "ftf"}  # carrier family -> modulating family
BANDS: tuple[str, ...] = ("sk", "wide")

_EPS = 1e-12


def feature_names(harmonics: int = 3) -> list[str]:
    """Column names of `envelope_features`, in order."""
    names: list[str] = []
    for band in BANDS:
        for fam in FAMILIES:
            names += [f"{band}_{fam}_h{h}" for h in range(1, harmonics + 1)]
        for fam in SIDEBANDS:
            names += [f"{band}_{fam}_sb_h{h}" for h in range(1, harmonics + 1)]
    return names + [f"time_{n}" for n in TIME_FEATURES] + ["sk_max"]


def _peak_ratio(ses: NDArray[np.float64], df: float, f_hz: float, tol: float) -> float:
    """log10(peak of the SES near f_hz / median SES around it); 0 when f_hz is out of range."""
    n = ses.shape[-1]
    half = max(tol * f_hz, 0.0) + df
    i0, i1 = int(np.floor((f_hz - half) / df)), int(np.ceil((f_hz + half) / df)) + 1
    bg_half = max(0.3 * f_hz, 10 * df)
    j0, j1 = max(int((f_hz - bg_half) / df), 1), int((f_hz + bg_half) / df) + 1
    if i0 < 1 or j1 > n:
        return 0.0
    peak = float(np.max(ses[i0:i1]))
    background = float(np.median(ses[j0:j1]))
    return float(np.log10((peak + _EPS) / (background + _EPS)))


def _ses_features(
    ses: NDArray[np.float64], df: float, freqs: Mapping[str, float], harmonics: int, tol: float
) -> list[float]:
    out: list[float] = []
    for fam in FAMILIES:
        out += [_peak_ratio(ses, df, h * freqs[fam], tol) for h in range(1, harmonics + 1)]
    for fam, mod in SIDEBANDS.items():
        for h in range(1, harmonics + 1):
            lo = _peak_ratio(ses, df, h * freqs[fam] - freqs[mod], tol)
            hi = _peak_ratio(ses, df, h * freqs[fam] + freqs[mod], tol)
            out.append(0.5 * (lo + hi))
    return out


def squared_envelope_spectrum(
    spectrum: NDArray[np.complexfloating],
    n_samples: int,
    rate_hz: float,
    band: Band,
    fmax_hz: float,
) -> NDArray[np.float64]:
    """Squared-envelope spectrum of `band` up to at least `fmax_hz`; bins spaced rate_hz/n_samples."""
    df = rate_hz / n_samples
    bins = band_bins(n_samples, rate_hz, band)
    out_len = max(2 * (bins.stop - bins.start), 2 * int(np.ceil(fmax_hz / df)) + 2)
    env = np.abs(complex_envelope(spectrum, bins, out_len)) ** 2
    env -= env.mean(axis=-1, keepdims=True)
    return np.abs(sfft.rfft(env, axis=-1))


def _as_windows(windows: ArrayLike) -> NDArray[np.float64]:
    x = np.asarray(windows, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] < 64:
        raise DataError(
            f"windows shape {x.shape}: expected [samples] or [batch, samples] with >= 64 samples"
        )
    if not np.all(np.isfinite(x)):
        raise DataError("windows contain NaN or inf: drop or interpolate bad samples first")
    return x


def envelope_features(
    windows: ArrayLike | Mapping[str, Any],
    *,
    rate_hz: float = 12000.0,
    shaft_hz: float | ArrayLike | None = None,
    n_balls: int = SKF_6205_2RS.n_balls,
    ball_d: float = SKF_6205_2RS.ball_d,
    pitch_d: float = SKF_6205_2RS.pitch_d,
    contact_deg: float = SKF_6205_2RS.contact_deg,
    harmonics: int = 3,
    tol: float = 0.01,
    levels: int = 3,
    min_lo_hz: float = 500.0,
) -> NDArray[np.float32]:
    """Feature matrix [batch, len(feature_names(harmonics))] of vibration windows.

    windows: acceleration, [samples] or [batch, samples], any unit (features are scale-free); or a
    mapping {"waveform": ..., "shaft_hz": ..., optional "rate_hz": ...} as an edge module passes it.
    rate_hz: sample rate; shaft_hz: measured shaft speed in Hz, one value or one per window.
    Geometry (n_balls, ball_d, pitch_d, contact_deg) defaults to the SKF 6205-2RS of CWRU.
    tol: relative search tolerance around each defect frequency (bearings slip 1-2 %).
    """
    if isinstance(windows, Mapping):
        shaft_hz = windows.get("shaft_hz", shaft_hz)
        rate_hz = float(np.asarray(windows.get("rate_hz", rate_hz)).ravel()[0])
        windows = windows["waveform"]
    x = _as_windows(windows)  # type: ignore[arg-type]
    batch, n = x.shape
    if shaft_hz is None:
        raise DataError("shaft_hz is missing: pass the measured shaft speed in Hz (rpm / 60)")
    shaft = np.broadcast_to(np.asarray(shaft_hz, dtype=np.float64).ravel(), (batch,))
    geometry = BearingGeometry(int(n_balls), float(ball_d), float(pitch_d), float(contact_deg))
    df = rate_hz / n
    spectrum = sfft.rfft(x - x.mean(axis=-1, keepdims=True), axis=-1)
    bands = candidate_bands(rate_hz, levels=levels, min_lo_hz=min_lo_hz)
    sk = spectral_kurtosis(spectrum, n, rate_hz, bands)
    best = np.argmax(sk, axis=-1)
    wide = Band(min_lo_hz, 0.95 * rate_hz / 2.0)
    feats = np.zeros((batch, len(feature_names(harmonics))), dtype=np.float64)
    for i in range(batch):
        freqs = defect_frequencies(geometry, float(shaft[i]))
        fmax = harmonics * max(freqs["bpfi"], freqs["bsf"]) + 2 * freqs["shaft"]
        row: list[float] = []
        for band, spec in ((bands[int(best[i])], spectrum), (wide, spectrum)):
            ses = squared_envelope_spectrum(spec[i : i + 1], n, rate_hz, band, fmax)[0]
            row += _ses_features(ses, df, freqs, harmonics, tol)
        feats[i, : len(row)] = row
    feats[:, -len(TIME_FEATURES) - 1 : -1] = time_features(x)
    feats[:, -1] = np.log10(1.0 + np.maximum(sk[np.arange(batch), best], 0.0))
    return feats.astype(np.float32)
