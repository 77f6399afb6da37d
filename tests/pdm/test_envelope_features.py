"""Bearing defect frequencies and envelope features on synthetic impulse trains."""

from __future__ import annotations

import numpy as np
import pytest

from edgetwin.core.errors import ConfigError, DataError
from edgetwin.pdm.features.bearing import SKF_6205_2RS, BearingGeometry, defect_frequencies
from edgetwin.pdm.features.envelope import envelope_features, feature_names
from edgetwin.pdm.features.spectral import candidate_bands, spectral_kurtosis
from edgetwin.pdm.features.timedomain import time_features

RATE = 12000.0
SHAFT = 1797 / 60


def impulses(rate_hz: float, seconds: float, f_hz: float, resonance_hz: float, seed: int = 0):
    """Decaying resonance struck at f_hz (with 1 % jitter), in white noise."""
    rng = np.random.default_rng(seed)
    n = int(rate_hz * seconds)
    t = np.arange(int(0.01 * rate_hz)) / rate_hz
    ring = np.exp(-t * 800) * np.sin(2 * np.pi * resonance_hz * t)
    x = np.zeros(n)
    when = np.arange(0.0, seconds, 1.0 / f_hz)
    when += rng.normal(0, 0.01 / f_hz, when.size)
    for w in when:
        i = int(w * rate_hz)
        seg = ring[: max(0, min(ring.size, n - i))]
        x[i : i + seg.size] += seg
    return x + 0.05 * rng.normal(size=n)


def test_cwru_geometry_reproduces_the_data_center_multiples():
    f = defect_frequencies(SKF_6205_2RS, 1.0)
    assert f["bpfo"] == pytest.approx(3.5848, rel=1e-4)
    assert f["bpfi"] == pytest.approx(5.4152, rel=1e-4)
    assert f["bsf"] == pytest.approx(4.7135, rel=1e-4)
    assert f["ftf"] == pytest.approx(0.39828, rel=1e-3)
    assert f["ball_spin"] == pytest.approx(f["bsf"] / 2)
    # frequencies scale with shaft speed
    assert defect_frequencies(SKF_6205_2RS, 30.0)["bpfi"] == pytest.approx(30 * 5.4152, rel=1e-4)


def test_geometry_and_speed_are_validated():
    with pytest.raises(ConfigError, match="ball_d"):
        BearingGeometry(9, 2.0, 1.0)
    with pytest.raises(ConfigError, match="shaft_hz"):
        defect_frequencies(SKF_6205_2RS, 0.0)


@pytest.mark.parametrize(("family", "rate"), [("bpfo", RATE), ("bpfi", RATE), ("bpfo", 48000.0)])
def test_envelope_features_point_at_the_struck_frequency(family, rate):
    f = defect_frequencies(SKF_6205_2RS, SHAFT)[family]
    x = impulses(rate, 1.0, f, 3500.0)
    feats = envelope_features(x, rate_hz=rate, shaft_hz=SHAFT)[0]
    names = feature_names()
    val = dict(zip(names, feats, strict=True))
    other = "bpfi" if family == "bpfo" else "bpfo"
    assert val[f"sk_{family}_h1"] > 1.0  # peak at least 10x the local background
    assert val[f"sk_{family}_h1"] > val[f"sk_{other}_h1"] + 0.7
    assert val[f"wide_{family}_h1"] > val[f"wide_{other}_h1"] + 0.5


def test_features_are_scale_free_and_batched():
    f = defect_frequencies(SKF_6205_2RS, SHAFT)["bpfo"]
    x = np.stack([impulses(RATE, 1.0, f, 3000.0, seed=s) for s in range(3)])
    a = envelope_features(x, rate_hz=RATE, shaft_hz=SHAFT)
    b = envelope_features(1000.0 * x, rate_hz=RATE, shaft_hz=[SHAFT] * 3)
    assert a.shape == (3, len(feature_names()))
    assert a.dtype == np.float32
    np.testing.assert_allclose(a, b, atol=1e-4)
    one = envelope_features({"waveform": x[1], "shaft_hz": SHAFT, "rate_hz": RATE})
    np.testing.assert_allclose(one[0], a[1], atol=1e-5)


