"""Limit checking with deadband and on/off delays, vectorised over one signal's samples.

Why two steps: the deadband (hysteresis) is a forward fill, which numpy does in one pass; the
delays only matter where the raw condition changes, so the Python loop runs over change points
(a handful per batch), never over samples. State that spans batches (the last raw condition and
a pending transition) lives in `LimitTracker`, so splitting a stream into batches anywhere gives
the same alarms as one big batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgetwin.core.config import AlarmConfig


@dataclass
class LimitTracker:
    """Per-alarm memory between batches."""

    raw: bool = False  # last hysteresis condition seen
    debounced: bool = False  # condition after on/off delays (what the alarm shows)
    pending_since_ns: int | None = None  # raw != debounced since this time


def raw_condition(cfg: AlarmConfig, values: np.ndarray, initial: bool) -> np.ndarray:
    """Limit exceeded, with deadband: enter beyond the limit, leave only `deadband` inside it."""
    on = np.zeros(len(values), dtype=bool)
    off = np.ones(len(values), dtype=bool)
    if cfg.high is not None:
        on |= values > cfg.high
        off &= values <= cfg.high - cfg.deadband
    if cfg.low is not None:
        on |= values < cfg.low
        off &= values >= cfg.low + cfg.deadband
    # 1 = on, 0 = off, hold the previous value in between (forward fill)
    known = on | off
    idx = np.where(known, np.arange(len(values)), -1)
    np.maximum.accumulate(idx, out=idx)
    out = np.where(idx >= 0, on[np.maximum(idx, 0)], initial)
    return out.astype(bool)


def debounce(
    cfg: AlarmConfig, tracker: LimitTracker, ts: np.ndarray, values: np.ndarray
) -> list[tuple[int, bool, float]]:
    """Apply deadband and delays to one signal's samples (ts ascending, ns).

    Returns the committed transitions `(ts_ns, active, value)` and updates `tracker`.
    A transition commits at the first sample that shows the condition held for the delay.
    """
    if len(ts) == 0:
        return []
    raw = raw_condition(cfg, values, tracker.raw)
    prev = np.concatenate(([tracker.raw], raw[:-1]))
    starts = np.flatnonzero(raw != prev)
    run_starts = np.concatenate(([0], starts)) if (len(starts) == 0 or starts[0] != 0) else starts
    run_ends = np.concatenate((run_starts[1:], [len(raw)]))
    on_ns = int(cfg.on_delay_s * 1e9)
    off_ns = int(cfg.off_delay_s * 1e9)
    out: list[tuple[int, bool, float]] = []
    state = tracker.debounced
    pending = tracker.pending_since_ns
    for s, e in zip(run_starts.tolist(), run_ends.tolist(), strict=True):
        r = bool(raw[s])
        continuation = s == 0 and r == tracker.raw
        if r == state:
            pending = None
            continue
        since = pending if (continuation and pending is not None) else int(ts[s])
        delay = on_ns if r else off_ns
        j = s + int(np.searchsorted(ts[s:e], since + delay, side="left"))
        if j < e:
            out.append((int(ts[j]), r, float(values[j])))
            state = r
            pending = None
        else:
            pending = since
    tracker.raw = bool(raw[-1])
    tracker.debounced = state
    tracker.pending_since_ns = pending if tracker.raw != state else None
    return out
