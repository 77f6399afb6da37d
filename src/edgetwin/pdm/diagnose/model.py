"""A small, exportable classifier on physics-informed envelope features.

Standardisation plus multinomial logistic regression: few parameters, calibrated probabilities,
and a four-node ONNX graph (Sub, Div, Gemm, Softmax) that runs in microseconds.

With `prior="evidence"` (the default) the weights obey the physics: a fault class may only gain
from energy at its own defect frequencies (outer race: BPFO; inner race: BPFI and its shaft-rate
sidebands; ball: BSF, ball spin, FTF and the FTF sidebands of BSF) and may only lose from energy
at the other families; the healthy class may only lose from defect energy. Shaft harmonics and
the time-domain statistics stay unconstrained. A plain classifier happily learns "no BPFO peak
but this kurtosis means outer race" from the one outer-race bearing it saw; the sign
constraints forbid such shortcuts, which is what lets a model trained on CWRU name the faults of
other bearings (unseen fault sizes, the simulated plant).

`prior="strict"` (the default) also constrains the rest: shaft-rate modulation of the envelope
and impulsiveness (kurtosis, crest and impulse factors, spectral-kurtosis maximum) may raise the
odds of a fault but never of health. Without this, the model learns from CWRU's single normal
recording that strong shaft modulation means "healthy" (a trait of that test rig), and calls a
healthy machine without it faulty. `prior="evidence"` leaves shaft and time statistics free
(better CWRU scores, see docs/pdm_diagnosis.md); `prior="none"` is plain logistic regression.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from edgetwin.core.errors import ConfigError, DataError, ModuleError
from edgetwin.pdm.features.envelope import LAYOUTS, feature_names

INPUT_NAME = "features"
OUTPUT_NAME = "probabilities"
PRIORS = ("strict", "evidence", "none")
# Envelope families that count as evidence for each fault class.
EVIDENCE: dict[str, tuple[str, ...]] = {
    "outer_race": ("bpfo",),
    "inner_race": ("bpfi", "bpfi_sb"),
    "ball": ("bsf", "bsf_sb", "ball_spin", "ftf"),
}
_FAMILY_TOKENS = ("bpfi_sb", "bsf_sb", "ball_spin", "bpfo", "bpfi", "bsf", "ftf")
_IMPULSIVENESS = ("time_kurtosis", "time_crest", "time_impulse", "sk_max")

Bound = tuple[float | None, float | None]


def feature_family(name: str) -> str | None:
    """Defect family of an envelope feature name (`sk_bpfi_sb_h2` -> `bpfi_sb`); None otherwise."""
    for token in _FAMILY_TOKENS:
        if f"_{token}_h" in name:
            return token
    return None


def _other_bound(cls: str, name: str, prior: str) -> Bound:
    """Bound of a feature that is not defect-family energy (shaft harmonics, time statistics)."""
    if prior != "strict":
        return (None, None)
    if (
        "_shaft_h" in name
    ):  # shaft-rate modulation (inner race, looseness): never evidence of health
        return (0.0, 0.0) if cls == "normal" else (0.0, None)
    if name in _IMPULSIVENESS:  # impacts: evidence of some fault, never of health
        return (None, 0.0) if cls == "normal" else (0.0, None)
    return (None, None)


def weight_bounds(
    classes: Sequence[str], names: Sequence[str], prior: str = "evidence"
) -> list[Bound]:
    """L-BFGS-B bounds of the weight matrix [class, feature] (row-major) under `prior`."""
    bounds: list[Bound] = []
    for cls in classes:
        own = EVIDENCE.get(cls)
        for name in names:
            fam = feature_family(name)
            if own is None and cls != "normal":
                bounds.append((None, None))  # a class we know no physics of
            elif fam is None:
                bounds.append(_other_bound(cls, name, prior))
            elif own is not None and fam in own:
                bounds.append((0.0, None))
            else:
                bounds.append((None, 0.0))
    return bounds


def _default_names(n_columns: int) -> list[str]:
    """`envelope_features` column names (3 harmonics) with `n_columns` columns: a layout, plus
    band-share columns for the family layout (`band_shares`)."""
    for layout in LAYOUTS:
        names = feature_names(3, layout)
        if len(names) == n_columns:
            return names
    extra = n_columns - len(feature_names(3, "family"))
    if extra > 0:
        return feature_names(3, "family", extra)
    return feature_names()


class EnvelopeDiagnoser:
    """Multinomial logistic regression on standardised features (scikit-learn contract).

    C: inverse L2 regularisation strength (scikit-learn's meaning); max_iter: solver iterations;
    prior: "strict" (default), "evidence" or "none", see the module docstring; feature_names: column names (default: the `envelope_features` layout with as many columns as X).
    Learned: `classes_`, `mean_`, `scale_`, `coef_` [n_classes, n_features], `intercept_`.
    """

    def __init__(
        self,
        C: float = 1.0,
        max_iter: int = 3000,
        prior: str = "strict",
        feature_names: Sequence[str] | None = None,
    ) -> None:
        self.C = C
        self.max_iter = max_iter
        self.prior = prior
        self.feature_names = feature_names

    def fit(self, X: ArrayLike, y: Sequence[str]) -> EnvelopeDiagnoser:
        """Fit on features X [n, F] and string labels y."""
        from scipy.optimize import minimize

        x = np.asarray(X, dtype=np.float64)
        labels = np.asarray(y).astype(str)
        if x.ndim != 2 or x.shape[0] != labels.shape[0] or x.shape[0] == 0:
            raise DataError(
                f"X shape {x.shape} and y length {labels.shape[0]}: need [n, F] features and n labels"
            )
        if self.prior not in PRIORS:
            raise ConfigError(f"prior={self.prior!r}: choose one of {', '.join(PRIORS)}")
        classes = np.unique(labels)
        if classes.size < 2:
            raise DataError(f"y has one class {classes.tolist()}: need at least two to train")
        n, f = x.shape
        k = classes.size
        self.mean_ = x.mean(axis=0)
        self.scale_ = np.where(x.std(axis=0) > 1e-9, x.std(axis=0), 1.0)
        z = (x - self.mean_) / self.scale_
        onehot = (labels[:, None] == classes[None, :]).astype(np.float64)
        l2 = 1.0 / (self.C * n)

        def objective(w: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
            weights, bias = w[: k * f].reshape(k, f), w[k * f :]
            logits = z @ weights.T + bias
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            loss = -np.sum(onehot * np.log(p + 1e-300)) / n + 0.5 * l2 * np.sum(weights**2)
            g = (p - onehot) / n
            grad = np.concatenate([(g.T @ z + l2 * weights).ravel(), g.sum(axis=0)])
            return float(loss), grad

        if self.prior in ("evidence", "strict"):
            names = list(self.feature_names or _default_names(f))
            if len(names) != f:
                raise DataError(
                    f"{f} feature columns but {len(names)} feature names: pass feature_names= "
                    "matching X, or prior='none' for features without defect families"
                )
            bounds = weight_bounds(classes.tolist(), names, self.prior) + [(None, None)] * k
        else:
            bounds = [(None, None)] * (k * f + k)
        res = minimize(
            objective,
            np.zeros(k * f + k),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": self.max_iter},
        )
        self.classes_ = classes
        self.coef_ = res.x[: k * f].reshape(k, f)
        self.intercept_ = res.x[k * f :]
        self.n_features_in_ = f
        self.n_iter_ = int(res.nit)
        return self

    def _check(self) -> None:
        if not hasattr(self, "coef_"):
            raise ModuleError("EnvelopeDiagnoser is not fitted: call fit(X, y) first")

    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        """Class probabilities [n, n_classes] in `classes_` order."""
        self._check()
        z = ((np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_) @ self.coef_.T
        z += self.intercept_
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return np.asarray(e / e.sum(axis=1, keepdims=True))

    def predict(self, X: ArrayLike) -> NDArray[np.str_]:
        """Class names [n]."""
        proba = self.predict_proba(X)
        return np.asarray(self.classes_[np.argmax(proba, axis=1)])

    def score(self, X: ArrayLike, y: Sequence[str]) -> float:
        """Accuracy."""
        return float(np.mean(self.predict(X) == np.asarray(y)))

    def to_onnx(self) -> bytes:
        """ONNX graph features [batch, F] float32 -> probabilities [batch, n_classes] float32."""
        import onnx
        from onnx import TensorProto, helper, numpy_helper

        self._check()
        f32 = np.float32
        inits = [
            numpy_helper.from_array(self.mean_.astype(f32), "mean"),
            numpy_helper.from_array(self.scale_.astype(f32), "scale"),
            numpy_helper.from_array(self.coef_.T.astype(f32), "weight"),
            numpy_helper.from_array(self.intercept_.astype(f32), "bias"),
        ]
        nodes = [
            helper.make_node("Sub", [INPUT_NAME, "mean"], ["centred"]),
            helper.make_node("Div", ["centred", "scale"], ["standardised"]),
            helper.make_node("Gemm", ["standardised", "weight", "bias"], ["logits"]),
            helper.make_node("Softmax", ["logits"], [OUTPUT_NAME], axis=1),
        ]
        graph = helper.make_graph(
            nodes,
            "envelope_diagnoser",
            [
                helper.make_tensor_value_info(
                    INPUT_NAME, TensorProto.FLOAT, ["batch", self.n_features_in_]
                )
            ],
            [
                helper.make_tensor_value_info(
                    OUTPUT_NAME, TensorProto.FLOAT, ["batch", len(self.classes_)]
                )
            ],
            inits,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        onnx.checker.check_model(model)
        return bytes(model.SerializeToString())
