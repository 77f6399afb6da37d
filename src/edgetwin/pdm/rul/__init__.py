"""Remaining useful life: regime normalisation, windowed CNN ensemble, conformal intervals.

- `regimes.RegimeNormalizer`: operating regimes from settings (count found, not given) and
  per-regime sensor standardisation;
- `windows`: capped targets, windows, and `preprocess_histories` (the module's numpy pre-step);
- `estimator.CnnRulRegressor`: k-fold CNN ensemble (torch, imported only when fitting);
- `conformal`: split-conformal intervals binned by predicted RUL;
- `module`: export as an edge module, evaluate it, `predict_last` on live histories.

Importing this package never imports torch.
"""

from edgetwin.pdm.rul.conformal import MondrianIntervals, rul_with_interval
from edgetwin.pdm.rul.regimes import RegimeNormalizer
from edgetwin.pdm.rul.windows import cap_rul, preprocess_histories

__all__ = [
    "MondrianIntervals",
    "RegimeNormalizer",
    "cap_rul",
    "preprocess_histories",
    "rul_with_interval",
]
