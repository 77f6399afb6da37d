"""plant.yaml `kind: folder | camera` sources: images → inspection module → events.

The vision room has the frame sources and the inspector; this factory wires them from a plant
config, the same way `connect/` protocols are built from theirs. Options are validated here so a
typo names the source and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edgetwin.core.config import PlantConfig, SourceConfig
from edgetwin.core.errors import ConfigError


class ImageSourceOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    module: str = Field(..., description="inspection edge module (edgetwin vision train)")
    asset: str = Field(..., description="asset path of the inspection station in the twin")
    path: str | None = Field(None, description="folder to watch (kind folder)")
    uri: str | int | None = Field(None, description="camera index or video/RTSP URL (kind camera)")
    every_n: int = Field(1, ge=1, description="camera: keep one frame in n")
    overlay_dir: str | None = Field(None, description="where heatmap overlays are written")
    precision: str = Field("fp32", pattern="^(fp32|int8)$")
    skip_existing: bool = False


def source_from_config(cfg: SourceConfig, plant: PlantConfig) -> Any:
    """Build an `InspectionSource` for a `folder` or `camera` source entry."""
    from edgetwin.vision.inspect import Inspector
    from edgetwin.vision.sources import FolderSource, InspectionSource, VideoSource

    try:
        opts = ImageSourceOptions.model_validate(cfg.options)
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"source {cfg.name!r} (kind {cfg.kind}): {fields}") from None
    plant.asset(opts.asset)  # unknown station → ConfigError naming the known assets
    if cfg.kind == "folder":
        if not opts.path:
            raise ConfigError(
                f"source {cfg.name!r} (kind folder): set 'path' to the folder to watch"
            )
        frames: Any = FolderSource(opts.path, skip_existing=opts.skip_existing)
    else:
        if opts.uri is None:
            raise ConfigError(f"source {cfg.name!r} (kind camera): set 'uri' (camera index or URL)")
        frames = VideoSource(opts.uri, every_n=opts.every_n, name=cfg.name)
    if not Path(opts.module).exists():
        raise ConfigError(
            f"source {cfg.name!r}: inspection module {opts.module} not found; build one with "
            "`edgetwin vision train --data DIR --out inspection.zip`"
        )
    inspector = Inspector(
        opts.module, source=opts.asset, overlay_dir=opts.overlay_dir, precision=opts.precision
    )
    return InspectionSource(cfg.name, frames, inspector)
