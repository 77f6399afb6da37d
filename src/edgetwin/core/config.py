"""plant.yaml: the one file a user writes to describe assets, sources, monitors and alarms.

Validation happens once at load time with pydantic; every failure is rewritten into a
message naming the file, the field path and the fix, so an operator never sees a traceback.
Protocol-specific source options are kept as extra fields and validated by the source that
owns them (connect/ knows OPC UA, core/ must not).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edgetwin.core.assets import Asset, Signal
from edgetwin.core.errors import ConfigError


class SourceConfig(BaseModel):
    """Where samples come from; extra keys are the protocol's own options."""

    model_config = ConfigDict(extra="allow")

    name: str
    kind: Literal["sim", "opcua", "mqtt", "modbus", "replay", "folder", "camera"]
    assets: list[str] = Field(default_factory=list, description="asset paths it feeds (empty: all)")

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class MonitorConfig(BaseModel):
    """An analytic that watches signals and derives samples and events."""

    model_config = ConfigDict(extra="allow")

    name: str
    kind: Literal["anomaly", "module", "rul", "diagnosis", "inspection"]
    assets: list[str] = Field(default_factory=list, description="asset paths (empty: all)")
    module: str | None = Field(None, description="edge module file for kind=module/rul/diagnosis")
    signals: list[str] = Field(default_factory=list, description="signal names it reads")
    window_s: float = Field(60.0, gt=0, description="seconds per analysis window")
    fit_s: float = Field(1800.0, gt=0, description="seconds of healthy history to fit on")

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class AlarmConfig(BaseModel):
    """An ISA-18.2 rationalised alarm on one signal: limit, priority, deadband, delays."""

    model_config = ConfigDict(extra="forbid")

    signal: str
    name: str | None = None
    high: float | None = None
    low: float | None = None
    priority: Literal["low", "medium", "high", "critical"] = "medium"
    deadband: float = Field(0.0, ge=0)
    on_delay_s: float = Field(0.0, ge=0)
    off_delay_s: float = Field(0.0, ge=0)
    message: str = ""

    @model_validator(mode="after")
    def _limit(self) -> AlarmConfig:
        if self.high is None and self.low is None:
            raise ValueError(f"alarm on {self.signal!r} needs a 'high' or 'low' limit")
        return self


class ServerConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=0, le=65535)
    opcua_port: int = Field(4840, ge=0, le=65535)


class PlantConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    assets: list[Asset]
    sources: list[SourceConfig] = Field(default_factory=list)
    monitors: list[MonitorConfig] = Field(default_factory=list)
    alarms: list[AlarmConfig] = Field(default_factory=list)
    server: ServerConfig = Field(default_factory=ServerConfig)
    store: dict[str, Any] = Field(default_factory=dict, description="backend options")

    @field_validator("assets")
    @classmethod
    def _unique_assets(cls, assets: list[Asset]) -> list[Asset]:
        seen: set[str] = set()
        for asset in assets:
            if asset.path in seen:
                raise ValueError(f"duplicate asset path {asset.path!r}; each asset appears once")
            seen.add(asset.path)
            names: set[str] = set()
            for sig in asset.signals:
                if sig.name in names:
                    raise ValueError(
                        f"duplicate signal id {asset.signal_id(sig.name)!r}; rename one of them"
                    )
                names.add(sig.name)
        return assets

    @model_validator(mode="after")
    def _references(self) -> PlantConfig:
        paths = {a.path for a in self.assets}
        source_names = [s.name for s in self.sources]
        if len(source_names) != len(set(source_names)):
            raise ValueError(f"duplicate source name in {source_names}; names must be unique")
        for group, items in (("sources", self.sources), ("monitors", self.monitors)):
            for item in items:
                for ref in item.assets:
                    if ref not in paths:
                        raise ValueError(
                            f"{group} {item.name!r} references unknown asset {ref!r}; "
                            f"known assets: {sorted(paths)}"
                        )
        ids = self.signal_ids()
        for alarm in self.alarms:
            if alarm.signal not in ids and not _is_derived(alarm.signal, paths):
                raise ValueError(
                    f"alarm references unknown signal {alarm.signal!r}; use an id like "
                    f"'<asset path>/<signal name>' from the assets, or a derived "
                    f"'<asset>/anomaly_score' | '<asset>/health' | '<asset>/rul'"
                )
        return self

    def signal_ids(self) -> set[str]:
        return {a.signal_id(s.name) for a in self.assets for s in a.signals}

    def asset(self, path: str) -> Asset:
        for a in self.assets:
            if a.path == path:
                return a
        raise ConfigError(f"unknown asset {path!r}; known: {[a.path for a in self.assets]}")

    def signal(self, signal_id: str) -> Signal:
        asset_path, _, name = signal_id.rpartition("/")
        for s in self.asset(asset_path).signals:
            if s.name == name:
                return s
        raise ConfigError(f"unknown signal {signal_id!r}")


DERIVED_SIGNALS = ("anomaly_score", "health", "rul", "rul_lo", "rul_hi", "fault_prob")


def _is_derived(signal_id: str, paths: set[str]) -> bool:
    asset_path, _, name = signal_id.rpartition("/")
    return asset_path in paths and name in DERIVED_SIGNALS


def _format_loc(loc: tuple[Any, ...], raw: Any) -> str:
    """Turn pydantic's ('assets', 2, 'signals', 0, 'unit') into assets[2 = pump1].signals[0 = flow].unit."""
    parts: list[str] = []
    node = raw
    for key in loc:
        if isinstance(key, int):
            label = ""
            if isinstance(node, list) and 0 <= key < len(node) and isinstance(node[key], dict):
                item = node[key]
                label = item.get("path") or item.get("name") or item.get("signal") or ""
            parts[-1:] = [
                f"{parts[-1] if parts else ''}[{key}{' = ' + str(label) if label else ''}]"
            ]
            node = node[key] if isinstance(node, list) and 0 <= key < len(node) else None
        else:
            parts.append(str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return ".".join(parts) or "(top level)"


def parse_plant(raw: Any, origin: str = "<config>") -> PlantConfig:
    """Validate an already-parsed YAML/JSON document; errors name `origin` and the field."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: expected a mapping with 'name' and 'assets' at the top level")
    try:
        return PlantConfig.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown field; remove it or check its spelling"
            elif err["type"] == "missing":
                msg = "required field is missing; add it"
            lines.append(f"  {_format_loc(tuple(err['loc']), raw)}: {msg}")
        raise ConfigError(f"{origin}: invalid plant config\n" + "\n".join(lines)) from None


def load_plant(path: str | Path) -> PlantConfig:
    """Load and validate plant.yaml."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"{p}: cannot read plant config ({exc.strerror}); check the path"
        ) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{p}:{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    return parse_plant(raw, str(p))
