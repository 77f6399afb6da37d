"""The envelope diagnoser: sklearn contract, ONNX parity, edge module round trip, real CWRU."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from edgetwin.core.errors import ConfigError, DataError, ModuleError
from edgetwin.edge import EdgeModule
from edgetwin.pdm.diagnose.experts import DiagnosisExperts
from edgetwin.pdm.diagnose.model import EVIDENCE, EnvelopeDiagnoser, feature_family
from edgetwin.pdm.diagnose.module import build_diagnosis_module, feature_params, module_predict
from edgetwin.pdm.features.bearing import SKF_6205_2RS, defect_frequencies
from edgetwin.pdm.features.envelope import envelope_features, feature_names

RATE = 12000.0
SHAFT = 29.5


def _blobs(n=60, f=6, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(3, f))
    y = np.repeat(["a", "b", "c"], n)
    x = centres[np.repeat(np.arange(3), n)] + rng.normal(size=(3 * n, f))
    return x, y


def test_fit_predict_and_onnx_agree():
    x, y = _blobs()
    model = EnvelopeDiagnoser(C=0.5, prior="none")
    assert model.fit(x, y) is model
    assert model.classes_.tolist() == ["a", "b", "c"]
    assert model.score(x, y) > 0.95
    sess = ort.InferenceSession(model.to_onnx(), providers=["CPUExecutionProvider"])
    probs = sess.run(None, {"features": x.astype(np.float32)})[0]
    np.testing.assert_allclose(probs, model.predict_proba(x), atol=1e-4)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_binary_problem_exports_two_probabilities():
    x, y = _blobs()
    keep = y != "c"
    model = EnvelopeDiagnoser(prior="none").fit(x[keep], y[keep])
    assert model.coef_.shape == (2, x.shape[1])
    sess = ort.InferenceSession(model.to_onnx(), providers=["CPUExecutionProvider"])
    probs = sess.run(None, {"features": x[keep].astype(np.float32)})[0]
    np.testing.assert_allclose(probs, model.predict_proba(x[keep]), atol=1e-4)


def test_plain_prior_matches_scikit_learn():
    from sklearn.linear_model import LogisticRegression

    x, y = _blobs(seed=3)
    ours = EnvelopeDiagnoser(C=0.3, prior="none").fit(x, y)
    z = (x - ours.mean_) / ours.scale_
    ref = LogisticRegression(C=0.3, max_iter=5000, tol=1e-10).fit(z, y)
    np.testing.assert_allclose(ours.predict_proba(x), ref.predict_proba(z), atol=2e-3)


def test_evidence_prior_signs_follow_the_physics():
    names = feature_names()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, len(names)))
    y = rng.choice(["normal", "inner_race", "ball", "outer_race"], size=400)
    # make BPFO evidence *anti*-correlated with outer race: the prior must refuse a negative weight
    col = names.index("sk_bpfo_h1")
    x[y == "outer_race", col] -= 2.0
    model = EnvelopeDiagnoser(prior="evidence").fit(x, y)
    w = dict(zip(model.classes_, model.coef_, strict=True))
    for cls, own in EVIDENCE.items():
        for j, name in enumerate(names):
            fam = feature_family(name)
            if fam is None:
                continue
            if fam in own:
                assert w[cls][j] >= -1e-9, (cls, name)
            else:
                assert w[cls][j] <= 1e-9, (cls, name)
    assert w["outer_race"][col] == pytest.approx(0.0, abs=1e-9)
    assert all(w["normal"][j] <= 1e-9 for j, n in enumerate(names) if feature_family(n))
    plain = EnvelopeDiagnoser(prior="none").fit(x, y)
    assert dict(zip(plain.classes_, plain.coef_, strict=True))["outer_race"][col] < -0.1


def test_errors():
    with pytest.raises(ModuleError, match="not fitted"):
        EnvelopeDiagnoser().predict(np.zeros((1, 3)))
    with pytest.raises(DataError, match="one class"):
        EnvelopeDiagnoser().fit(np.zeros((4, 2)), ["a"] * 4)
    with pytest.raises(DataError, match="feature names"):
        EnvelopeDiagnoser().fit(np.zeros((4, 2)), ["a", "b"] * 2)
    with pytest.raises(ConfigError, match="prior"):
        EnvelopeDiagnoser(prior="strong").fit(np.zeros((4, 2)), ["a", "b"] * 2)


def _synthetic(family: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = 0.05 * rng.normal(size=int(RATE))
    if family == "normal":
        return x
    f = defect_frequencies(SKF_6205_2RS, SHAFT)[family]
    t = np.arange(120) / RATE
    ring = np.exp(-t * 800) * np.sin(2 * np.pi * 3200 * t)
    for when in np.arange(rng.uniform(0, 1 / f), 1.0 - 0.011, 1 / f):
        i = int(when * RATE)
        x[i : i + ring.size] += ring
    return x


def test_module_round_trip_on_synthetic_faults(tmp_path):
    fams = ["normal", "bpfo", "bpfi"]
    wins = np.stack([_synthetic(f, s) for f in fams for s in range(6)])
    labels = [f for f in fams for _ in range(6)]
    params = feature_params(RATE)
    model = DiagnosisExperts().fit(envelope_features(wins, shaft_hz=SHAFT, **params), labels)
    assert model.generic_ is not None  # band shares present, a healthy class and two fault types
    path = build_diagnosis_module(model, tmp_path / "diag.zip", params, verification={"acc": 1.0})
    mod = EdgeModule.load(path)
    assert mod.manifest.task == "diagnosis"
    assert mod.manifest.verification["acc"] == 1.0
    test = np.stack([_synthetic(f, 100 + i) for i, f in enumerate(fams)])
    assert module_predict(mod, test, SHAFT) == fams


def test_load_wise_on_real_cwru(shared_data, tmp_path):
    """Train at 0 and 1 hp (0.007 in faults), test the exported module at 2 hp."""
    from edgetwin.pdm.datasets.cwru import load_file
    from edgetwin.pdm.diagnose.splits import record_windows
    from edgetwin.pdm.diagnose.train import FeatureCache, confusion, fit_windows, gather

    folder = shared_data("cwru")
    names = [
        f"12k_Drive_End_{c}007{p}_{load}_{n}.mat"
        for c, p, nums in (
            ("IR", "", (105, 106, 107)),
            ("B", "", (118, 119, 120)),
            ("OR", "@6", (130, 131, 132)),
        )
        for load, n in enumerate(nums)
    ]
    recs = [load_file(folder / n) for n in names]
    train = [
        w
        for i, r in enumerate(recs)
        if r.meta.load_hp < 2
        for w in record_windows(recs, i, 12000, 12000)
    ]
    test = [
        w
        for i, r in enumerate(recs)
        if r.meta.load_hp == 2
        for w in record_windows(recs, i, 12000, 12000)
    ]
    params = feature_params()
    model = fit_windows(recs, train, params, 12000, FeatureCache(recs, 12000, params))
    path = build_diagnosis_module(model, tmp_path / "cwru.zip", params)
    x, shaft, y = gather(recs, test, 12000)
    res = confusion(y.tolist(), module_predict(EdgeModule.load(path), x, shaft))
    assert res.n == 30
    assert res.accuracy >= 0.9, res.confusion


def test_strict_prior_bounds_shaft_and_impulsiveness():
    from edgetwin.pdm.diagnose.model import weight_bounds

    names = feature_names()
    classes = ["ball", "inner_race", "normal", "outer_race"]
    strict = dict(
        zip(
            [(c, n) for c in classes for n in names],
            weight_bounds(classes, names, "strict"),
            strict=True,
        )
    )
    loose = dict(
        zip(
            [(c, n) for c in classes for n in names],
            weight_bounds(classes, names, "evidence"),
            strict=True,
        )
    )
    assert strict[("inner_race", "wide_shaft_h1")] == (0.0, None)
    assert strict[("normal", "wide_shaft_h1")] == (0.0, 0.0)
    assert strict[("outer_race", "sk_shaft_h2")] == (0.0, None)
    assert strict[("normal", "time_kurtosis")] == (None, 0.0)
    assert strict[("ball", "sk_max")] == (0.0, None)
    assert strict[("normal", "time_shape")] == (None, None)
    assert loose[("normal", "wide_shaft_h1")] == (None, None)
    assert (
        strict[("outer_race", "sk_bpfo_h1")] == loose[("outer_race", "sk_bpfo_h1")] == (0.0, None)
    )
    x, y = _blobs(f=len(names))
    model = EnvelopeDiagnoser(prior="strict").fit(
        x, ["normal" if v == "a" else "inner_race" if v == "b" else "ball" for v in y]
    )
    col = names.index("wide_shaft_h1")
    w = dict(zip(model.classes_, model.coef_[:, col], strict=True))
    assert w["normal"] == 0.0 and w["ball"] >= 0.0 and w["inner_race"] >= 0.0


def test_family_layout_gets_the_same_physics_bounds():
    from edgetwin.pdm.diagnose.model import weight_bounds

    names = feature_names(3, "family")
    classes = ["ball", "inner_race", "normal", "outer_race"]
    b = dict(
        zip(
            [(c, n) for c in classes for n in names],
            weight_bounds(classes, names, "strict"),
            strict=True,
        )
    )
    assert b[("outer_race", "sk_bpfo_hmean")] == (0.0, None)
    assert b[("ball", "white_bpfo_hmean")] == (None, 0.0)
    assert b[("inner_race", "wide_bpfi_sb_hmean")] == (0.0, None)
    assert b[("ball", "wide_bsf_sb_hmean")] == (0.0, None)
    assert b[("normal", "sk_bsf_hmean")] == (None, 0.0)
    assert b[("normal", "wide_shaft_hmean")] == (0.0, 0.0)
    # without explicit names the model takes the layout matching the column count
    x, y = _blobs(f=len(names))
    model = EnvelopeDiagnoser(prior="strict").fit(
        x, ["normal" if v == "a" else "outer_race" if v == "b" else "ball" for v in y]
    )
    w = dict(zip(model.classes_, model.coef_[:, names.index("sk_bpfo_hmean")], strict=True))
    assert w["outer_race"] >= 0.0 and w["ball"] <= 0.0 and w["normal"] <= 0.0


def test_physics_model_accepts_band_share_columns():
    """46 columns = the family layout + 16 band shares: names found, shares unconstrained."""
    rng = np.random.default_rng(7)
    names = feature_names(3, "family", 16)
    y = rng.choice(["normal", "inner_race", "ball", "outer_race"], size=200)
    x = rng.normal(size=(200, len(names)))
    x[y == "ball", names.index("share_03")] -= 3.0  # a (non-physical) cue the prior leaves free
    model = EnvelopeDiagnoser().fit(x, y)
    w = dict(zip(model.classes_, model.coef_, strict=True))
    assert w["ball"][names.index("share_03")] < -0.1
    assert all(w["normal"][j] <= 1e-9 for j, n in enumerate(names) if feature_family(n))
