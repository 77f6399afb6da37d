"""`edgetwin aas …`: Asset Administration Shell export and import."""

from __future__ import annotations

from pathlib import Path

import typer
import yaml
from rich.console import Console

from edgetwin.core.config import load_plant

app = typer.Typer(help="Asset Administration Shell export and import.", no_args_is_help=True)
console = Console()


@app.command("export")
def export(
    plant: Path = typer.Option(..., help="plant.yaml"),
    out: Path = typer.Option(Path("plant.aasx"), help="AASX file to write"),
    modules_dir: Path | None = typer.Option(
        None, help="edge modules (.etm) to add AI Model Nameplate / AI Deployment for"
    ),
    api_url: str | None = typer.Option(
        None, help="REST API base URL for the Time Series linked segments"
    ),
) -> None:
    """Write the plant as AASX (AAS v3; IDTA Nameplate, Technical Data, Time Series, Predictive Maintenance)."""
    from edgetwin.server.api_modules import MODULE_SUFFIXES
    from edgetwin.twin.aas import export_aasx

    cfg = load_plant(plant)
    manifests = []
    if modules_dir is not None:
        import json
        import zipfile

        for p in sorted(modules_dir.rglob("*")):
            if p.suffix in MODULE_SUFFIXES and p.is_file():
                with zipfile.ZipFile(p) as zf:
                    manifests.append(json.loads(zf.read("manifest.json")))
    path = export_aasx(out, cfg, modules=manifests, api_url=api_url)
    console.print(
        f"wrote {path} ({path.stat().st_size:,} bytes): {len(cfg.assets)} asset shells, {len(manifests)} module shells"
    )


@app.command("import")
def import_(
    aasx: Path = typer.Argument(..., help="AASX package"),
    out: Path = typer.Option(Path("plant.yaml"), help="plant.yaml to write"),
) -> None:
    """Create assets (a plant.yaml) from an AASX package."""
    from edgetwin.twin.aas import import_aasx

    cfg = import_aasx(aasx)
    data = cfg.model_dump(mode="json", exclude_defaults=True)
    data["name"] = cfg.name
    data["assets"] = [
        a.model_dump(mode="json", exclude_defaults=True) | {"path": a.path} for a in cfg.assets
    ]
    out.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    console.print(f"wrote {out}: {len(cfg.assets)} assets")