def test_spectral_kurtosis_prefers_the_resonance_band():
    f = defect_frequencies(SKF_6205_2RS, SHAFT)["bpfi"]
    x = impulses(RATE, 1.0, f, 4500.0)
    bands = candidate_bands(RATE)
    sk = spectral_kurtosis(np.fft.rfft(x)[None, :], x.size, RATE, bands)[0]
    best = bands[int(np.argmax(sk))]
    assert best.lo_hz <= 4500.0 <= best.hi_hz
    assert sk.max() > 1.0


def test_time_features_of_gaussian_noise_and_impulses():
    noise = np.random.default_rng(1).normal(size=(1, 48000))
    kurt = 10 ** time_features(noise)[0, 0]
    assert kurt == pytest.approx(3.0, abs=0.15)
    spiky = impulses(RATE, 1.0, 100.0, 3000.0)[None, :]
    assert 10 ** time_features(spiky)[0, 0] > 5.0


def test_bad_windows_raise_clear_errors():
    with pytest.raises(DataError, match="shaft_hz"):
        envelope_features(np.zeros(12000))
    bad = np.ones(12000)
    bad[5] = np.nan
    with pytest.raises(DataError, match="NaN"):
        envelope_features(bad, shaft_hz=SHAFT)
    with pytest.raises(DataError, match="shape"):
        envelope_features(np.zeros((2, 3, 4)), shaft_hz=SHAFT)


def test_exclusive_bins_keep_outer_race_lines_out_of_ball_evidence():
    """Ball spin x3 (7.07 x shaft) and BPFO x2 (7.17 x) share search bins for this geometry: a
    pure outer-race impulse train reads as ball-spin evidence unless bins go to the nearer target."""
    f = defect_frequencies(SKF_6205_2RS, SHAFT)["bpfo"]
    x = impulses(RATE, 1.0, f, 3500.0)
    names = feature_names()
    shared = dict(zip(names, envelope_features(x, shaft_hz=SHAFT)[0], strict=True))
    excl = dict(zip(names, envelope_features(x, shaft_hz=SHAFT, exclusive=True)[0], strict=True))
    for band in ("sk", "wide"):
        assert shared[f"{band}_ball_spin_h3"] > 0.7  # the BPFO x2 line, seen from ball spin x3
        assert excl[f"{band}_ball_spin_h3"] < shared[f"{band}_ball_spin_h3"] - 0.5
        assert excl[f"{band}_bpfo_h2"] == pytest.approx(shared[f"{band}_bpfo_h2"], abs=1e-6)
        assert excl[f"{band}_bpfo_h1"] == pytest.approx(shared[f"{band}_bpfo_h1"], abs=1e-6)


def test_family_layout_is_the_harmonic_mean_per_band_and_family():
    f = defect_frequencies(SKF_6205_2RS, SHAFT)["bpfi"]
    x = np.stack([impulses(RATE, 1.0, f, 4000.0, seed=s) for s in range(2)])
    per = envelope_features(x, shaft_hz=SHAFT, exclusive=True)
    fam = envelope_features(x, shaft_hz=SHAFT, exclusive=True, layout="family")
    names, fnames = feature_names(), feature_names(3, "family")
    assert fam.shape == (2, len(fnames)) == (2, 30)
    col = {n: i for i, n in enumerate(names)}
    for j, name in enumerate(fnames):
        if name.endswith("_hmean"):
            stem = name[: -len("hmean")]
            want = per[:, [col[f"{stem}h{h}"] for h in (1, 2, 3)]].mean(axis=1)
            np.testing.assert_allclose(fam[:, j], want, atol=1e-5)
        else:
            np.testing.assert_allclose(fam[:, j], per[:, col[name]], atol=1e-6)
    v = dict(zip(fnames, fam[0], strict=True))
    assert v["sk_bpfi_hmean"] > v["sk_bpfo_hmean"] + 0.5
    with pytest.raises(ConfigError, match="layout"):
        envelope_features(x, shaft_hz=SHAFT, layout="bands")


