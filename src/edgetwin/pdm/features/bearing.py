"""Rolling-element bearing defect frequencies from geometry and shaft speed.

A local defect strikes at a rate fixed by the kinematics of the bearing, not by the size of the
defect; that is why features measured at these frequencies carry over to fault sizes and loads a
model never saw. Frequencies follow the classic rigid-body kinematics (no slip); real bearings
slip by 1-2 %, so feature extractors search a small tolerance around them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from edgetwin.core.errors import ConfigError


@dataclass(frozen=True)
class BearingGeometry:
    """Geometry of a rolling-element bearing.

    n_balls: number of rolling elements; ball_d and pitch_d: ball and pitch diameters in any one
    unit (only their ratio matters); contact_deg: contact angle in degrees (0 for deep-groove).
    """

    n_balls: int
    ball_d: float
    pitch_d: float
    contact_deg: float = 0.0

    def __post_init__(self) -> None:
        if self.n_balls < 1:
            raise ConfigError(f"BearingGeometry.n_balls={self.n_balls}: must be a positive count")
        if not (0.0 < self.ball_d < self.pitch_d):
            raise ConfigError(
                f"BearingGeometry ball_d={self.ball_d}, pitch_d={self.pitch_d}: need "
                "0 < ball_d < pitch_d (both in the same unit)"
            )
        if not (0.0 <= self.contact_deg < 90.0):
            raise ConfigError(
                f"BearingGeometry.contact_deg={self.contact_deg}: must be in [0, 90) degrees"
            )

    def to_dict(self) -> dict[str, float]:
        """Plain dict, for manifests and JSON."""
        return {k: float(v) for k, v in asdict(self).items()}


# The CWRU drive-end bearing (SKF 6205-2RS JEM), dimensions in inches from the CWRU data center.
SKF_6205_2RS = BearingGeometry(n_balls=9, ball_d=0.3126, pitch_d=1.537, contact_deg=0.0)


def defect_frequencies(geometry: BearingGeometry, shaft_hz: float) -> dict[str, float]:
    """Defect frequencies in Hz for an inner ring turning at `shaft_hz` (outer ring fixed).

    Keys: `bpfo` (ball pass, outer race), `bpfi` (ball pass, inner race), `ftf` (cage, fundamental
    train frequency), `bsf` (ball defect frequency: a ball defect strikes the inner and the outer
    race once per spin, so twice the spin rate; this is the convention of the CWRU data center and
    of most diagnostics texts), `ball_spin` (one spin of a ball, half of `bsf`) and `shaft`.
    """
    if not math.isfinite(shaft_hz) or shaft_hz <= 0:
        raise ConfigError(f"shaft_hz={shaft_hz}: must be a positive, finite speed in Hz")
    ratio = geometry.ball_d / geometry.pitch_d * math.cos(math.radians(geometry.contact_deg))
    spin = shaft_hz * geometry.pitch_d / (2.0 * geometry.ball_d) * (1.0 - ratio**2)
    return {
        "shaft": shaft_hz,
        "ftf": shaft_hz / 2.0 * (1.0 - ratio),
        "bpfo": shaft_hz * geometry.n_balls / 2.0 * (1.0 - ratio),
        "bpfi": shaft_hz * geometry.n_balls / 2.0 * (1.0 + ratio),
        "bsf": 2.0 * spin,
        "ball_spin": spin,
    }
