"""From a plant config to running parts: sources and monitors by `kind`.

Protocol sources live in `connect/`, which the runtime may know and `core/` may not; each
offers `from_config(source_config, plant)`. They are imported only when a plant uses them, so a
DuckDB-and-simulator box never loads asyncua or paho.
"""

from __future__ import annotations

import importlib
from typing import Any

from edgetwin.core.config import MonitorConfig, PlantConfig, SourceConfig
from edgetwin.core.errors import ConfigError
from edgetwin.runtime.interfaces import Monitor, Source

# kind -> "module:factory" taking (SourceConfig, PlantConfig)
SOURCE_FACTORIES: dict[str, str] = {
    "opcua": "edgetwin.connect.opcua:source_from_config",
    "mqtt": "edgetwin.connect.mqtt:source_from_config",
    "modbus": "edgetwin.connect.modbus:source_from_config",
    "replay": "edgetwin.connect.replay:source_from_config",
    "folder": "edgetwin.runtime.vision_source:source_from_config",
    "camera": "edgetwin.runtime.vision_source:source_from_config",
}


def _load(dotted: str) -> Any:
    module_name, _, attr = dotted.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"source factory {dotted} is not available in this build: {exc}"
        ) from None


def build_source(cfg: SourceConfig, plant: PlantConfig, **sim_overrides: Any) -> Source:
    """One source object for one `sources:` entry of plant.yaml."""
    if cfg.kind == "sim":
        from edgetwin.runtime.sim_source import SimSource

        opts = {**cfg.options, **{k: v for k, v in sim_overrides.items() if v is not None}}
        allowed = {"seed", "speed", "duration_s", "step_s", "start_ns"}
        unknown = set(opts) - allowed
        if unknown:
            raise ConfigError(
                f"source {cfg.name!r} (kind sim): unknown option(s) {sorted(unknown)}; "
                f"allowed: {sorted(allowed)}"
            )
        return SimSource(plant, name=cfg.name, **opts)
    factory = _load(SOURCE_FACTORIES[cfg.kind])
    source: Source = factory(cfg, plant)
    return source


def build_monitor(cfg: MonitorConfig, plant: PlantConfig) -> Monitor:
    """One online analytic for one `monitors:` entry."""
    if cfg.kind == "anomaly":
        from edgetwin.pdm.online import AnomalyMonitor

        allowed = {"alpha", "persist", "clear_below", "variance", "warmup_s"}
        unknown = set(cfg.options) - allowed
        if unknown:
            raise ConfigError(
                f"monitor {cfg.name!r}: unknown option(s) {sorted(unknown)}; allowed: {sorted(allowed)}"
            )
        return AnomalyMonitor(
            plant,
            name=cfg.name,
            assets=cfg.assets or None,
            window_s=cfg.window_s,
            fit_s=cfg.fit_s,
            **cfg.options,
        )
    from edgetwin.runtime.module_monitor import ModuleMonitor

    return ModuleMonitor.from_config(cfg, plant)
