"""Behaviour-model parameters of a simulated asset, validated from `Asset.model` in plant.yaml.

`core/` keeps `model` an open dict because only `sim/` knows what a pump needs. Validation
happens here once, when the simulator is built, and every error names the asset and the field
(`acme/site1/area1/line1/pump2: model.fault.onset_s: ...`) so the plant.yaml line is easy to find.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edgetwin.core.errors import ConfigError
from edgetwin.sim.bearing import BearingGeometry

FaultMode = Literal["outer_race", "inner_race", "ball", "imbalance", "misalignment", "cavitation"]
BEARING_MODES = ("outer_race", "inner_race", "ball")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BearingParams(_Strict):
    """Drive-end bearing geometry; defaults are the CWRU SKF 6205-2RS JEM."""

    n_balls: int = Field(9, ge=1)
    ball_d: float = Field(0.3126, gt=0)
    pitch_d: float = Field(1.537, gt=0)
    contact_deg: float = Field(0.0, ge=0, lt=90)

    @model_validator(mode="after")
    def _ratio(self) -> BearingParams:
        if self.ball_d >= self.pitch_d:
            raise ValueError(f"ball_d={self.ball_d} must be smaller than pitch_d={self.pitch_d}")
        return self

    def geometry(self) -> BearingGeometry:
        return BearingGeometry(self.n_balls, self.ball_d, self.pitch_d, self.contact_deg)


class LoadParams(_Strict):
    """Duty cycle: the line holds one of `levels` (fraction of rated speed) for a random dwell,
    then ramps to another over `ramp_s` seconds. Seeded, so the whole future is known.

    `commissioning_s` > 0 starts with a commissioning run that holds each level for an equal
    share of that time, so a detector fitted on the first minutes has seen every regime."""

    levels: list[float] = Field(default_factory=lambda: [0.8, 0.9, 1.0])
    dwell_s: tuple[float, float] = (900.0, 2700.0)
    ramp_s: float = Field(60.0, ge=0)
    commissioning_s: float = Field(
        0.0, ge=0, description="first seconds step through every level once, lowest first"
    )

    @model_validator(mode="after")
    def _check(self) -> LoadParams:
        if not self.levels or any(not 0.2 <= x <= 1.2 for x in self.levels):
            raise ValueError(f"levels={self.levels}: give fractions of rated speed in [0.2, 1.2]")
        lo, hi = self.dwell_s
        if not 0 < lo <= hi:
            raise ValueError(f"dwell_s={self.dwell_s}: need 0 < min <= max seconds")
        return self


class FaultParams(_Strict):
    """A fault that starts at `onset_s` and fails the asset at `failure_s` (plant seconds since
    start). Severity grows exponentially in accumulated damage from `initial_severity` to 1."""

    mode: FaultMode
    onset_s: float = Field(ge=0)
    failure_s: float = Field(gt=0)
    initial_severity: float = Field(0.05, gt=0, lt=1)
    wobble: float = Field(0.25, ge=0, le=1, description="log-severity scatter of the growth path")
    life_exponent: float = Field(3.0, gt=0, description="damage rate ~ load**life_exponent")

    @model_validator(mode="after")
    def _order(self) -> FaultParams:
        if self.failure_s <= self.onset_s:
            raise ValueError(
                f"failure_s={self.failure_s} must come after onset_s={self.onset_s} (seconds)"
            )
        return self


class MotorPumpParams(_Strict):
    """A VFD-driven centrifugal pump (or fan) on an induction motor. Rated values are at speed
    fraction 1.0; affinity laws give the rest (flow ~ n, head ~ n^2, power ~ n^3)."""

    kind: Literal["motor_pump", "fan"] = "motor_pump"
    rated_speed_rpm: float = Field(1797.0, gt=0)
    rated_flow_m3h: float = Field(120.0, gt=0)
    rated_head_m: float = Field(40.0, gt=0, description="pump head (fans: pressure rise as head)")
    fluid_density: float = Field(998.0, gt=0, description="kg/m3 (air: 1.2)")
    suction_bar: float = Field(1.0, description="suction/inlet gauge pressure in bar")
    rated_power_kw: float = Field(15.0, gt=0, description="shaft power at rated speed")
    voltage_v: float = Field(400.0, gt=0)
    power_factor: float = Field(0.86, gt=0, le=1)
    motor_efficiency: float = Field(0.92, gt=0, le=1)
    magnetizing_fraction: float = Field(0.3, ge=0, lt=1, description="no-load / rated current")
    n_vanes: int = Field(6, ge=1, description="impeller vanes: vane-pass tone = n_vanes x 1x")
    ambient_c: float = 25.0
    ambient_swing_c: float = Field(0.5, ge=0, description="daily ambient amplitude, K")
    motor_rise_k: float = Field(55.0, gt=0, description="winding rise over ambient at rated load")
    motor_tau_s: float = Field(1500.0, gt=0)
    bearing_rise_k: float = Field(18.0, gt=0, description="bearing rise at rated speed, healthy")
    bearing_fault_rise_k: float = Field(25.0, ge=0, description="extra rise at severity 1")
    bearing_tau_s: float = Field(600.0, gt=0)
    bearing: BearingParams = Field(default_factory=lambda: BearingParams.model_validate({}))
    resonance_hz: float = Field(3200.0, gt=0, description="structural resonance the impacts ring")
    damping_ratio: float = Field(0.05, gt=0, lt=1)
    noise_g: float = Field(0.04, ge=0, description="broadband vibration noise, g rms")
    residual_1x_g: float = Field(0.04, ge=0, description="healthy residual imbalance at 1x, g")
    vane_pass_g: float = Field(0.03, ge=0)
    impact_g: float = Field(4.0, ge=0, description="bearing impact peak at severity 1, g")
    slip_jitter: float = Field(0.01, ge=0, lt=0.1, description="rms spread of impact intervals")
    rated_life_h: float = Field(50000.0, gt=0, description="healthy life at rated load (L10-like)")
    load: LoadParams = Field(default_factory=lambda: LoadParams.model_validate({}))
    fault: FaultParams | None = None


_DEFAULTS_BY_KIND: dict[str, dict[str, Any]] = {
    "motor_pump": {},
    # An induced-draught fan: big air flow, small pressure rise, heavier and slower rotor.
    "fan": {
        "rated_speed_rpm": 1480.0,
        "rated_flow_m3h": 30000.0,
        "rated_head_m": 210.0,  # 2.5 kPa of air at 1.2 kg/m3
        "fluid_density": 1.2,
        "suction_bar": 0.0,
        "rated_power_kw": 22.0,
        "n_vanes": 10,
        "resonance_hz": 2600.0,
    },
}


def parse_model_params(asset_path: str, raw: dict[str, Any]) -> MotorPumpParams:
    """Validate an asset's `model:` mapping; the error names the asset, the field and the fix."""
    kind = raw.get("kind")
    if kind not in _DEFAULTS_BY_KIND:
        raise ConfigError(
            f"{asset_path}: model.kind={kind!r} is not a simulated model; "
            f"use one of {sorted(_DEFAULTS_BY_KIND)}"
        )
    merged = {**_DEFAULTS_BY_KIND[kind], **raw}
    try:
        return MotorPumpParams.model_validate(merged)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown field; remove it or check its spelling"
            lines.append(f"  {asset_path}: model.{loc}: {msg}")
        raise ConfigError("invalid simulation model\n" + "\n".join(lines)) from None
