"""Accuracy under ambient shop-floor conditions, at graded severities.

Each perturbation stands for a physical cause and has six levels (0 = clean, 5 = severe) whose
parameter values and units are printed with the table, so "severity 3" always means the same
thing. Time series are `(N, L)` or `(N, C, L)` with time on the last axis; images are `NHWC`,
`NCHW` or `NHW`, uint8 (0-255) or float (0-1). Every draw is seeded per (perturbation, level),
so the table does not depend on which other perturbations were run.

| time series | stands for | parameter |
|---|---|---|
| noise | sensor/EMI noise | noise std as a fraction of the window's channel std |
| offset | temperature drift of the zero point | offset as a fraction of channel std |
| gain | calibration/gain error | relative gain error |
| drop | dropped samples (buffer overruns) | fraction of samples lost |
| duplicate | duplicated samples (clock slips) | fraction of samples repeated |
| jitter | timestamp jitter | std of the sampling instant, in sample periods |
| quantize | coarse ADC | bits over the window's range |

| image | stands for | parameter |
|---|---|---|
| brightness | lighting level | added brightness, fraction of full scale |
| contrast | flat lighting | contrast reduction, fraction |
| defocus | focus | Gaussian blur sigma, px |
| motion | vibration | horizontal motion-blur length, px |
| noise | sensor noise | noise std, fraction of full scale |
| jpeg | compression | JPEG quality |
| occlusion | dust, smudges | fraction of the image covered |
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from edgetwin.core.errors import DataError

PerturbFn = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]
LEVELS = (0, 1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Perturbation:
    """A named perturbation: `apply(x, value, rng)` with `values[level]` for levels 0..5."""

    name: str
    domain: str  # "timeseries" | "image"
    unit: str
    values: tuple[float, ...]
    apply: PerturbFn

    def __call__(self, x: np.ndarray, level: int, seed: int = 0) -> np.ndarray:
        if not 0 <= level < len(self.values):
            raise DataError(f"severity {level}: use 0..{len(self.values) - 1}")
        rng = np.random.default_rng([seed, zlib.crc32(self.name.encode()), level])
        if level == 0:
            return np.array(x, copy=True)
        return self.apply(x, self.values[level], rng)


# -- time series --------------------------------------------------------------------------


def _as3d(x: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    arr = np.asarray(x)
    if arr.ndim == 2:
        return arr[:, None, :].astype(np.float64), arr.shape
    if arr.ndim == 3:
        return arr.astype(np.float64), arr.shape
    raise DataError(f"time series shape {arr.shape}: expected (N, L) or (N, C, L), time last")


def _back(y: np.ndarray, shape: tuple[int, ...], like: np.ndarray) -> np.ndarray:
    return y.reshape(shape).astype(np.asarray(like).dtype, copy=False)


def _ts_noise(x: np.ndarray, v: float, rng: np.random.Generator) -> np.ndarray:
    a, shape = _as3d(x)
    std = a.std(axis=-1, keepdims=True)
    return _back(a + rng.standard_normal(a.shape) * v * std, shape, x)


def _ts_offset(x: np.ndarray, v: float, rng: np.random.Generator) -> np.ndarray:
    a, shape = _as3d(x)
    std = a.std(axis=-1, keepdims=True)
    sign = rng.choice([-1.0, 1.0], size=std.shape)
    return _back(a + sign * v * std, shape, x)


def _ts_gain(x: np.ndarray, v: float, rng: np.random.Generator) -> np.ndarray:
    a, shape = _as3d(x)
    mean = a.mean(axis=-1, keepdims=True)
    sign = rng.choice([-1.0, 1.0], size=mean.shape)
    return _back(mean + (a - mean) * (1.0 + sign * v), shape, x)


def _ts_drop(x: np.ndarray, v: float, rng: np.random.Generator) -> np.ndarray:
    # Lost samples shorten the record; the consumer assumes a fixed rate, so the remainder is
    # time-compressed and the end is held at the last value.
    a, shape = _as3d(x)
    n, c, length = a.shape
    out = np.empty_like(a)
    k = max(1, round(v * length))
    for i in range(n):
        keep = np.sort(rng.choice(length, size=length - k, replace=False))
        out[i, :, : length - k] = a[i, :, keep].T
        out[i, :, length - k :] = a[i, :, keep[-1]][:, None]
    return _back(out, shape, x)


def _ts_duplicate(x: np.ndarray, v: float, rng: np.random.Generator) -> np.ndarray:
    a, shape = _as3d(x)
    n, c, length = a.shape
    k = max(1, round(v * length))
    out = np.empty_like(a)
    for i in range(n):
        idx = np.sort(
            np.concatenate([np.arange(length), rng.choice(length, size=k, replace=False)])
        )
        out[i] = a[i][:, idx[:length]]
    return _back(out, shape, x)


def _ts_jitter(x: np.ndarray, v: float, rng: np.random.Generator) -> np.ndarray:
    a, shape = _as3d(x)
    n, c, length = a.shape
    t = np.arange(length, dtype=np.float64)
    out = np.empty_like(a)
    for i in range(n):
        ti = np.clip(t + rng.standard_normal(length) * v, 0, length - 1)
        for j in range(c):
            out[i, j] = np.interp(ti, t, a[i, j])
    return _back(out, shape, x)


def _ts_quantize(x: np.ndarray, v: float, rng: np.random.Generator) -> np.ndarray:
    a, shape = _as3d(x)
    lo = a.min(axis=-1, keepdims=True)
    hi = a.max(axis=-1, keepdims=True)
    step = np.maximum(hi - lo, 1e-12) / (2.0**v - 1.0)
    return _back(lo + np.round((a - lo) / step) * step, shape, x)


TIMESERIES: dict[str, Perturbation] = {
    p.name: p
    for p in (
        Perturbation("noise", "timeseries", "std/σ", (0, 0.05, 0.1, 0.2, 0.5, 1.0), _ts_noise),
        Perturbation("offset", "timeseries", "×σ", (0, 0.1, 0.25, 0.5, 1.0, 2.0), _ts_offset),
        Perturbation("gain", "timeseries", "rel. error", (0, 0.02, 0.05, 0.1, 0.2, 0.5), _ts_gain),
        Perturbation("drop", "timeseries", "fraction", (0, 0.005, 0.01, 0.02, 0.05, 0.1), _ts_drop),
        Perturbation(
            "duplicate", "timeseries", "fraction", (0, 0.005, 0.01, 0.02, 0.05, 0.1), _ts_duplicate
        ),
        Perturbation("jitter", "timeseries", "periods", (0, 0.05, 0.1, 0.2, 0.5, 1.0), _ts_jitter),
        Perturbation("quantize", "timeseries", "bits", (0, 12, 10, 8, 6, 4), _ts_quantize),
    )
}

# -- images -------------------------------------------------------------------------------


def _to_nhwc255(
    x: np.ndarray, layout: str
) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    arr = np.asarray(x)
    is_uint8 = arr.dtype == np.uint8
    scale = 1.0 if is_uint8 else 255.0
    f = arr.astype(np.float32) * scale
    if layout == "NCHW":
        f = f.transpose(0, 2, 3, 1)
    elif layout == "NHW":
        f = f[..., None]
    elif layout != "NHWC":
        raise DataError(f"image layout {layout!r}: use NHWC, NCHW or NHW")

    def back(y: np.ndarray) -> np.ndarray:
        y = np.clip(y, 0, 255)
        if layout == "NCHW":
            y = y.transpose(0, 3, 1, 2)
        elif layout == "NHW":
            y = y[..., 0]
        if is_uint8:
            return np.round(y).astype(np.uint8)
        return (y / scale).astype(arr.dtype)

    return f, back


def image_perturbations(layout: str = "NHWC") -> dict[str, Perturbation]:
    """Image perturbations for arrays in `layout`."""
    import cv2

    def wrap(fn: Callable[[np.ndarray, float, np.random.Generator], np.ndarray]) -> PerturbFn:
        def run(x: np.ndarray, v: float, rng: np.random.Generator) -> np.ndarray:
            f, back = _to_nhwc255(x, layout)
            return back(fn(f, v, rng))

        return run

    def brightness(f: np.ndarray, v: float, rng: np.random.Generator) -> np.ndarray:
        return f + v * 255.0

    def contrast(f: np.ndarray, v: float, rng: np.random.Generator) -> np.ndarray:
        mean = f.mean(axis=(1, 2, 3), keepdims=True)
        return mean + (f - mean) * (1.0 - v)

    def defocus(f: np.ndarray, v: float, rng: np.random.Generator) -> np.ndarray:
        out = np.stack([cv2.GaussianBlur(img, (0, 0), sigmaX=v) for img in f])
        return out.reshape(f.shape)

    def motion(f: np.ndarray, v: float, rng: np.random.Generator) -> np.ndarray:
        k = np.full((1, int(v)), 1.0 / int(v), dtype=np.float32)
        out = np.stack([cv2.filter2D(img, -1, k, borderType=cv2.BORDER_REFLECT) for img in f])
        return out.reshape(f.shape)

    def noise(f: np.ndarray, v: float, rng: np.random.Generator) -> np.ndarray:
        return f + rng.standard_normal(f.shape).astype(np.float32) * v * 255.0

    def jpeg(f: np.ndarray, v: float, rng: np.random.Generator) -> np.ndarray:
        out = []
        for img in np.clip(np.round(f), 0, 255).astype(np.uint8):
            ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(v)])
            dec = cv2.imdecode(enc, cv2.IMREAD_UNCHANGED) if ok else None
            if dec is None:
                raise DataError(f"JPEG round trip failed for an image of shape {img.shape}")
            out.append(dec.reshape(img.shape))
        return np.stack(out).astype(np.float32)

    def occlusion(f: np.ndarray, v: float, rng: np.random.Generator) -> np.ndarray:
        out = f.copy()
        n, h, w, _ = f.shape
        side = max(2, round(min(h, w) * 0.08))
        patches = max(1, round(v * h * w / side**2))
        for i in range(n):
            ys = rng.integers(0, h - side + 1, size=patches)
            xs = rng.integers(0, w - side + 1, size=patches)
            gray = rng.uniform(40, 120, size=patches)
            for y0, x0, g in zip(ys, xs, gray, strict=True):
                out[i, y0 : y0 + side, x0 : x0 + side, :] = g
        return out

    specs = (
        ("brightness", "fraction", (0, 0.05, 0.1, 0.2, 0.3, 0.5), brightness),
        ("contrast", "reduction", (0, 0.1, 0.2, 0.4, 0.6, 0.8), contrast),
        ("defocus", "sigma px", (0, 0.5, 1.0, 2.0, 3.0, 5.0), defocus),
        ("motion", "px", (0, 3, 5, 9, 15, 21), motion),
        ("noise", "std/full", (0, 0.01, 0.02, 0.05, 0.1, 0.2), noise),
        ("jpeg", "quality", (0, 90, 70, 50, 30, 10), jpeg),
        ("occlusion", "area", (0, 0.01, 0.02, 0.05, 0.1, 0.2), occlusion),
    )
    return {
        name: Perturbation(name, "image", unit, vals, wrap(fn)) for name, unit, vals, fn in specs
    }


# -- metrics and the table ---------------------------------------------------------------


def _metric(name: str) -> Callable[[np.ndarray, np.ndarray], float]:
    from sklearn import metrics as skm

    table: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
        "accuracy": lambda y, p: float(skm.accuracy_score(y, p)),
        "f1": lambda y, p: float(skm.f1_score(y, p, average="macro")),
        "auroc": lambda y, p: float(skm.roc_auc_score(y, p)),
        "mae": lambda y, p: float(skm.mean_absolute_error(y, p)),
        "rmse": lambda y, p: float(np.sqrt(skm.mean_squared_error(y, p))),
    }
    if name not in table:
        raise DataError(f"metric {name!r}: use one of {sorted(table)} or pass a callable")
    return table[name]


@dataclass(frozen=True)
class RobustnessRow:
    perturbation: str
    severity: int
    value: float
    unit: str
    metric: float
    delta: float  # metric minus the clean metric


@dataclass
class RobustnessTable:
    """Metric versus severity for each perturbation, plus the clean reference."""

    metric_name: str
    clean: float
    rows: list[RobustnessRow]
    n: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form stored as evidence in the manifest."""
        return {
            "metric": self.metric_name,
            "clean": self.clean,
            "n": self.n,
            "seed": self.seed,
            "rows": [asdict(r) for r in self.rows],
        }

    def matrix(self) -> dict[str, list[float]]:
        """perturbation -> metric at severities in order."""
        out: dict[str, list[float]] = {}
        for r in self.rows:
            out.setdefault(r.perturbation, []).append(r.metric)
        return out

    def rich(self) -> Any:
        """A rich Table: one row per perturbation, one column per severity."""
        from rich.table import Table

        levels = sorted({r.severity for r in self.rows})
        table = Table(
            title=f"{self.metric_name} under ambient perturbations (clean {self.clean:.4f}, n={self.n})"
        )
        table.add_column("perturbation")
        table.add_column("unit")
        for lvl in levels:
            table.add_column(f"sev {lvl}", justify="right")
        by_name: dict[str, dict[int, RobustnessRow]] = {}
        for r in self.rows:
            by_name.setdefault(r.perturbation, {})[r.severity] = r
        for name, cells in by_name.items():
            unit = next(iter(cells.values())).unit
            table.add_row(
                name,
                unit,
                *[
                    f"{cells[lv].metric:.4f}\n({cells[lv].value:g})" if lv in cells else ""
                    for lv in levels
                ],
            )
        return table

    def markdown(self) -> str:
        levels = sorted({r.severity for r in self.rows})
        lines = [
            "| perturbation | unit | " + " | ".join(f"sev {lv}" for lv in levels) + " |",
            "|---|---|" + "---:|" * len(levels),
        ]
        by_name: dict[str, dict[int, RobustnessRow]] = {}
        for r in self.rows:
            by_name.setdefault(r.perturbation, {})[r.severity] = r
        for name, cells in by_name.items():
            unit = next(iter(cells.values())).unit
            vals = [
                f"{cells[lv].metric:.3f} ({cells[lv].value:g})" if lv in cells else ""
                for lv in levels
            ]
            lines.append(f"| {name} | {unit} | " + " | ".join(vals) + " |")
        return "\n".join(lines)


