"""Decision thresholds from good parts only, optionally refined with a few known defects.

A line has thousands of good parts and a handful of defects, so the threshold is set where the
data is: the (1 - FRR) quantile of anomaly scores of good images the memory bank has not seen.
The expected false-reject rate on new good parts is then the stated FRR (up to the sampling
error of the quantile: with n calibration images the smallest resolvable FRR is about 1/n).
"""

from __future__ import annotations

import numpy as np

from edgetwin.core.errors import DataError


def threshold_from_good(good_scores: np.ndarray, false_reject_rate: float = 0.01) -> float:
    """Score above which a part is rejected, for a target false-reject rate on good parts.

    Uses the empirical quantile with the "higher" rule, so at most `false_reject_rate` of the
    calibration parts lie above the threshold.
    """
    s = np.asarray(good_scores, dtype=np.float64)
    if s.size == 0:
        raise DataError("threshold_from_good needs scores of at least one held-out good image")
    if not 0.0 <= false_reject_rate < 1.0:
        raise DataError(
            f"false_reject_rate={false_reject_rate} must be in [0, 1), e.g. 0.01 for 1%"
        )
    return float(np.quantile(s, 1.0 - false_reject_rate, method="higher"))


def refine_threshold(
    good_scores: np.ndarray,
    defect_scores: np.ndarray,
    *,
    max_false_reject_rate: float = 0.05,
    cost_false_reject: float = 1.0,
    cost_escape: float = 10.0,
) -> float:
    """Move the threshold using the few defect images a user has, within an FRR budget.

    Among candidate thresholds whose false-reject rate on good parts stays within
    `max_false_reject_rate`, pick the one with the smallest cost
    `cost_false_reject * FRR + cost_escape * escape_rate`; ties go to the highest threshold
    (fewest false rejects). An escape usually costs much more than a scrapped good part, hence
    the default 10:1. With no defects this reduces to `threshold_from_good(good, max_frr)`.
    """
    good = np.sort(np.asarray(good_scores, dtype=np.float64))
    bad = np.asarray(defect_scores, dtype=np.float64)
    base = threshold_from_good(good, max_false_reject_rate)
    if bad.size == 0:
        return base
    candidates = np.unique(np.concatenate([good, bad, [base]]))
    candidates = candidates[candidates >= base]
    frr = 1.0 - np.searchsorted(good, candidates, side="right") / good.size
    escape = np.searchsorted(np.sort(bad), candidates, side="right") / bad.size
    cost = cost_false_reject * frr + cost_escape * escape
    best = np.flatnonzero(cost <= cost.min() + 1e-12)
    return float(candidates[best[-1]])
