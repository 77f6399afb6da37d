"""Assets and signals: the nouns of a plant, addressed by ISA-95 paths.

A signal id is the asset path plus the signal name (`site/area/line1/pump1/vib_de`), so an id
alone tells where in the hierarchy a value belongs and health can roll up the tree by prefix.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from edgetwin.core.units import check_unit

ISA95_LEVELS = ("site", "area", "line", "cell", "asset", "component")
_SEGMENT = re.compile(r"^[A-Za-z0-9_.\-]+$")


def check_path(path: str) -> str:
    """Validate an ISA-95 asset path: 1..6 segments of letters, digits, `_`, `-`, `.`."""
    parts = path.split("/")
    if not 1 <= len(parts) <= len(ISA95_LEVELS):
        raise ValueError(
            f"asset path {path!r} has {len(parts)} levels; ISA-95 allows 1 to 6 "
            f"({'/'.join(ISA95_LEVELS)})"
        )
    for part in parts:
        if not _SEGMENT.match(part):
            raise ValueError(
                f"asset path {path!r}: segment {part!r} may only use letters, digits, '_', '-', '.'"
            )
    return path


class Signal(BaseModel):
    """One measured or derived quantity of an asset.

    `kind` scalar signals land in the samples table; waveform signals (vibration, acoustic,
    current signature) arrive as bursts of `burst_s` seconds every `every_s` seconds at `rate_hz`.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    unit: str = "1"
    kind: Literal["scalar", "waveform"] = "scalar"
    rate_hz: float = Field(1.0, description="sampling rate in Hz (> 0)")
    burst_s: float | None = Field(None, description="waveforms: burst length in seconds")
    every_s: float | None = Field(None, description="waveforms: seconds between bursts")
    description: str = ""
    source: str | None = Field(None, description="name of the source that delivers it")
    address: Any = Field(None, description="protocol address: NodeId, topic, register...")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _SEGMENT.match(v):
            raise ValueError(f"signal name {v!r} may only use letters, digits, '_', '-', '.'")
        return v

    @field_validator("unit")
    @classmethod
    def _unit(cls, v: str) -> str:
        return check_unit(v)

    @field_validator("rate_hz")
    @classmethod
    def _rate(cls, v: float) -> float:
        if not v > 0:
            raise ValueError(f"rate_hz must be > 0 (got {v}); give the sampling rate in Hz")
        return v

    @model_validator(mode="after")
    def _waveform(self) -> Signal:
        if self.kind == "waveform":
            if self.burst_s is None or self.burst_s <= 0:
                raise ValueError("waveform signals need burst_s > 0 (seconds per burst)")
            if self.every_s is None or self.every_s < self.burst_s:
                raise ValueError(
                    "waveform signals need every_s >= burst_s (seconds between bursts)"
                )
        return self


class Asset(BaseModel):
    """A node of the ISA-95 tree that carries signals (a pump, a motor, a camera station)."""

    model_config = ConfigDict(extra="forbid")

    path: str
    type: str = "generic"
    description: str = ""
    nameplate: dict[str, Any] = Field(
        default_factory=dict, description="manufacturer, model, serial…"
    )
    model: dict[str, Any] = Field(
        default_factory=dict, description="behaviour model parameters for sim/ (kind + params)"
    )
    signals: list[Signal] = Field(default_factory=list)

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        return check_path(v)

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def signal_id(self, name: str) -> str:
        return f"{self.path}/{name}"
