"""Training targets and fixed-length windows of normalised sensor history.

The model sees the last `window` cycles of an engine. Engines (or live assets) with fewer cycles
are padded at the front by repeating their first row, which reads as "healthy and steady before
we started watching"; training uses the same padding for its early cycles so the model has seen
such windows.

`preprocess_histories` is the one numpy function an RUL edge module names in its manifest:
raw measurements in, normalised windows out, with every parameter taken from the manifest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from edgetwin.core.errors import DataError
from edgetwin.pdm.rul.regimes import normalize_rows, regime_labels

DEFAULT_CAP_CYCLES = 125.0


def cap_rul(rul_cycles: np.ndarray, cap_cycles: float = DEFAULT_CAP_CYCLES) -> np.ndarray:
    """Piecewise-linear target: min(RUL, cap). Early life is flat because nothing degrades yet."""
    return np.minimum(np.asarray(rul_cycles, dtype=np.float64), float(cap_cycles))


def _pad_front(norm: np.ndarray, window: int) -> np.ndarray:
    if len(norm) == 0:
        raise DataError("history is empty; need at least one cycle of measurements")
    missing = window - 1
    return np.concatenate([np.repeat(norm[:1], missing, axis=0), norm], axis=0) if missing else norm


def all_windows(norm: np.ndarray, window: int) -> np.ndarray:
    """Window ending at every cycle of one engine: [cycles, F] -> [cycles, window, F]."""
    padded = _pad_front(norm, window)
    view = np.lib.stride_tricks.sliding_window_view(padded, window, axis=0)  # [cycles, F, window]
    return np.ascontiguousarray(view.transpose(0, 2, 1))


def last_window(norm: np.ndarray, window: int) -> np.ndarray:
    """The window ending at the last cycle: [cycles, F] -> [window, F]."""
    return _pad_front(norm[-window:], window)[-window:]


def pool_steps(win: np.ndarray, step: int) -> np.ndarray:
    """Average each run of ``step`` consecutive cycles: [..., window, F] -> [..., window/step, F].

    A longer history at the same input length: the network's cost (and the INT8 twin's speed-up
    over fp32, which falls when the sequence grows) stays that of window/step time steps, while
    the window reaches further back. Averaging rather than subsampling keeps every cycle's
    measurement and halves the sensor noise's variance per step. Groups end at the last cycle.
    """
    if step == 1:
        return win
    n = win.shape[-2]
    if n % step:
        raise DataError(f"window {n} is not a multiple of step_cycles {step}; pick both to divide")
    shape = (*win.shape[:-2], n // step, step, win.shape[-1])
    return win.reshape(shape).mean(axis=-2, dtype=np.float64).astype(win.dtype)


def _as_histories(
    x: np.ndarray | Sequence[np.ndarray], n_raw: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(raw [cycles, n_raw], cycle numbers) of each history; cycles count from 1 unless given."""
    if isinstance(x, np.ndarray) and x.ndim == 2:
        histories = [x]
    elif isinstance(x, np.ndarray) and x.ndim == 3:
        histories = list(x)
    else:
        histories = [np.asarray(h) for h in x]
    out = []
    for i, h in enumerate(histories):
        h = np.asarray(h, dtype=np.float64)
        if h.ndim != 2 or h.shape[1] not in (n_raw, n_raw + 2):
            raise DataError(
                f"history {i} has shape {h.shape}, expected [cycles, {n_raw}] raw measurements "
                f"(settings then sensors in file column order) or [cycles, {n_raw + 2}] full rows "
                "with unit and cycle first"
            )
        if h.shape[1] == n_raw + 2:
            out.append((h[:, 2:], h[:, 1]))
        else:
            out.append((h, np.arange(1, len(h) + 1, dtype=np.float64)))
    return out


def preprocess_histories(x: np.ndarray | Sequence[np.ndarray], **params: Any) -> np.ndarray:
    """Raw histories -> model input [batch, window, features] float32 (last window of each).

    ``x`` is one history [cycles, 24] (3 settings then 21 sensors, C-MAPSS column order), a
    stack [batch, cycles, 24], or a list of histories of different lengths. Full 26-column
    rows (unit and cycle first) are accepted too. ``params`` are the manifest's preprocess
    params: the regime normaliser's (`RegimeNormalizer.to_params`) plus ``window`` and
    ``step_cycles`` (cycles averaged per time step; absent = 1, as in modules built before it).
    """
    n_raw = int(params["n_settings"]) + int(params["n_raw_sensors"])
    window = int(params["window"])
    age_scale = params.get("age_scale")
    b = params.get("baseline_cycles")
    out = []
    for h, cycles in _as_histories(x, n_raw):
        norm = normalize_rows(h[-window:], params)
        n_sens = norm.shape[1]
        if age_scale:
            norm = add_age(norm, cycles[-window:], float(age_scale))
        if params.get("regime_onehot"):
            norm = add_regime_onehot(norm, h[-window:], params)
        win = last_window(norm, window)
        if b:
            base = normalize_rows(h[: int(b)], params).mean(axis=0)
            win = np.concatenate([win, win[:, :n_sens] - base], axis=1)
        out.append(pool_steps(win, int(params.get("step_cycles", 1))))
    return np.stack(out).astype(np.float32)


def causal_baselines(norm: np.ndarray, baseline_cycles: int) -> np.ndarray:
    """Per cycle t, the mean of the first min(t, baseline_cycles) rows: the asset's own start level.

    Subtracting it removes unit-to-unit differences (initial wear, sensor offsets) and leaves
    the change since the asset was first seen; causal, so training sees what inference sees.
    """
    b = min(int(baseline_cycles), len(norm))
    first = np.cumsum(norm[:b], axis=0) / np.arange(1, b + 1)[:, None]
    return np.concatenate([first, np.repeat(first[-1:], len(norm) - b, axis=0)], axis=0)


def add_age(norm: np.ndarray, cycles: np.ndarray, age_scale: float) -> np.ndarray:
    """Append the asset's age (cycle number / ``age_scale``) as one more feature column."""
    return np.column_stack(
        [norm, (np.asarray(cycles, dtype=np.float64) / age_scale).astype(np.float32)]
    )


def add_regime_onehot(norm: np.ndarray, rows: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """Append the operating regime of each cycle as one-hot columns (none for a single regime).

    Per-regime standardisation removes the operating point from the sensors; these columns
    give it back as a separate input, so the model can tell in which regime each cycle ran.
    """
    n_regimes = len(params["centroids"])
    if n_regimes < 2:
        return norm
    onehot = np.eye(n_regimes, dtype=np.float32)[regime_labels(np.asarray(rows), params)]
    return np.concatenate([norm, onehot], axis=1)
