"""Validate a source's protocol options with pydantic, naming the source and the field.

`SourceConfig` keeps protocol options as extra keys (core/ must not know OPC UA); each protocol
validates them here so an operator reads `source 'plc1' (opcua): endpoint: required field is
missing` rather than a traceback.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from edgetwin.core.config import PlantConfig, SourceConfig
from edgetwin.core.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def parse_options(model: type[M], cfg: SourceConfig) -> M:
    """Validate `cfg.options` against `model`; errors name the source, its kind and the field."""
    try:
        return model.model_validate(cfg.options)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "(options)"
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown option; remove it or check its spelling"
            elif err["type"] == "missing":
                msg = "required option is missing; add it"
            lines.append(f"  {field}: {msg}")
        raise ConfigError(
            f"source {cfg.name!r} ({cfg.kind}): invalid options\n" + "\n".join(lines)
        ) from None


def signals_of_source(cfg: SourceConfig, plant: PlantConfig) -> dict[str, Any]:
    """Signal id -> address for the scalar signals this source delivers.

    A signal belongs to the source when its `source:` names it, or (with no `source:`) when it
    has an `address` and its asset is listed in the source's `assets`. An explicit `nodes`
    option (signal id -> address) adds to or overrides those.
    """
    out: dict[str, Any] = {}
    assets = set(cfg.assets)
    for asset in plant.assets:
        for sig in asset.signals:
            if sig.kind != "scalar":
                continue
            mine = sig.source == cfg.name or (
                sig.source is None and sig.address is not None and asset.path in assets
            )
            if mine and sig.address is not None:
                out[asset.signal_id(sig.name)] = sig.address
    nodes = cfg.options.get("nodes") or {}
    if not isinstance(nodes, dict):
        raise ConfigError(
            f"source {cfg.name!r} ({cfg.kind}): nodes: expected a mapping signal id -> address"
        )
    ids = plant.signal_ids()
    for sid, addr in nodes.items():
        if sid not in ids:
            raise ConfigError(
                f"source {cfg.name!r} ({cfg.kind}): nodes: unknown signal {sid!r}; use an id "
                "like '<asset path>/<signal name>' from the assets"
            )
        out[sid] = addr
    return out
