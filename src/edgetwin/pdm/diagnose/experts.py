"""The default diagnoser: a physics expert and a generic expert, the generic one gated by domain.

Two experts, each a logistic regression:

- the *physics* expert (`EnvelopeDiagnoser`, sign-constrained prior) on the envelope features
  (defect-frequency energy, time statistics);
- a *generic* expert (plain logistic regression on the time statistics and the log spectral
  band-energy shares, no bearing physics).

`health="gated"` (the default): the generic expert is trained on every class and its vote counts
only inside its domain,

    P(c) = softmax_c(log P_phys(c) + g(x) log P_gen(c))

a product of the two experts, each counted once (no weight to tune). Outside the domain
(g(x) = 0) the physics expert decides alone, health included.

`health="physics"` (the previous default): the healthy/faulty decision is the physics model's
alone everywhere; the generic expert, trained on the fault windows only, re-ranks fault types:

    P(normal)   = P_phys(normal)
    P(fault c)  = (1 - P_phys(normal)) * softmax_c(log P_phys(c) + g(x) log P_gen(c))

g(x) is the *domain gate* (1 or 0): the band shares recognise the recordings (bearings) they were
trained on, so the generic expert speaks only for windows close to one of them: the squared
Mahalanobis distance to the nearest training recording's mean (covariance pooled within
recordings) must not exceed the largest such distance of a training window from the recordings
of the *other* operating conditions (fit's `groups`, e.g. motor load: leave one condition out,
the maximum over all; no free parameter). A known bearing at another load stays inside; an
unseen bearing is often outside, and a different machine (the simulated pumps) far outside:
they get the physics model alone. That is why the gated generic expert may also vote on health:
the rig's spectral shape of its one healthy bearing counts only for windows that look like that
rig's recordings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from edgetwin.core.errors import ConfigError, DataError, ModuleError
from edgetwin.pdm.diagnose.model import INPUT_NAME, OUTPUT_NAME, EnvelopeDiagnoser, _default_names
from edgetwin.pdm.features.envelope import SHARE_PREFIX
from edgetwin.pdm.features.timedomain import TIME_FEATURES

NORMAL = "normal"
_GENERIC_TIME = tuple(f"time_{n}" for n in TIME_FEATURES)
_MASK = -1e9  # logit that removes the healthy class from the fault-type softmax


Domain = tuple[NDArray[np.float64], NDArray[np.float64]]  # whitening matrix, whitened means


def _domain(g: NDArray[np.float64], clusters: NDArray[Any]) -> Domain:
    """Whitening matrix W (pooled within-cluster covariance) and the whitened cluster means:
    |x @ W - m_r|^2 is the squared Mahalanobis distance of x to cluster r. A tiny ridge keeps
    collinear band shares invertible."""
    ids, index = np.unique(clusters, return_inverse=True)
    means = np.stack([g[index == k].mean(axis=0) for k in range(ids.size)])
    resid = g - means[index]
    cov = resid.T @ resid / max(g.shape[0] - ids.size, 1)
    cov += 1e-6 * (np.trace(cov) / cov.shape[0] + 1e-12) * np.eye(cov.shape[0])
    whiten = np.linalg.inv(np.linalg.cholesky(cov)).T
    return whiten, means @ whiten


def _nearest2(g: NDArray[np.float64], domain: Domain) -> NDArray[np.float64]:
    """Squared distance of each row of g to the nearest cluster of `domain`."""
    z = g @ domain[0]
    d = np.sum(z * z, axis=1)[:, None] - 2.0 * z @ domain[1].T + np.sum(domain[1] ** 2, axis=1)
    return np.asarray(np.min(d, axis=1))


def _domain_limit(
    g: NDArray[np.float64],
    clusters: NDArray[Any],
    groups: NDArray[Any],
    labels: NDArray[Any] | None = None,
) -> float:
    """Largest nearest-cluster distance of a row from the clusters of the other groups.

    With `labels`, only rows of classes seen under two or more groups are held out (a class
    recorded under one condition only, such as CWRU's one normal recording, cannot be left out
    and stays in the reference clusters).
    """
    movable = np.ones(g.shape[0], dtype=bool)
    if labels is not None:
        seen = {c: np.unique(groups[labels == c]).size for c in np.unique(labels)}
        movable = np.array([seen[c] >= 2 for c in labels], dtype=bool)
    worst = 0.0
    for value in np.unique(groups):
        out = (groups == value) & movable
        ref = ~out
        if not np.any(out) or np.sum(ref) - np.unique(clusters[ref]).size <= g.shape[1]:
            continue  # nothing to hold out, or too few rows for a covariance
        worst = max(worst, float(np.max(_nearest2(g[out], _domain(g[ref], clusters[ref])))))
    return worst or float(np.max(_nearest2(g, _domain(g, clusters))))


HEALTH: tuple[str, ...] = ("gated", "physics")


def _gated_product(
    p: NDArray[np.float64], gen: NDArray[np.float64], gate: NDArray[np.float64]
) -> NDArray[np.float64]:
    """softmax(log p + gate * log gen) over the columns: the two experts' product where the
    gate is 1, p alone where it is 0 (columns of p and gen in the same class order)."""
    logp = np.log(p + 1e-30) + gate * np.log(gen + 1e-30)
    e = np.exp(logp - logp.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True))


class DiagnosisExperts:
    """Product of a physics and a domain-gated generic expert (see the module docstring).

    C, max_iter: as `EnvelopeDiagnoser` (both experts); prior: the physics expert's prior;
    health: "gated" (default; the gated generic expert votes on every class) or "physics"
    (health from the physics expert alone, the generic expert re-ranks fault types only);
    feature_names: column names (default: `envelope_features` names with as many columns as X).
    Columns named `share_*` go to the generic expert only (with the time statistics); the rest to
    the physics expert. Learned: `classes_`, `physics_`, `generic_` (None without band shares),
    `physics_cols_`, `generic_cols_`, `n_features_in_`, and the domain gate: `domain_whiten_`,
    `domain_means_` (whitened recording means; distance^2 = |x @ whiten - mean|^2) and
    `domain_limit_`.
    """

    def __init__(
        self,
        C: float = 1.0,
        max_iter: int = 3000,
        prior: str = "strict",
        feature_names: Sequence[str] | None = None,
        health: str = "gated",
    ) -> None:
        self.C = C
        self.max_iter = max_iter
        self.prior = prior
        self.feature_names = feature_names
        self.health = health

    def fit(
        self,
        X: ArrayLike,
        y: Sequence[str],
        groups: ArrayLike | None = None,
        recordings: ArrayLike | None = None,
    ) -> DiagnosisExperts:
        """Fit both experts on features X [n, F] and string labels y.

        groups: operating condition of each row (e.g. motor load in hp); recordings: the
        recording (one bearing at one condition) each row comes from. They define the domain
        gate: its clusters are the recordings (default: one per label and group) and its limit
        comes from leaving one group out (without groups: the largest in-sample distance).
        """
        x = np.asarray(X, dtype=np.float64)
        labels = np.asarray(y).astype(str)
        if self.health not in HEALTH:
            raise ConfigError(f"health={self.health!r}: choose one of {', '.join(HEALTH)}")
        if x.ndim != 2:
            raise DataError(f"X shape {x.shape}: need [n, F] features")
        names = list(self.feature_names or _default_names(x.shape[1]))
        if len(names) != x.shape[1]:
            raise DataError(
                f"{x.shape[1]} feature columns but {len(names)} feature names: pass "
                "feature_names= matching X"
            )
        shares = [j for j, n in enumerate(names) if n.startswith(SHARE_PREFIX)]
        self.physics_cols_ = np.array([j for j in range(len(names)) if j not in shares])
        self.physics_ = EnvelopeDiagnoser(
            self.C, self.max_iter, self.prior, [names[j] for j in self.physics_cols_]
        ).fit(x[:, self.physics_cols_], labels.tolist())
        self.classes_ = self.physics_.classes_
        self.n_features_in_ = x.shape[1]
        self.generic_: EnvelopeDiagnoser | None = None
        self.generic_cols_ = np.array(
            [names.index(n) for n in _GENERIC_TIME if n in names] + shares, dtype=np.int64
        )
        gated = self.health == "gated"
        rows = np.ones(labels.size, dtype=bool) if gated else labels != NORMAL
        if shares and NORMAL in self.classes_ and np.unique(labels[labels != NORMAL]).size >= 2:
            g = x[rows][:, self.generic_cols_]
            self.generic_ = EnvelopeDiagnoser(self.C, self.max_iter, prior="none").fit(
                g, labels[rows].tolist()
            )
            cond = np.zeros(labels.size) if groups is None else np.asarray(groups)
            if recordings is None:
                clusters = np.char.add(labels, np.asarray(cond).astype(str))
            else:
                clusters = np.asarray(recordings)
            clusters, cond = clusters[rows], cond[rows]
            self.domain_whiten_, self.domain_means_ = _domain(g, clusters)
            self.domain_limit_ = _domain_limit(g, clusters, cond, labels[rows] if gated else None)
        return self

    def in_domain(self, X: ArrayLike) -> NDArray[np.bool_]:
        """Whether the generic expert speaks for each row of X (the domain gate g(x))."""
        self._check()
        if self.generic_ is None:
            return np.zeros(np.asarray(X).shape[0], dtype=bool)
        g = np.asarray(X, dtype=np.float64)[:, self.generic_cols_]
        return np.asarray(
            _nearest2(g, (self.domain_whiten_, self.domain_means_)) <= self.domain_limit_
        )

    def _check(self) -> None:
        if not hasattr(self, "physics_"):
            raise ModuleError("DiagnosisExperts is not fitted: call fit(X, y) first")

    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        """Class probabilities [n, n_classes] in `classes_` order."""
        self._check()
        x = np.asarray(X, dtype=np.float64)
        p = self.physics_.predict_proba(x[:, self.physics_cols_])
        if self.generic_ is None:
            return p
        classes = self.classes_.tolist()
        gate = self.in_domain(x).astype(np.float64)[:, None]
        gen = self.generic_.predict_proba(x[:, self.generic_cols_])
        if self.health == "gated":
            order = [self.generic_.classes_.tolist().index(c) for c in classes]
            return _gated_product(p, gen[:, order], gate)
        normal = classes.index(NORMAL)
        faults = [classes.index(c) for c in self.generic_.classes_]
        q = _gated_product(p[:, faults], gen, gate)
        out = np.zeros_like(p)
        out[:, normal] = p[:, normal]
        out[:, faults] = (1.0 - p[:, normal])[:, None] * q
        return out

    def predict(self, X: ArrayLike) -> NDArray[np.str_]:
        """Class names [n]."""
        proba = self.predict_proba(X)
        return np.asarray(self.classes_[np.argmax(proba, axis=1)])

    def score(self, X: ArrayLike, y: Sequence[str]) -> float:
        """Accuracy."""
        return float(np.mean(self.predict(X) == np.asarray(y)))

    def _affine(
        self, expert: EnvelopeDiagnoser, cols: NDArray[np.int64], n_out: int, rows: list[int]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Expert logits as one affine map of the raw feature vector: weight [F, n_out], bias."""
        w = np.zeros((self.n_features_in_, n_out))
        b = np.full(n_out, _MASK)
        coef = expert.coef_ / expert.scale_[None, :]
        w[np.ix_(cols, np.asarray(rows, dtype=np.int64))] = coef.T
        b[rows] = expert.intercept_ - coef @ expert.mean_
        return w, b

    def to_onnx(self) -> bytes:
        """ONNX graph features [batch, F] float32 -> probabilities [batch, n_classes] float32."""
        from onnx import TensorProto, helper, numpy_helper

        self._check()
        if self.generic_ is None:
            return self._physics_only_onnx()
        classes = self.classes_.tolist()
        k = len(classes)
        normal = classes.index(NORMAL)
        gated = self.health == "gated"
        faults = [classes.index(c) for c in self.generic_.classes_]
        wp, bp = self._affine(self.physics_, self.physics_cols_, k, list(range(k)))
        wg, bg = self._affine(self.generic_, self.generic_cols_, k, faults)
        if not gated:
            bg[normal] = 0.0
        mask = np.zeros(k)
        if not gated:
            mask[normal] = _MASK  # the fault-type softmax ignores the healthy class
        e_normal = np.zeros((k, 1))
        e_normal[normal] = 1.0
        onehot = e_normal.T
        whiten = np.zeros((self.n_features_in_, self.domain_whiten_.shape[1]))
        whiten[self.generic_cols_] = self.domain_whiten_
        means = self.domain_means_
        f32 = np.float32
        consts = {
            "whiten": whiten,
            "ones_z": np.ones((whiten.shape[1], 1)),
            "means": means,
            "limit": np.array([self.domain_limit_]),
            "wp": wp,
            "bp": bp,
            "wg": wg,
            "bg": bg,
            "mask": mask,
            "e_normal": e_normal,
            "onehot_normal": onehot,
            "one": np.ones(1),
        }
        inits = [numpy_helper.from_array(v.astype(f32), n) for n, v in consts.items()]
        inits.append(numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"))
        mk = helper.make_node
        nodes = [
            mk("Gemm", [INPUT_NAME, "wp", "bp"], ["phys_logits"]),
            mk("LogSoftmax", ["phys_logits"], ["phys_logp"], axis=1),
            mk("Softmax", ["phys_logits"], ["phys_p"], axis=1),
            mk("MatMul", ["phys_p", "e_normal"], ["p_normal"]),  # [batch, 1]
            mk("Gemm", [INPUT_NAME, "wg", "bg"], ["gen_logits"]),
            mk("LogSoftmax", ["gen_logits"], ["gen_logp_all"], axis=1),
            # domain gate: squared Mahalanobis distance to the nearest training recording
            mk("MatMul", [INPUT_NAME, "whiten"], ["z"]),
            mk("Unsqueeze", ["z", "axis1"], ["z3"]),  # [batch, 1, dims]
            mk("Sub", ["z3", "means"], ["diff"]),  # [batch, recordings, dims]
            mk("Mul", ["diff", "diff"], ["diff2"]),
            mk("MatMul", ["diff2", "ones_z"], ["distances2"]),  # [batch, recordings, 1]
            mk("ReduceMin", ["distances2"], ["distance2"], axes=[1], keepdims=0),  # [batch, 1]
            mk("Greater", ["distance2", "limit"], ["outside"]),
            mk("Not", ["outside"], ["inside"]),
            mk("Cast", ["inside"], ["gate"], to=TensorProto.FLOAT),
            mk("Mul", ["gen_logp_all", "gate"], ["gen_logp"]),
            mk("Add", ["phys_logp", "gen_logp"], ["joint"]),
        ]
        if gated:  # one softmax over every class
            nodes = [n for n in nodes if n.output[0] not in ("phys_p", "p_normal")]
            nodes.append(mk("Softmax", ["joint"], [OUTPUT_NAME], axis=1))
            keep = {"whiten", "ones_z", "means", "limit", "wp", "bp", "wg", "bg", "axis1"}
            return self._model(nodes, [i for i in inits if i.name in keep], k)
        nodes += [
            mk("Add", ["joint", "mask"], ["joint_faults"]),
            mk("Softmax", ["joint_faults"], ["q"], axis=1),
            mk("Sub", ["one", "p_normal"], ["p_faulty"]),
            mk("Mul", ["q", "p_faulty"], ["p_faults"]),
            mk("Mul", ["p_normal", "onehot_normal"], ["p_healthy"]),
            mk("Add", ["p_faults", "p_healthy"], [OUTPUT_NAME]),
        ]
        return self._model(nodes, inits, k)

    def _physics_only_onnx(self) -> bytes:
        from onnx import helper, numpy_helper

        k = len(self.classes_)
        wp, bp = self._affine(self.physics_, self.physics_cols_, k, list(range(k)))
        inits = [
            numpy_helper.from_array(wp.astype(np.float32), "wp"),
            numpy_helper.from_array(bp.astype(np.float32), "bp"),
        ]
        nodes = [
            helper.make_node("Gemm", [INPUT_NAME, "wp", "bp"], ["logits"]),
            helper.make_node("Softmax", ["logits"], [OUTPUT_NAME], axis=1),
        ]
        return self._model(nodes, inits, k)

    def _model(self, nodes: list[Any], inits: list[Any], k: int) -> bytes:
        import onnx
        from onnx import TensorProto, helper

        graph = helper.make_graph(
            nodes,
            "diagnosis_experts",
            [
                helper.make_tensor_value_info(
                    INPUT_NAME, TensorProto.FLOAT, ["batch", self.n_features_in_]
                )
            ],
            [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", k])],
            inits,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        onnx.checker.check_model(model)
        return bytes(model.SerializeToString())
