"""Parity checks: the exported (or quantized) model must score like the model it came from.

A build fails when the difference exceeds a stated tolerance; the report is stored as evidence
in the manifest, so the tolerance a module passed is on record next to its metrics.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from edgetwin.core.errors import ModuleError


@dataclass(frozen=True)
class ParityReport:
    """Element-wise comparison of two score arrays (`|cand - ref| <= atol + rtol * |ref|`)."""

    name: str
    n: int
    max_abs: float
    mean_abs: float
    max_rel: float
    atol: float
    rtol: float
    violations: int
    passed: bool
    label_agreement: float | None = None  # argmax agreement when outputs are class scores

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_parity(
    reference: np.ndarray,
    candidate: np.ndarray,
    *,
    atol: float,
    rtol: float = 0.0,
    name: str = "parity",
    raise_on_fail: bool = True,
) -> ParityReport:
    """Compare `candidate` scores with `reference`; raise `ModuleError` beyond tolerance.

    `atol` is in the output's own unit (e.g. RUL cycles, anomaly score); `rtol` is a fraction of
    `|reference|`. Pass `raise_on_fail=False` to get a failing report instead of an exception.
    """
    ref = np.asarray(reference, dtype=np.float64)
    cand = np.asarray(candidate, dtype=np.float64)
    if ref.shape != cand.shape:
        raise ModuleError(
            f"{name}: shape mismatch, reference {ref.shape} vs candidate {cand.shape}; "
            "compare the same inputs through both models"
        )
    if not np.all(np.isfinite(cand)):
        raise ModuleError(f"{name}: candidate has NaN or inf values; the export is broken")
    diff = np.abs(cand - ref)
    rel = diff / np.maximum(np.abs(ref), 1e-12)
    bad = diff > atol + rtol * np.abs(ref)
    agreement = None
    if ref.ndim == 2 and ref.shape[1] > 1:
        agreement = float(np.mean(ref.argmax(axis=1) == cand.argmax(axis=1)))
    report = ParityReport(
        name=name,
        n=int(ref.size),
        max_abs=float(diff.max(initial=0.0)),
        mean_abs=float(diff.mean()) if diff.size else 0.0,
        max_rel=float(rel.max(initial=0.0)),
        atol=float(atol),
        rtol=float(rtol),
        violations=int(bad.sum()),
        passed=not bool(bad.any()),
        label_agreement=agreement,
    )
    if raise_on_fail and not report.passed:
        raise ModuleError(
            f"{name}: parity failed, {report.violations}/{report.n} values differ by more than "
            f"atol={atol} + rtol={rtol}*|ref| (max abs diff {report.max_abs:.4g}); the exported "
            "model does not reproduce the training model, fix the export or state a wider tolerance"
        )
    return report
