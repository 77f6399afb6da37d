"""Physics-informed bearing features: envelope-spectrum energy at the defect frequencies.

For each window: demodulate three bands (the most impulsive band by spectral kurtosis, a wide
band above the shaft-tone region, and that wide band after cepstral pre-whitening), take the
squared-envelope spectrum (SES), and measure the peak at harmonics 1..H of the shaft rate, BPFO,
BPFI, BSF, ball spin and FTF, plus the shaft-rate sidebands of BPFI (an inner-race defect turns
with the shaft through the load zone) and the FTF sidebands of BSF (a ball defect turns with the
cage). Each peak is divided by the median of the SES around
it, so features are log peak-to-background ratios: free of sensor gain, units and load level.
Defect frequencies come from the bearing geometry and the measured shaft speed, never from the
data, so they hold for fault sizes and loads that training never saw.

`envelope_features` is the numpy preprocessing function that edge modules name; it takes flat,
JSON-friendly parameters for that reason.

Two refinements (both on in `edgetwin.pdm.diagnose.module.feature_params`, off by default here so
modules stored before them keep computing the features they were trained on):

- `exclusive=True`: some targets of different families lie within each other's search windows
  for this geometry (ball spin x3 = 7.07 x shaft vs BPFO x2 = 7.17 x; BPFI x2 vs BPFO x3; the
  BPFI and BSF sidebands). A bin shared by two families' windows counts only for the family whose
  target is nearer, so an outer-race line no longer reads as ball evidence.
- `layout="family"`: one score per (band, family), the mean of the log ratios over harmonics
  1..H, instead of one column per harmonic. A defect shows as a family of lines; which harmonic
  happens to be strongest depends on the transfer path of the particular bearing, so
  per-harmonic weights learn the test rig's bearings rather than the physics.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import fft as sfft

from edgetwin.core.errors import ConfigError, DataError
from edgetwin.pdm.features.bearing import SKF_6205_2RS, BearingGeometry, defect_frequencies
from edgetwin.pdm.features.spectral import (
    Band,
    band_bins,
    candidate_bands,
    complex_envelope,
    spectral_kurtosis,
)
from edgetwin.pdm.features.timedomain import TIME_FEATURES, time_features

FAMILIES: tuple[str, ...] = ("shaft", "bpfo", "bpfi", "bsf", "ftf", "ball_spin")
SIDEBANDS: dict[str, str] = {"bpfi": "shaft", "bsf": "ftf"}  # carrier family -> modulating family
BANDS: tuple[str, ...] = ("sk", "wide", "white")
LAYOUTS: tuple[str, ...] = ("harmonic", "family")
SK_BANDS: tuple[str, ...] = ("raw", "white")

_EPS = 1e-12


SHARE_PREFIX = "share_"


def feature_names(harmonics: int = 3, layout: str = "harmonic", band_shares: int = 0) -> list[str]:
    """Column names of `envelope_features`, in order (`layout`, `band_shares` as there)."""
    _check_layout(layout)
    names: list[str] = []
    if layout == "family":  # one harmonic-mean score per band and family
        for band in BANDS:
            names += [f"{band}_{fam}_hmean" for fam in FAMILIES]
            names += [f"{band}_{fam}_sb_hmean" for fam in SIDEBANDS]
    else:
        for band in BANDS:
            for fam in FAMILIES:
                names += [f"{band}_{fam}_h{h}" for h in range(1, harmonics + 1)]
            for fam in SIDEBANDS:
                names += [f"{band}_{fam}_sb_h{h}" for h in range(1, harmonics + 1)]
    names += [f"time_{n}" for n in TIME_FEATURES] + ["sk_max"]
    return names + [f"{SHARE_PREFIX}{i:02d}" for i in range(int(band_shares))]


def band_share_features(spectrum: NDArray[np.complexfloating], n_bands: int) -> NDArray[np.float64]:
    """log10 of the share of spectral energy in `n_bands` equal slices of 0..Nyquist: [batch, n].

    Generic, scale-free spectral shape, no bearing physics: it describes the machine's transfer
    path and resonances, which is what identifies a *particular* bearing on a rig. The default
    diagnoser only lets it re-rank fault types (`edgetwin.pdm.diagnose.experts`).
    """
    power = spectrum[:, 1:].real ** 2 + spectrum[:, 1:].imag ** 2
    energy = np.stack([b.sum(axis=1) for b in np.array_split(power, n_bands, axis=1)], axis=1)
    return np.log10(energy / (energy.sum(axis=1, keepdims=True) + _EPS) + _EPS)


_BG_POINTS = 41  # bins sampled from each background window (its median is the background)


def _check_layout(layout: str) -> None:
    if layout not in LAYOUTS:
        raise ConfigError(f"layout={layout!r}: choose one of {', '.join(LAYOUTS)}")


def _target_families(harmonics: int) -> NDArray[np.int64]:
    """Family index of each target of `_targets` (sidebands: their own family index)."""
    main = np.repeat(np.arange(len(FAMILIES)), harmonics)
    side = len(FAMILIES) + np.repeat(np.arange(len(SIDEBANDS)), 2 * harmonics)
    return np.concatenate([main, side])


def _search_bins(
    f_hz: NDArray[np.float64],
    df: float,
    tol: float,
    families: NDArray[np.int64] | None,
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Search bins [T, W] of each target (within tol, +-1 bin) and the mask of bins it may use.

    With `families`, a bin inside the search windows of targets of two different families is
    kept only by the nearer target (ties: both keep it).
    """
    half = tol * f_hz + df
    i0 = np.floor((f_hz - half) / df).astype(np.int64)
    i1 = np.ceil((f_hz + half) / df).astype(np.int64) + 1
    width = int(np.max(i1 - i0))
    bins = i0[:, None] + np.arange(width)[None, :]
    keep = bins < i1[:, None]
    if families is not None:
        hz = bins * df
        inside = (bins[:, :, None] >= i0[None, None, :]) & (bins[:, :, None] < i1[None, None, :])
        other = families[:, None] != families[None, :]  # [T, U]
        closer = (
            np.abs(hz[:, :, None] - f_hz[None, None, :]) < np.abs(hz - f_hz[:, None])[:, :, None]
        )
        keep &= ~np.any(inside & closer & other[:, None, :], axis=2)
    return bins, keep


