"""The engineering units a signal may declare, with their UCUM-style spelling.

A closed list catches typos ("degc", "barr") in plant.yaml at load time instead of on a
dashboard weeks later. Extend it here when a site needs a unit we lack.
"""

from __future__ import annotations

KNOWN_UNITS: frozenset[str] = frozenset(
    {
        # dimensionless and ratios
        "1",
        "%",
        "ratio",
        "count",
        "score",
        "health",
        # time and cycles
        "s",
        "ms",
        "min",
        "h",
        "cycles",
        # temperature
        "degC",
        "K",
        "degF",
        # pressure
        "bar",
        "Pa",
        "kPa",
        "MPa",
        "psi",
        # flow and volume
        "m3/h",
        "L/min",
        "L/s",
        "kg/s",
        "kg/h",
        # electrical
        "A",
        "V",
        "W",
        "kW",
        "Hz",
        "kWh",
        # mechanical
        "rpm",
        "N",
        "Nm",
        "mm",
        "m",
        "um",
        "mm/s",
        "m/s2",
        "g",
        # chemical / process
        "mol%",
        "ppm",
        "pH",
    }
)


def check_unit(unit: str) -> str:
    """Return `unit` if known, else raise ValueError listing the close matches."""
    if unit in KNOWN_UNITS:
        return unit
    lowered = {u.lower(): u for u in KNOWN_UNITS}
    hint = lowered.get(unit.lower())
    suggestion = f" (did you mean {hint!r}?)" if hint else ""
    raise ValueError(
        f"unknown unit {unit!r}{suggestion}; use one of {sorted(KNOWN_UNITS)} "
        "or add it to edgetwin.core.units.KNOWN_UNITS"
    )
