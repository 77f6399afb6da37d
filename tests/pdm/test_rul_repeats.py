"""Repeated engine k-fold: R partitions x k folds members, each engine held out once per repeat,
its out-of-fold prediction the mean of the members that never saw it, all folded into one graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from edgetwin.core.errors import DataError  # noqa: E402
from edgetwin.pdm.datasets.cmapss import load_runs  # noqa: E402
from edgetwin.pdm.metrics import rmse  # noqa: E402
from edgetwin.pdm.rul.estimator import CnnRulRegressor, _predict  # noqa: E402
from edgetwin.pdm.rul.net import GroupedRulEnsemble  # noqa: E402

N_ENGINES = 12
TINY = dict(
    n_folds=3,
    max_epochs=1,
    patience=1,
    samples_per_epoch=512,
    channels=8,
    max_engines=N_ENGINES,
    n_threads=1,
    random_state=3,
)


def _fit(path: Path, n_repeats: int) -> CnnRulRegressor:
    return CnnRulRegressor(n_repeats=n_repeats, **TINY).fit(load_runs(path))  # type: ignore[arg-type]


def test_two_repeats_two_partitions_each_engine_held_out_once_per_repeat(shared_data) -> None:
    path = shared_data("cmapss") / "train_FD001.txt"
    one, two = _fit(path, 1), _fit(path, 2)
    assert len(two.ensemble_.members) == 6 == 2 * len(one.ensemble_.members)
    assert len(two.member_epochs_) == len(two.member_holdout_) == 6
    assert two.fold_of_.shape == (2, N_ENGINES)
    for r in range(2):
        held = np.concatenate(two.member_holdout_[3 * r : 3 * r + 3])
        # every engine exactly once per repeat, 4 engines per fold
        assert sorted(held.tolist()) == list(range(N_ENGINES))
        assert [len(h) for h in two.member_holdout_[3 * r : 3 * r + 3]] == [4, 4, 4]
    assert not np.array_equal(two.fold_of_[0], two.fold_of_[1])  # a fresh partition
    # the first repeat is n_repeats=1 exactly: same partition, same members
    np.testing.assert_array_equal(two.fold_of_[0], one.fold_of_[0])
    x = np.random.default_rng(0).normal(size=(32, 40, two.n_features_)).astype(np.float32)
    for a, b in zip(one.ensemble_.members, list(two.ensemble_.members)[:3], strict=True):
        np.testing.assert_allclose(_predict(a, x), _predict(b, x), atol=1e-5)
    assert one.oof_rmse_ == pytest.approx(one.oof_rmse_per_repeat_[0], abs=1e-9)
    assert two.oof_rmse_per_repeat_[0] == pytest.approx(one.oof_rmse_, abs=1e-4)


def test_out_of_fold_prediction_is_the_mean_of_the_members_that_never_saw_the_engine(
    shared_data,
) -> None:
    path = shared_data("cmapss") / "train_FD001.txt"
    est = _fit(path, 2)
    xs, ys = est._engine_windows(load_runs(path))
    members = list(est.ensemble_.members)
    for i in (0, 5, 11):
        blind = [m for m, h in zip(members, est.member_holdout_, strict=True) if i in h]
        assert len(blind) == 2  # one per repeat
        want = np.mean([_predict(m, xs[i]) for m in blind], axis=0)
        y, got = est.oof_engines_[i]
        np.testing.assert_array_equal(y, ys[i])
        np.testing.assert_allclose(got, want, atol=1e-4)
        # and not the full ensemble's prediction (which saw the engine)
        assert np.abs(got - est.predict_windows(xs[i])).max() > 0.01
    yt = np.concatenate([y for y, _ in est.oof_engines_])
    yp = np.concatenate([p for _, p in est.oof_engines_])
    assert est.oof_rmse_ == pytest.approx(rmse(yt, yp), rel=1e-9)
    # averaging two predictions cannot have a larger squared error than the repeats' mean one
    assert est.oof_rmse_ <= np.sqrt(np.mean(np.square(est.oof_rmse_per_repeat_))) + 1e-9
    # the folded graph of all 6 members (torch and ONNX) is their mean
    x = np.concatenate([xs[0], xs[7]])
    ref = est.predict_windows(x)
    with torch.inference_mode():
        grouped = GroupedRulEnsemble(members).eval()(torch.from_numpy(x)).squeeze(1).numpy()
    np.testing.assert_allclose(grouped, ref, atol=1e-3)
    sess = ort.InferenceSession(est.to_onnx(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(["rul"], {"windows": x})[0].ravel(), ref, atol=0.05)


def test_n_repeats_must_be_positive(shared_data) -> None:
    path = shared_data("cmapss") / "train_FD001.txt"
    with pytest.raises(DataError, match="n_repeats=0"):
        _fit(path, 0)


def test_two_worker_processes_train_the_same_members(shared_data) -> None:
    path = shared_data("cmapss") / "train_FD001.txt"
    runs = load_runs(path)
    seq = _fit(path, 2)
    done: list[int] = []
    par = CnnRulRegressor(n_repeats=2, n_jobs=2, **TINY).fit(  # type: ignore[arg-type]
        runs, progress=lambda d, t: done.append(d)
    )
    assert sorted(done) == list(range(1, 7))
    assert par.member_epochs_ == seq.member_epochs_
    np.testing.assert_array_equal(par.fold_of_, seq.fold_of_)
    x = np.random.default_rng(1).normal(size=(32, 40, seq.n_features_)).astype(np.float32)
    np.testing.assert_allclose(par.predict_windows(x), seq.predict_windows(x), atol=1e-5)
    assert par.oof_rmse_ == pytest.approx(seq.oof_rmse_, abs=1e-5)
    assert par.oof_rmse_per_repeat_ == pytest.approx(seq.oof_rmse_per_repeat_, abs=1e-5)


def test_train_rul_cli_trains_folds_times_repeats_members(shared_data, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from edgetwin.cli.pdm import app
    from edgetwin.edge import read_manifest

    out = tmp_path / "rul.zip"
    args = ["train-rul", "--data", str(shared_data("cmapss") / "train_FD001.txt")]
    args += ["--out", str(out), "--folds", "2", "--repeats", "2", "--max-epochs", "1"]
    args += ["--calibration", "cross"]
    res = CliRunner().invoke(app, [*args, "--max-engines", "12", "--jobs", "1"])
    assert res.exit_code == 0, res.output
    assert "members: 4" in res.output
    manifest = read_manifest(out)
    assert manifest.verification["interval_calibration"] == "cross"
    assert manifest.model.members == 4
    assert manifest.model.hyperparameters["n_repeats"] == 2
    assert len(manifest.verification["oof_rmse_single_member_per_repeat"]) == 2