def _peak_ratios(
    ses: NDArray[np.float64],
    df: float,
    f_hz: NDArray[np.float64],
    tol: float,
    families: NDArray[np.int64] | None = None,
    floor: bool = False,
) -> NDArray[np.float64]:
    """log10(peak of the SES within tol of each f_hz / median SES within +-30 % of it).

    floor: a peak below its background counts as 0 (no line), not as negative evidence.

    Frequencies whose search or background window leaves the spectrum, or whose search bins all
    belong to a nearer target of another family (`families`, see `_search_bins`), give 0 (no
    evidence).
    """
    n = ses.shape[-1]
    bins, keep = _search_bins(f_hz, df, tol, families)
    bg_half = np.maximum(0.3 * f_hz, 10 * df)
    j0 = np.maximum(((f_hz - bg_half) / df).astype(np.int64), 1)
    j1 = ((f_hz + bg_half) / df).astype(np.int64) + 1
    ok = (bins[:, 0] >= 1) & (j1 <= n) & np.any(keep, axis=1)
    out = np.zeros(f_hz.shape)
    if not np.any(ok):
        return out
    bins, keep, j0, j1 = bins[ok], keep[ok], j0[ok], j1[ok]
    peak = np.max(np.where(keep, ses[np.minimum(bins, n - 1)], -np.inf), axis=1)
    grid = np.linspace(0.0, 1.0, _BG_POINTS)
    idx = (j0[:, None] + grid[None, :] * (j1 - 1 - j0)[:, None]).astype(np.int64)
    background = np.median(ses[idx], axis=1)
    out[ok] = np.log10((peak + _EPS) / (background + _EPS))
    return np.maximum(out, 0.0) if floor else out


def _targets(freqs: Mapping[str, float], harmonics: int) -> tuple[NDArray[np.float64], int]:
    """Target frequencies in `feature_names` order; sidebands come as (lower, upper) pairs."""
    h = np.arange(1, harmonics + 1, dtype=np.float64)
    main = [h * freqs[fam] for fam in FAMILIES]
    side = [
        np.stack([h * freqs[fam] - freqs[mod], h * freqs[fam] + freqs[mod]], axis=1).ravel()
        for fam, mod in SIDEBANDS.items()
    ]
    return np.concatenate(main + side), len(FAMILIES) * harmonics


