"""DiagnosisExperts: product of the physics and the domain-gated generic expert (health="gated",
the default), or health from the physics model alone (health="physics", the previous default)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from edgetwin.core.errors import ConfigError, DataError, ModuleError
from edgetwin.edge import EdgeModule
from edgetwin.pdm.diagnose.experts import DiagnosisExperts
from edgetwin.pdm.diagnose.model import EnvelopeDiagnoser
from edgetwin.pdm.diagnose.module import build_diagnosis_module, feature_params, module_predict
from edgetwin.pdm.features.envelope import feature_names

CLASSES = ["normal", "inner_race", "ball", "outer_race"]


def _data(n=50, seed=0, shares=16):
    """Features with the default column names: class-dependent means, Gaussian noise."""
    names = feature_names(3, "family", shares)
    rng = np.random.default_rng(seed)
    y = np.repeat(CLASSES, n)
    centres = rng.normal(scale=1.5, size=(len(CLASSES), len(names)))
    x = centres[np.repeat(np.arange(len(CLASSES)), n)] + rng.normal(size=(y.size, len(names)))
    return x, y, names


def _session(model):
    return ort.InferenceSession(model.to_onnx(), providers=["CPUExecutionProvider"])


def test_health_comes_from_the_physics_model_only():
    x, y, names = _data()
    model = DiagnosisExperts(health="physics").fit(x, y)
    assert model.generic_ is not None
    assert model.generic_.classes_.tolist() == ["ball", "inner_race", "outer_race"]
    normal = model.classes_.tolist().index("normal")
    phys = model.physics_.predict_proba(x[:, model.physics_cols_])
    proba = model.predict_proba(x)
    np.testing.assert_allclose(proba[:, normal], phys[:, normal], atol=1e-12)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    # the band shares may re-rank the fault types, never change P(normal)
    shifted = x.copy()
    shifted[:, [j for j, n in enumerate(names) if n.startswith("share_")]] += 5.0
    np.testing.assert_allclose(model.predict_proba(shifted)[:, normal], proba[:, normal])
    assert not np.allclose(model.predict_proba(shifted), proba)


def test_fault_type_is_the_product_of_the_experts():
    x, y, _ = _data(seed=1)
    model = DiagnosisExperts(health="physics").fit(x, y)
    classes = model.classes_.tolist()
    faults = [classes.index(c) for c in model.generic_.classes_]
    phys = model.physics_.predict_proba(x[:, model.physics_cols_])[:, faults]
    gen = model.generic_.predict_proba(x[:, model.generic_cols_])
    inside = model.in_domain(x)
    # every fault training row is inside the domain (no groups: the limit is the largest
    # in-sample distance); the healthy rows of these blobs lie far outside it
    assert inside[y != "normal"].all() and not inside[y == "normal"].any()
    prod = phys * gen
    want = np.where(
        inside[:, None], prod / prod.sum(axis=1, keepdims=True), phys / phys.sum(1)[:, None]
    )
    proba = model.predict_proba(x)[:, faults]
    np.testing.assert_allclose(proba / proba.sum(axis=1, keepdims=True), want, atol=1e-9)
    assert model.score(x, y) > 0.95


def test_gated_health_is_the_product_over_every_class():
    """health="gated": inside the domain both experts vote on all four classes, health included;
    outside it the physics model decides alone."""
    x, y, names = _data(seed=6)
    groups = np.tile([0, 1], y.size // 2)
    model = DiagnosisExperts().fit(x, y, groups)
    assert model.health == "gated"
    assert model.generic_.classes_.tolist() == sorted(CLASSES)  # the healthy class too
    phys = model.physics_.predict_proba(x[:, model.physics_cols_])
    gen = model.generic_.predict_proba(x[:, model.generic_cols_])
    inside = model.in_domain(x)
    assert inside.mean() > 0.9 and inside[y == "normal"].mean() > 0.9
    prod = phys * gen
    want = np.where(inside[:, None], prod / prod.sum(axis=1, keepdims=True), phys)
    np.testing.assert_allclose(model.predict_proba(x), want, atol=1e-9)
    # the band shares now move P(normal) inside the domain
    normal = model.classes_.tolist().index("normal")
    assert np.max(np.abs(model.predict_proba(x)[:, normal] - phys[:, normal])) > 0.01
    far = x[:5] + 50.0  # a different machine: every feature far off, the physics model alone
    assert not model.in_domain(far).any()
    np.testing.assert_allclose(
        model.predict_proba(far),
        model.physics_.predict_proba(far[:, model.physics_cols_]),
        atol=1e-12,
    )


def test_gate_limit_holds_out_only_classes_seen_under_two_conditions():
    """A class recorded under one condition only (CWRU's one normal recording) stays in the
    reference clusters when its condition is left out; the other classes are held out."""
    x, y, _ = _data(n=60, seed=7)
    groups = np.tile([0, 1, 2], y.size // 3)
    groups[y == "normal"] = 0
    model = DiagnosisExperts().fit(x, y, groups)
    assert model.domain_means_.shape[0] == 10  # 3 fault classes x 3 conditions + normal
    assert model.in_domain(x[y == "normal"]).all()
    assert model.in_domain(x[y != "normal"]).mean() > 0.95


def test_domain_gate_limit_comes_from_leaving_one_condition_out():
    x, y, _ = _data(n=60, seed=4)
    groups = np.tile([0, 1, 2], y.size // 3)
    ungrouped = DiagnosisExperts().fit(x, y)
    grouped = DiagnosisExperts().fit(x, y, groups)
    # a held-out condition lies farther from the others' domain than any row from its own
    assert grouped.domain_limit_ > ungrouped.domain_limit_ > 0
    far = x[y != "normal"][:5] + 50.0  # a different machine: every feature far off
    assert not grouped.in_domain(far).any()
    phys = grouped.physics_.predict_proba(far[:, grouped.physics_cols_])
    np.testing.assert_allclose(grouped.predict_proba(far), phys, atol=1e-12)


@pytest.mark.parametrize("health", ["gated", "physics"])
@pytest.mark.parametrize("shares", [16, 0])
def test_onnx_graph_matches_numpy(shares, health):
    x, y, _ = _data(seed=2, shares=shares)
    model = DiagnosisExperts(C=0.5, health=health).fit(x, y, np.tile([0, 1], y.size // 2))
    assert (model.generic_ is None) == (shares == 0)
    x = np.vstack([x, x[:20] + 50.0])  # rows far off: outside the domain gate
    if shares:  # rows on both sides of the domain gate
        assert 0 < model.in_domain(x).mean() < 1
    probs = _session(model).run(None, {"features": x.astype(np.float32)})[0]
    np.testing.assert_allclose(probs, model.predict_proba(x), atol=1e-4)
    assert np.array_equal(model.classes_[probs.argmax(axis=1)], model.predict(x))


def test_without_band_shares_it_is_the_physics_model():
    x, y, _ = _data(seed=3, shares=0)
    ours = DiagnosisExperts(prior="evidence").fit(x, y)
    ref = EnvelopeDiagnoser(prior="evidence").fit(x, y)
    np.testing.assert_allclose(ours.predict_proba(x), ref.predict_proba(x), atol=1e-12)


def test_errors_name_the_fix():
    with pytest.raises(ModuleError, match="fit"):
        DiagnosisExperts().predict(np.zeros((1, 46)))
    with pytest.raises(DataError, match="feature_names"):
        DiagnosisExperts(feature_names=["a", "b"]).fit(np.zeros((4, 3)), ["normal", "ball"] * 2)
    with pytest.raises(ConfigError, match="health"):
        DiagnosisExperts(health="vote").fit(np.zeros((4, 3)), ["normal", "ball"] * 2)


def test_experts_name_the_cwru_bearings_the_physics_model_misses(shared_data, tmp_path):
    """Load-wise on a CWRU subset (train 0/1 hp, test 2 hp; normal: first two thirds / last
    third): B007's envelope shows outer-race lines, so the physics model calls two of its
    windows outer race; the fault-type product with the band-share expert names all of them."""
    from edgetwin.pdm.datasets.cwru import load_file
    from edgetwin.pdm.diagnose.splits import record_windows
    from edgetwin.pdm.diagnose.train import FeatureCache, confusion, fit_windows, gather

    folder = shared_data("cwru")
    names = [
        f"12k_Drive_End_{c}_{load}_{n}.mat"
        for c, nums in (
            ("B007", (118, 119, 120)),
            ("OR014@6", (197, 198, 199)),
            ("IR007", (105, 106, 107)),
        )
        for load, n in enumerate(nums)
    ] + ["normal_0_97.mat"]
    recs = [load_file(folder / n) for n in names]
    cut = int(recs[-1].signal.size * 2 / 3)
    train, test = [], []
    for i, r in enumerate(recs):
        if r.meta.label == "normal":
            train += record_windows(recs, i, 12000, 12000, 0, cut)
            test += record_windows(recs, i, 12000, 12000, cut)
        else:
            (test if r.meta.load_hp == 2 else train).extend(record_windows(recs, i, 12000, 12000))
    params = feature_params()
    cache = FeatureCache(recs, 12000, params)
    x, shaft, y = gather(recs, test, 12000)
    results = {}
    for name, make, p in (
        ("experts", DiagnosisExperts, params),
        ("physics", EnvelopeDiagnoser, {**params, "band_shares": 0}),
    ):
        feats = cache if p is params else FeatureCache(recs, 12000, p)
        model = fit_windows(recs, train, p, 12000, feats, make)
        mod = EdgeModule.load(build_diagnosis_module(model, tmp_path / f"{name}.zip", p))
        results[name] = confusion(y.tolist(), module_predict(mod, x, shaft))
    assert results["experts"].n == 36
    assert results["experts"].accuracy >= 35 / 36, results["experts"].confusion
    assert results["physics"].accuracy <= 34 / 36, results["physics"].confusion


def test_domain_is_near_a_known_recording_not_between_them():
    """The band shares recognise recordings: a window halfway between two known recordings (as
    an unseen bearing may be) is outside the domain, though near the mean of all training rows."""
    rng = np.random.default_rng(5)
    names = feature_names(3, "family", 16)
    n = 40
    y = np.repeat(["normal", "ball", "ball", "outer_race", "outer_race"], n)
    recordings = np.repeat(np.arange(5), n)
    loads = np.tile([0, 1], y.size // 2)
    x = rng.normal(size=(y.size, len(names)))
    shares = [j for j, c in enumerate(names) if c.startswith("share_")]
    offsets = {1: 8.0, 2: -8.0, 3: 8.0, 4: -8.0}  # two recordings per fault type, far apart
    for rec, off in offsets.items():
        x[np.ix_(recordings == rec, shares)] += off
    model = DiagnosisExperts(health="physics").fit(x, y, loads, recordings)
    assert model.domain_means_.shape[0] == 4  # one cluster per fault recording
    assert model.in_domain(x[y != "normal"]).mean() > 0.95
    between = x[recordings == 1].copy()
    between[:, shares] -= 8.0  # halfway between recordings 1 and 2
    assert not model.in_domain(between).any()
    probs = _session(model).run(None, {"features": np.vstack([x, between]).astype(np.float32)})[0]
    np.testing.assert_allclose(probs, model.predict_proba(np.vstack([x, between])), atol=1e-4)


def test_gated_health_keeps_the_normal_recording_normal_load_wise(shared_data):
    """The load protocol's 2 hp fold on all CWRU files (default features): with health from the
    physics model alone two windows of the normal recording's test block are called faulty; the
    gated experts name all 12 and every fault window of the unseen load."""
    from edgetwin.pdm.datasets.cwru import load_records
    from edgetwin.pdm.diagnose.splits import make_folds
    from edgetwin.pdm.diagnose.train import FeatureCache, gather

    recs = load_records([shared_data("cwru")])
    fold = make_folds(recs, "load", window=12000, hop=6000)[2]
    assert fold.name == "test 2 hp"
    cache = FeatureCache(recs, 12000, feature_params())
    x_train, x_test = cache(fold.train), cache(fold.test)
    y_train = [r.label for r in fold.train]
    loads = [recs[r.record].meta.load_hp for r in fold.train]
    files = [r.record for r in fold.train]
    _, _, y = gather(recs, fold.test, 12000)
    normal = y == "normal"
    assert normal.sum() == 12
    right = {}
    for health in ("gated", "physics"):
        model = DiagnosisExperts(health=health).fit(x_train, y_train, loads, files)
        right[health] = model.predict(x_test) == y
    assert right["gated"].all()
    assert right["physics"][normal].sum() == 10