def test_band_shares_follow_the_physics_columns_and_locate_the_resonance():
    x = impulses(RATE, 1.0, 100.0, 3200.0, seed=3)
    base = envelope_features(x, shaft_hz=SHAFT, exclusive=True, layout="family")
    feats = envelope_features(x, shaft_hz=SHAFT, exclusive=True, layout="family", band_shares=16)
    names = feature_names(3, "family", 16)
    assert feats.shape == (1, len(names)) == (1, base.shape[1] + 16)
    assert names[-16:] == [f"share_{i:02d}" for i in range(16)]
    np.testing.assert_array_equal(feats[:, : base.shape[1]], base)  # physics columns unchanged
    shares = feats[0, -16:].astype(np.float64)
    np.testing.assert_allclose(np.sum(10.0**shares), 1.0, rtol=1e-4)  # log10 of energy shares
    # 16 slices of 0..6 kHz are 375 Hz wide: the 3.2 kHz resonance lies in slice 8
    assert int(np.argmax(shares)) == 8
    # scale-free: sensor gain does not change them
    scaled = envelope_features(
        7.0 * x, shaft_hz=SHAFT, exclusive=True, layout="family", band_shares=16
    )
    np.testing.assert_allclose(scaled[0, -16:], shares, atol=1e-4)


def test_floor_counts_a_line_below_its_background_as_no_evidence():
    """floor=True: each line's log peak-to-background ratio is max(0, ratio); the family score is
    the mean of those, so a missing line cannot count as evidence against its family."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 12000))
    kw = {"shaft_hz": SHAFT, "exclusive": True}
    per = envelope_features(x, **kw)
    floored = envelope_features(x, **kw, floor=True)
    names = feature_names()
    lines = [j for j, n in enumerate(names) if "_h" in n and not n.startswith("time_")]
    assert np.min(per[:, lines]) < 0.0  # noise: some peaks lie below their background
    sb = [j for j in lines if "_sb_" in names[j]]  # sidebands: mean of two floored ratios
    main = [j for j in lines if j not in sb]
    np.testing.assert_allclose(floored[:, main], np.maximum(per[:, main], 0.0), atol=1e-6)
    assert np.min(floored[:, sb]) >= 0.0
    rest = [j for j in range(len(names)) if j not in lines]  # time statistics untouched
    np.testing.assert_array_equal(floored[:, rest], per[:, rest])
    fam = envelope_features(x, **kw, floor=True, layout="family")
    fnames = feature_names(3, "family")
    col = {n: i for i, n in enumerate(names)}
    j = fnames.index("wide_bpfo_hmean")
    want = floored[:, [col[f"wide_bpfo_h{h}"] for h in (1, 2, 3)]].mean(axis=1)
    np.testing.assert_allclose(fam[:, j], want, atol=1e-5)


def test_sk_band_white_changes_only_the_kurtogram_band_columns():
    """sk_band="white" picks and demodulates the kurtogram band on the pre-whitened spectrum: the
    wide and whitened-wide columns stay as they are, and an impulse train at BPFO still reads as
    outer-race evidence in the chosen band."""
    f = defect_frequencies(SKF_6205_2RS, SHAFT)["bpfo"]
    t = np.arange(12000) / RATE
    x = impulses(RATE, 1.0, f, 3500.0, seed=5)
    x = x / np.std(x) + 30.0 * np.sin(2 * np.pi * 1200.0 * t)
    names = feature_names(3, "family")
    raw = envelope_features(x, shaft_hz=SHAFT, layout="family")[0]
    white = envelope_features(x, shaft_hz=SHAFT, layout="family", sk_band="white")[0]
    v = dict(zip(names, white, strict=True))
    assert v["sk_bpfo_hmean"] > 1.0
    assert v["sk_bpfo_hmean"] > v["sk_bpfi_hmean"] + 0.5
    assert v["sk_bpfo_hmean"] > v["sk_bsf_hmean"] + 0.5
    same = [j for j, n in enumerate(names) if n.startswith(("wide_", "white_", "time_"))]
    np.testing.assert_array_equal(white[same], raw[same])
    with pytest.raises(ConfigError, match="sk_band"):
        envelope_features(x, shaft_hz=SHAFT, sk_band="cepstrum")