def _ses_features(
    ses: NDArray[np.float64],
    df: float,
    freqs: Mapping[str, float],
    harmonics: int,
    tol: float,
    exclusive: bool = False,
    layout: str = "harmonic",
    floor: bool = False,
) -> NDArray[np.float64]:
    targets, n_main = _targets(freqs, harmonics)
    families = _target_families(harmonics) if exclusive else None
    ratios = _peak_ratios(ses, df, targets, tol, families, floor)
    sidebands = ratios[n_main:].reshape(-1, 2).mean(axis=1)  # mean of lower and upper
    per_harmonic = np.concatenate([ratios[:n_main], sidebands])
    if layout == "family":
        return per_harmonic.reshape(-1, harmonics).mean(axis=1)
    return per_harmonic


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
    z = complex_envelope(spectrum, bins, out_len)
    env = z.real * z.real + z.imag * z.imag
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
    exclusive: bool = False,
    layout: str = "harmonic",
    band_shares: int = 0,
    floor: bool = False,
    sk_band: str = "raw",
) -> NDArray[np.float32]:
    """Feature matrix [batch, len(feature_names(harmonics))] of vibration windows.

    windows: acceleration, [samples] or [batch, samples], any unit (features are scale-free); or a
    mapping {"waveform": ..., "shaft_hz": ..., optional "rate_hz": ...} as an edge module passes it.
    rate_hz: sample rate; shaft_hz: measured shaft speed in Hz, one value or one per window.
    Geometry (n_balls, ball_d, pitch_d, contact_deg) defaults to the SKF 6205-2RS of CWRU.
    tol: relative search tolerance around each defect frequency (bearings slip 1-2 %).
    exclusive: a bin in the search windows of two families counts for the nearer target only.
    layout: "harmonic" (a column per harmonic) or "family" (harmonic mean per band and family);
    see the module docstring. band_shares: append that many log spectral band-energy shares
    (`band_share_features`; 0: none). Columns: `feature_names(harmonics, layout, band_shares)`.
    floor: a line below its background is no evidence (log ratio 0) rather than negative evidence.
    sk_band: "raw" picks and demodulates the most impulsive band of the spectrum; "white" does
    both on the pre-whitened spectrum (Smith & Randall's best-performing CWRU combination).
    """
    _check_layout(layout)
    if sk_band not in SK_BANDS:
        raise ConfigError(f"sk_band={sk_band!r}: choose one of {', '.join(SK_BANDS)}")
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
    # Cepstral pre-whitening (unit magnitude, phase kept; Smith & Randall 2015): discrete tones and
    # the transfer path's resonances flatten out, and the impact train stands out in the wide band.
    white = spectrum / (np.abs(spectrum) + _EPS)
    sk_spectrum = white if sk_band == "white" else spectrum
    bands = candidate_bands(rate_hz, levels=levels, min_lo_hz=min_lo_hz)
    sk = spectral_kurtosis(sk_spectrum, n, rate_hz, bands)
    best = np.argmax(sk, axis=-1)
    wide = Band(min_lo_hz, 0.95 * rate_hz / 2.0)
    n_shares = int(band_shares)
    feats = np.zeros((batch, len(feature_names(harmonics, layout, n_shares))), dtype=np.float64)
    for i in range(batch):
        freqs = defect_frequencies(geometry, float(shaft[i]))
        fmax = harmonics * max(freqs["bpfi"], freqs["bsf"]) + 2 * freqs["shaft"]
        row = [
            _ses_features(
                squared_envelope_spectrum(spec[i : i + 1], n, rate_hz, band, fmax)[0],
                df,
                freqs,
                harmonics,
                tol,
                bool(exclusive),
                layout,
                bool(floor),
            )
            for band, spec in ((bands[int(best[i])], sk_spectrum), (wide, spectrum), (wide, white))
        ]
        flat = np.concatenate(row)
        feats[i, : flat.size] = flat
    end = feats.shape[1] - n_shares
    feats[:, end - len(TIME_FEATURES) - 1 : end - 1] = time_features(x)
    feats[:, end - 1] = np.log10(1.0 + np.maximum(sk[np.arange(batch), best], 0.0))
    if n_shares:
        feats[:, end:] = band_share_features(spectrum, n_shares)
    return feats.astype(np.float32)
