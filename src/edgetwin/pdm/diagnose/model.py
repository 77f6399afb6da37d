"""A small, exportable classifier on physics-informed envelope features.

Standardisation plus multinomial logistic regression: few parameters, calibrated probabilities,
and a four-node ONNX graph (Sub, Div, Gemm, Softmax) that runs in microseconds. The features do
the physics; the classifier only weighs the evidence at each defect frequency.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from edgetwin.core.errors import DataError, ModuleError

INPUT_NAME = "features"
OUTPUT_NAME = "probabilities"


class EnvelopeDiagnoser:
    """Multinomial logistic regression on standardised features (scikit-learn contract).

    C: inverse L2 regularisation strength; max_iter: solver iterations.
    Learned: `classes_`, `mean_`, `scale_`, `coef_` [n_classes, n_features], `intercept_`.
    """

    def __init__(self, C: float = 1.0, max_iter: int = 2000) -> None:
        self.C = C
        self.max_iter = max_iter

    def fit(self, X: ArrayLike, y: Sequence[str]) -> EnvelopeDiagnoser:
        """Fit on features X [n, F] and string labels y."""
        from sklearn.linear_model import LogisticRegression

        x = np.asarray(X, dtype=np.float64)
        labels = np.asarray(y)
        if x.ndim != 2 or x.shape[0] != labels.shape[0] or x.shape[0] == 0:
            raise DataError(
                f"X shape {x.shape} and y length {labels.shape[0]}: need [n, F] features and n labels"
            )
        classes = np.unique(labels)
        if classes.size < 2:
            raise DataError(f"y has one class {classes.tolist()}: need at least two to train")
        self.mean_ = x.mean(axis=0)
        self.scale_ = np.where(x.std(axis=0) > 1e-9, x.std(axis=0), 1.0)
        clf = LogisticRegression(C=self.C, max_iter=self.max_iter)
        clf.fit((x - self.mean_) / self.scale_, labels)
        self.classes_ = clf.classes_.astype(str)
        coef, intercept = clf.coef_, clf.intercept_
        if coef.shape[0] == 1:  # binary: sklearn keeps one row; expand to two softmax logits
            coef = np.vstack([-coef / 2, coef / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        self.coef_ = coef
        self.intercept_ = intercept
        self.n_features_in_ = x.shape[1]
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
