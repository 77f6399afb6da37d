"""Rolling-element bearing kinematics: defect frequencies from geometry and shaft speed.

A local spall is struck at a rate fixed by the bearing's geometry, not by the spall's size, so
the simulator derives its impact rates here and a diagnosis model can be checked against the
same numbers. Rigid-body kinematics, outer ring fixed, inner ring turning with the shaft.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from edgetwin.core.errors import ConfigError


@dataclass(frozen=True)
class BearingGeometry:
    """Geometry of a rolling-element bearing.

    n_balls: rolling elements; ball_d, pitch_d: ball and pitch diameters in one unit (only the
    ratio matters); contact_deg: contact angle in degrees (0 for a deep-groove ball bearing).
    """

    n_balls: int = 9
    ball_d: float = 0.3126
    pitch_d: float = 1.537
    contact_deg: float = 0.0

    def __post_init__(self) -> None:
        if int(self.n_balls) != self.n_balls or self.n_balls < 1:
            raise ConfigError(f"bearing n_balls={self.n_balls}: must be a positive whole count")
        if not 0.0 < self.ball_d < self.pitch_d:
            raise ConfigError(
                f"bearing ball_d={self.ball_d}, pitch_d={self.pitch_d}: need 0 < ball_d < pitch_d "
                "(both in the same unit)"
            )
        if not 0.0 <= self.contact_deg < 90.0:
            raise ConfigError(f"bearing contact_deg={self.contact_deg}: must be in [0, 90) degrees")

    def to_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


# The CWRU drive-end bearing (SKF 6205-2RS JEM); inches, from the CWRU Bearing Data Center.
SKF_6205_2RS = BearingGeometry(n_balls=9, ball_d=0.3126, pitch_d=1.537, contact_deg=0.0)


@dataclass(frozen=True)
class DefectFrequencies:
    """Characteristic frequencies in Hz (floats, or arrays when the shaft speed is an array).

    bsf follows the CWRU / textbook convention: a ball defect strikes both races once per ball
    spin, so bsf is twice the spin frequency.
    """

    shaft: float
    ftf: float
    bpfo: float
    bpfi: float
    bsf: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def for_mode(self, mode: str) -> float:
        """The impact rate of a fault mode: outer_race -> bpfo, inner_race -> bpfi, ball -> bsf."""
        key = {"outer_race": "bpfo", "inner_race": "bpfi", "ball": "bsf", "cage": "ftf"}.get(mode)
        if key is None:
            raise ConfigError(f"fault mode {mode!r} has no bearing defect frequency")
        return float(getattr(self, key))


def defect_frequencies(geometry: BearingGeometry, shaft_hz: float) -> DefectFrequencies:
    """Defect frequencies in Hz for an inner ring turning at `shaft_hz` with the outer ring fixed."""
    if not (math.isfinite(shaft_hz) and shaft_hz > 0):
        raise ConfigError(f"shaft_hz={shaft_hz}: must be a positive, finite speed in Hz")
    r = geometry.ball_d / geometry.pitch_d * math.cos(math.radians(geometry.contact_deg))
    spin = shaft_hz * geometry.pitch_d / (2.0 * geometry.ball_d) * (1.0 - r * r)
    return DefectFrequencies(
        shaft=float(shaft_hz),
        ftf=shaft_hz / 2.0 * (1.0 - r),
        bpfo=shaft_hz * geometry.n_balls / 2.0 * (1.0 - r),
        bpfi=shaft_hz * geometry.n_balls / 2.0 * (1.0 + r),
        bsf=2.0 * spin,
    )


def defect_multiples(geometry: BearingGeometry) -> dict[str, float]:
    """Defect frequencies as multiples of shaft speed (orders), as bearing catalogues list them."""
    return {k: v for k, v in defect_frequencies(geometry, 1.0).as_dict().items() if k != "shaft"}
