"""Time bounds as users give them (datetimes, ISO text, '1h' ago, ns ints) → epoch nanoseconds."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import numpy as np

from edgetwin.core.errors import DataError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|s|m|min|h|d|w)\s*$")
_UNIT_S = {
    "ns": 1e-9,
    "us": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
}


def parse_duration_s(text: str | float | int) -> float:
    """'90s', '5m', '1.5h', '7d' → seconds; plain numbers are seconds."""
    if isinstance(text, int | float):
        return float(text)
    m = _DURATION.match(text)
    if not m:
        try:
            return float(text)
        except ValueError:
            raise DataError(
                f"duration {text!r} not understood; write a number and a unit like 90s, 5m, 1h, 7d"
            ) from None
    return float(m.group(1)) * _UNIT_S[m.group(2)]


def to_ns(value: object, now_ns: int | None = None) -> int | None:
    """Normalise a time bound to epoch ns; a duration string means that long before now."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise DataError(f"time bound {value!r} is not a time")
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float):
        return int(value * 1e9)  # epoch seconds
    if isinstance(value, np.datetime64):
        return int(value.astype("datetime64[ns]").astype(np.int64))
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(dt.timestamp() * 1_000_000) * 1000
    if isinstance(value, str):
        if _DURATION.match(value):
            now = time.time_ns() if now_ns is None else now_ns
            return now - int(parse_duration_s(value) * 1e9)
        try:
            return to_ns(datetime.fromisoformat(value))
        except ValueError:
            raise DataError(
                f"time {value!r} not understood; use ISO 8601 (2026-11-24T10:00:00Z) or a "
                "duration before now (15m, 1h)"
            ) from None
    raise DataError(f"time bound of type {type(value).__name__} not understood")
