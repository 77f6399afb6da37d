"""Perturbations are seeded, graded, shape-preserving; the table's values move with severity."""

from __future__ import annotations

import numpy as np
import pytest

from edgetwin.core.errors import DataError
from edgetwin.edge.robustness import TIMESERIES, image_perturbations, robustness_table


def _windows(n: int = 80, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two classes of tones (4 vs 7 cycles per window) with mild noise: (N, 1, 256)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    t = np.arange(256) / 256
    freq = np.where(y == 1, 7.0, 4.0)[:, None]
    x = np.sin(
        2 * np.pi * freq * t + rng.uniform(0, 6.28, size=(n, 1))
    ) + 0.02 * rng.standard_normal((n, 256))
    return x[:, None, :].astype(np.float32), y


def _zero_crossing_classifier(x: np.ndarray) -> np.ndarray:
    s = np.asarray(x)[:, 0, :]
    s = s - s.mean(axis=1, keepdims=True)
    crossings = (np.diff(np.sign(s), axis=1) != 0).sum(axis=1)
    return (crossings > 11).astype(int)  # 4 cycles -> 8 crossings, 7 cycles -> 14


@pytest.mark.parametrize("name", sorted(TIMESERIES))
def test_timeseries_perturbation_graded_and_seeded(name):
    x, _ = _windows(16)
    p = TIMESERIES[name]
    assert np.array_equal(p(x, 0), x)
    dev = []
    for level in range(1, 6):
        out = p(x, level, seed=3)
        assert out.shape == x.shape and out.dtype == x.dtype
        assert np.array_equal(out, p(x, level, seed=3))  # deterministic
        dev.append(float(np.abs(out - x).mean()))
    assert dev[0] > 0
    assert dev[-1] > dev[0]  # the most severe level changes the signal more than the mildest


def test_2d_time_series_accepted():
    x, _ = _windows(4)
    out = TIMESERIES["noise"](x[:, 0, :], 3)
    assert out.shape == (4, 256)
    with pytest.raises(DataError, match="time last"):
        TIMESERIES["noise"](np.zeros((2, 2, 2, 2)), 1)


@pytest.mark.parametrize("layout", ["NHWC", "NCHW", "NHW"])
def test_image_perturbations_preserve_layout_and_dtype(layout):
    rng = np.random.default_rng(0)
    shape = {"NHWC": (3, 32, 40, 3), "NCHW": (3, 3, 32, 40), "NHW": (3, 32, 40)}[layout]
    img = rng.integers(60, 200, size=shape).astype(np.uint8)
    for p in image_perturbations(layout).values():
        assert np.array_equal(p(img, 0), img)
        mild, severe = p(img, 1), p(img, 5)
        assert mild.shape == img.shape and mild.dtype == np.uint8
        d1 = np.abs(mild.astype(float) - img).mean()
        d5 = np.abs(severe.astype(float) - img).mean()
        assert d5 > d1, p.name
    f = img.astype(np.float32) / 255
    out = image_perturbations(layout)["brightness"](f, 3)
    assert out.dtype == np.float32 and out.max() <= 1.0
    np.testing.assert_allclose(np.minimum(f + 0.2, 1.0), out, atol=1e-5)


def test_table_values_fall_with_severity():
    x, y = _windows(120)
    table = robustness_table(
        _zero_crossing_classifier, x, y, "accuracy", perturbations=["noise", "quantize", "gain"]
    )
    assert table.clean == pytest.approx(1.0)
    m = table.matrix()
    assert m["noise"][0] == 1.0 and m["noise"][-1] < 0.8  # noise at 1σ wrecks zero crossings
    assert m["gain"] == [1.0] * 6  # a gain error cannot move zero crossings
    row = [r for r in table.rows if r.perturbation == "noise" and r.severity == 5][0]
    assert row.value == 1.0 and row.delta == pytest.approx(row.metric - 1.0)
    d = table.to_dict()
    assert d["metric"] == "accuracy" and len(d["rows"]) == 18
    assert "| noise | std/σ |" in table.markdown()
    from rich.console import Console

    console = Console(record=True, width=200)
    console.print(table.rich())
    assert "sev 5" in console.export_text()


def test_table_rejects_unknown_names():
    x, y = _windows(8)
    with pytest.raises(DataError, match="perturbation 'smoke'"):
        robustness_table(_zero_crossing_classifier, x, y, perturbations=["smoke"])
    with pytest.raises(DataError, match="metric 'top5'"):
        robustness_table(_zero_crossing_classifier, x, y, metric="top5")


def test_extra_inputs_ride_along_unperturbed():
    """A clean side input (here the tone's expected crossing count) reaches predict_fn sliced
    with its batch and untouched by the perturbation."""
    x, y = _windows(50)
    expected = np.where(y == 1, 14, 8)
    seen: list[np.ndarray] = []

    def predict(batch: np.ndarray, crossings: np.ndarray) -> np.ndarray:
        seen.append(crossings)
        return (crossings > 11).astype(int)  # the side input alone decides

    table = robustness_table(
        predict, x, y, perturbations=["offset"], batch_size=16, extra={"crossings": expected}
    )
    assert table.matrix()["offset"] == [1.0] * 6
    assert [len(s) for s in seen[:4]] == [16, 16, 16, 2]
    np.testing.assert_array_equal(np.concatenate(seen[:4]), expected)
    with pytest.raises(DataError, match="extra\\['crossings'\\] has 3 samples"):
        robustness_table(predict, x, y, extra={"crossings": expected[:3]})
