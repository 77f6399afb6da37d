"""Predicted-vs-true RUL plot (PNG) with the conformal intervals, for evaluation reports."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_predictions(
    truth: np.ndarray,
    pred: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    out_path: str | Path,
    title: str = "RUL: predicted vs true",
    cap_cycles: float | None = 125.0,
) -> Path:
    """Write a PNG: left, predicted vs true per engine with intervals; right, engines sorted by truth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.asarray(truth, dtype=np.float64)
    tc = np.minimum(t, cap_cycles) if cap_cycles is not None else t
    p, low, high = (np.asarray(a, dtype=np.float64) for a in (pred, lo, hi))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 5))
    ax1.errorbar(tc, p, yerr=[p - low, high - p], fmt="o", ms=3, alpha=0.6, elinewidth=0.7)
    m = max(float(tc.max()), float(high.max())) * 1.05
    ax1.plot([0, m], [0, m], "k--", lw=1)
    ax1.set_xlabel("true RUL (cycles, capped)" if cap_cycles is not None else "true RUL (cycles)")
    ax1.set_ylabel("predicted RUL (cycles)")
    ax1.set_title(title)
    order = np.argsort(tc)
    x = np.arange(len(order))
    ax2.fill_between(x, low[order], high[order], alpha=0.3, label="interval")
    ax2.plot(x, p[order], ".", label="predicted")
    ax2.plot(x, tc[order], "k-", lw=1, label="true (capped)" if cap_cycles is not None else "true")
    if cap_cycles is not None:
        ax2.plot(x, t[order], "k:", lw=1, label="true (raw)")
    ax2.set_xlabel("test engine (sorted by true RUL)")
    ax2.set_ylabel("RUL (cycles)")
    ax2.legend(loc="upper left")
    fig.tight_layout()
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