def resolve_perturbations(
    perturbations: str | Sequence[str | Perturbation], layout: str = "NHWC"
) -> list[Perturbation]:
    """`"timeseries"`, `"image"`, or a list of names/objects."""
    if isinstance(perturbations, str):
        if perturbations == "timeseries":
            return list(TIMESERIES.values())
        if perturbations == "image":
            return list(image_perturbations(layout).values())
        perturbations = [perturbations]
    images: dict[str, Perturbation] | None = None
    out: list[Perturbation] = []
    for p in perturbations:
        if isinstance(p, Perturbation):
            out.append(p)
        elif p in TIMESERIES:
            out.append(TIMESERIES[p])
        else:
            images = images or image_perturbations(layout)
            if p not in images:
                raise DataError(
                    f"perturbation {p!r}: use one of {sorted(TIMESERIES)} (time series) "
                    f"or {sorted(images)} (images)"
                )
            out.append(images[p])
    return out


def robustness_table(
    predict_fn: Callable[..., np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    metric: str | Callable[[np.ndarray, np.ndarray], float] = "accuracy",
    perturbations: str | Sequence[str | Perturbation] = "timeseries",
    severities: Sequence[int] = LEVELS,
    *,
    seed: int = 0,
    layout: str = "NHWC",
    batch_size: int = 256,
    extra: Mapping[str, np.ndarray] | None = None,
) -> RobustnessTable:
    """Evaluate `metric(y, predict_fn(perturb(X)))` for each perturbation and severity.

    `extra` holds per-sample inputs the perturbations must leave alone, because they stand for
    a different, clean source: the measured shaft speed beside a vibration window, the commanded
    operating settings beside sensor histories. They are sliced with `X` and passed to
    `predict_fn(x_batch, **extra_batch)`.
    """
    metric_fn = _metric(metric) if isinstance(metric, str) else metric
    metric_name = metric if isinstance(metric, str) else getattr(metric, "__name__", "metric")
    y_arr = np.asarray(y)
    if len(X) != len(y_arr):
        raise DataError(f"X has {len(X)} samples but y has {len(y_arr)}; pass matching arrays")
    side = {k: np.asarray(v) for k, v in (extra or {}).items()}
    for k, v in side.items():
        if len(v) != len(y_arr):
            raise DataError(
                f"extra[{k!r}] has {len(v)} samples, X has {len(X)}; pass matching arrays"
            )

    def predict(x: np.ndarray) -> np.ndarray:
        parts = [
            np.asarray(
                predict_fn(
                    x[i : i + batch_size], **{k: v[i : i + batch_size] for k, v in side.items()}
                )
            )
            for i in range(0, len(x), batch_size)
        ]
        return np.concatenate(parts)

    clean = metric_fn(y_arr, predict(np.asarray(X)))
    rows: list[RobustnessRow] = []
    for p in resolve_perturbations(perturbations, layout):
        for level in severities:
            score = clean if level == 0 else metric_fn(y_arr, predict(p(X, level, seed)))
            rows.append(
                RobustnessRow(
                    p.name,
                    int(level),
                    float(p.values[level]),
                    p.unit,
                    float(score),
                    float(score - clean),
                )
            )
    return RobustnessTable(
        metric_name=str(metric_name), clean=float(clean), rows=rows, n=len(y_arr), seed=seed
    )
