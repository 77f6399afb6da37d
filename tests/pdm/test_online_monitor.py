"""The streaming PCA T²/Q monitor: calibrated limits, window closing, events with persistence."""

from __future__ import annotations

import numpy as np

from edgetwin.core import make_samples, make_waveforms
from edgetwin.core.config import parse_plant
from edgetwin.pdm.online import PCAT2Q, AnomalyMonitor
from edgetwin.pdm.online.monitor import health_from_score

T0 = 1_700_000_040 * 10**9


def _correlated(n: int, rng: np.random.Generator) -> np.ndarray:
    load = rng.uniform(0.5, 1.0, n)
    return np.column_stack([100 * load, 40 * load, 20 * load, 60 + 30 * load]) + rng.normal(
        0, 0.3, (n, 4)
    )


def test_pca_scores_healthy_low_and_broken_correlation_high() -> None:
    rng = np.random.default_rng(0)
    model = PCAT2Q().fit(_correlated(200, rng))
    healthy = model.score_samples(_correlated(500, rng))
    assert np.quantile(healthy, 0.99) < 1.0
    broken = _correlated(50, rng)
    broken[:, 2] *= 0.7  # current no longer follows flow: off the normal subspace (Q)
    assert np.all(model.score_samples(broken) > 1.0)
    t2, q, resid = model.statistics(broken)
    assert np.median(q) > np.median(model.statistics(_correlated(50, rng))[1]) * 10
    assert model.limit_scale_ >= model.min_scale


def test_health_is_one_below_limit_and_falls_on_log_scale() -> None:
    assert health_from_score(0.3) == 1.0
    assert health_from_score(10.0) == 0.75
    assert health_from_score(100.0) == 0.5
    assert health_from_score(1e5) == 0.0


PLANT = parse_plant(
    {
        "name": "t",
        "assets": [
            {
                "path": "s/l/p1",
                "signals": [
                    {"name": "flow", "unit": "m3/h"},
                    {"name": "current", "unit": "A"},
                    {
                        "name": "vib",
                        "unit": "g",
                        "kind": "waveform",
                        "rate_hz": 1000,
                        "burst_s": 0.5,
                        "every_s": 60,
                    },
                ],
            }
        ],
    }
)


def _minute(i: int, rng: np.random.Generator, fault: bool) -> list:
    ts = T0 + (i * 60 + np.arange(60, dtype=np.int64)) * 10**9
    load = 0.75 + 0.2 * np.sin(i / 7.0) + rng.normal(0, 0.01, 60)
    current = 30 * load**3 * (1.3 if fault else 1.0)
    burst = rng.normal(0, 0.1, (1, 500)).astype(np.float32)
    if fault:
        burst[0, ::50] += 2.0  # impacts: kurtosis and crest factor rise
    return [
        make_samples(
            np.concatenate([ts, ts]),
            ["s/l/p1/flow"] * 60 + ["s/l/p1/current"] * 60,
            np.concatenate([100 * load, current + rng.normal(0, 0.2, 60)]),
        ),
        make_waveforms(ts[:1] + 5 * 10**9, "s/l/p1/vib", 1000.0, burst),
    ]


def test_monitor_fits_then_raises_one_event_after_persistence() -> None:
    rng = np.random.default_rng(1)
    monitor = AnomalyMonitor(PLANT, window_s=60, fit_s=40 * 60, warmup_s=120, persist=3)
    kinds: list[str] = []
    scores: list[float] = []
    for i in range(90):
        for table in _minute(i, rng, fault=i >= 70):
            for out in monitor.process(table):
                if "kind" in out.column_names:
                    kinds.extend(out.column("kind").to_pylist())
                else:
                    sig = out.column("signal").cast("string").to_pylist()
                    vals = out.column("value").to_pylist()
                    scores.extend(
                        v for s, v in zip(sig, vals, strict=True) if s.endswith("anomaly_score")
                    )
    assert kinds[0] == "model_fitted"
    assert kinds.count("anomaly") == 1
    healthy_scores = scores[: 70 - 42 - 1]  # scored windows before the fault
    assert max(healthy_scores) < 1.0
    first = monitor.first_anomaly_ns("s/l/p1")
    assert first is not None
    minute = (first - T0) // (60 * 10**9)
    assert 70 <= minute <= 75  # 3 windows of persistence after the fault at minute 70
