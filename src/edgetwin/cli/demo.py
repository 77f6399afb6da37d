"""`edgetwin demo` and `edgetwin run plant.yaml`: the plant running in this terminal.

The demo is the product in one command: the simulated plant → store → anomaly monitor → twin,
with a live table, and a summary that checks the monitor against the simulator's own ground
truth (was the injected fault caught, and how long before the failure?).
"""

from __future__ import annotations

import asyncio
import logging
import time
from importlib import resources
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from edgetwin.cli.demo_summary import STATION, print_summary, summarise
from edgetwin.cli.live_view import LiveView
from edgetwin.cli.plant_loop import WebOptions, _run
from edgetwin.core.config import MonitorConfig, PlantConfig, load_plant
from edgetwin.runtime.build import build_monitor, build_source
from edgetwin.runtime.pipeline import Pipeline
from edgetwin.runtime.sim_source import SimSource
from edgetwin.store import open_store
from edgetwin.store.timeutil import parse_duration_s
from edgetwin.twin import Twin

log = logging.getLogger(__name__)
console = Console()


def demo_plant_path() -> Path:
    """The demo plant shipped inside the package."""
    return Path(str(resources.files("edgetwin.sim") / "plants" / "demo.yaml"))


def _state_dir(db: Path) -> Path:
    """Work orders and other twin state live beside the history file."""
    return db.with_name(db.stem + ".state")


def _module_file(given: Path | None, default: Path, what: str, hint: str) -> Path | None:
    """The module the user named (must exist), else the default one if it has been built."""
    if given is not None:
        if not given.exists():
            raise typer.BadParameter(f"{given}: no such {what} module")
        return given
    if default.exists():
        return default
    console.print(f"[dim]no {what} module ({default}): {hint}[/]")
    return None


def _station(
    plant: PlantConfig, module: Path | None, db: Path, speed: float, horizon_s: float, start_ns: int
) -> Any:
    """The simulated inspection station, when the plant has it and a module is at hand."""
    if not any(a.path == STATION for a in plant.assets):
        return None
    path = _module_file(
        module,
        Path("artifacts/inspection.zip"),
        "inspection",
        "the station stays idle; `make artifacts/inspection.zip` builds one",
    )
    if path is None:
        return None
    from edgetwin.runtime.station_source import StationSource
    from edgetwin.vision.inspect import Inspector
    from edgetwin.vision.synthetic import InspectionStation

    overlays = db.with_name(db.stem + ".overlays")
    inspector = Inspector(path, source=STATION, overlay_dir=overlays)
    return StationSource(
        InspectionStation(seed=7, defect_rate=0.05),
        inspector,
        speed=speed,
        duration_s=horizon_s,
        start_ns=start_ns,
    )


def _trace(pipeline: Pipeline, db: Path, plant: PlantConfig) -> None:
    """Record module deployments now and every model decision as it happens, beside the db."""
    from edgetwin.runtime.decisions import DecisionRecorder
    from edgetwin.runtime.module_monitor import ModuleMonitor

    recorder = DecisionRecorder.beside(db)
    for monitor in pipeline.monitors:
        if isinstance(monitor, ModuleMonitor):
            recorder.deployed(monitor.trace_ref, f"{plant.name}/{monitor.name}")
    pipeline.add_listener(recorder)


def _diagnosis(plant: PlantConfig, module: Path | None) -> list[Any]:
    """The bearing diagnosis module on every asset's `vib_de`, when a module is at hand."""
    path = _module_file(
        module,
        Path("artifacts/diagnosis.zip"),
        "bearing diagnosis",
        "build one with `edgetwin pdm train-diagnosis --data ../shared/data/cwru "
        "--out artifacts/diagnosis.zip`",
    )
    if path is None:
        return []
    cfg = MonitorConfig(name="diagnosis", kind="diagnosis", module=str(path), signals=["vib_de"])
    return [build_monitor(cfg, plant)]


def _monitors(plant: PlantConfig) -> list[Any]:
    configs = plant.monitors or [MonitorConfig(name="anomaly", kind="anomaly", fit_s=3600.0)]
    return [build_monitor(m, plant) for m in configs]


def demo_command(
    duration: str = typer.Option("10m", help="wall-clock run time (90s, 10m, 1h)"),
    speed: float = typer.Option(
        60.0, help="plant seconds per wall second (0 = as fast as possible)"
    ),
    plant_time: str = typer.Option("", help="plant time to simulate (default: duration x speed)"),
    headless: bool = typer.Option(False, help="no live table (for CI and scripts)"),
    db: Path = typer.Option(
        Path("edgetwin.duckdb"),
        help="DuckDB history file (replaced) or postgresql:// URL (appended to)",
    ),
    seed: int = typer.Option(7, help="simulator seed"),
    plant: Path | None = typer.Option(
        None, help="plant.yaml with sim assets (default: the built-in demo)"
    ),
    serve: bool = typer.Option(True, help="serve the dashboard and REST API while it runs"),
    port: int = typer.Option(8080, help="dashboard/API port on 127.0.0.1"),
    linger: str = typer.Option("0s", help="keep the dashboard up this long after the run ends"),
    diagnosis_module: Path | None = typer.Option(
        None, help="bearing diagnosis edge module (default: artifacts/diagnosis.zip if present)"
    ),
    inspection_module: Path | None = typer.Option(
        None, help="visual inspection edge module (default: artifacts/inspection.zip if present)"
    ),
    via: str = typer.Option(
        "auto",
        help="how plant data reaches the runtime: opcua (a real OPC UA server and client), "
        "direct (in-process, needed for --speed 0), auto (opcua when 0 < speed <= 300)",
    ),
    opcua_port: int = typer.Option(
        4841, help="port of the simulated plant's OPC UA server on 127.0.0.1 (--via opcua)"
    ),
    twin_opcua_port: int | None = typer.Option(
        None, help="port of the twin's OPC UA server (default: the plant's server.opcua_port)"
    ),
) -> None:
    """Run the simulated plant end to end and check the detector against the ground truth."""
    plant_cfg = load_plant(plant or demo_plant_path())
    wall_s = parse_duration_s(duration)
    horizon_s = (
        parse_duration_s(plant_time) if plant_time else wall_s * (speed if speed > 0 else 60.0)
    )
    from edgetwin.store.location import display_name, store_location
    from edgetwin.trace.ledger import ledger_path_for

    store_url, db = store_location(db)
    ledger = ledger_path_for(db)  # a fresh demo history gets a fresh ledger beside it
    for old in (db, Path(f"{db}.wal"), ledger, ledger.with_name(ledger.name + ".head")):
        old.unlink(missing_ok=True)
    store = open_store(store_url)
    sim_cfg = next((s for s in plant_cfg.sources if s.kind == "sim"), None)
    source = (
        build_source(sim_cfg, plant_cfg, speed=speed, duration_s=horizon_s, seed=seed)
        if sim_cfg
        else SimSource(plant_cfg, seed=seed, speed=speed, duration_s=horizon_s)
    )
    assert isinstance(source, SimSource)
    monitors = _monitors(plant_cfg) + _diagnosis(plant_cfg, diagnosis_module)
    view = LiveView([a.path for a in plant_cfg.assets])
    twin = Twin.from_config(plant_cfg, state_dir=_state_dir(db))
    twin.set_model_provider(source.sim.asset_model)  # what-if starts from the live, worn asset
    if via not in ("auto", "opcua", "direct"):
        raise typer.BadParameter(f"--via must be opcua, direct or auto (got {via!r})")
    if via == "opcua" and speed <= 0:
        raise typer.BadParameter("--via opcua needs a paced run: give --speed > 0")
    plant_source: Any = source
    # auto: the real protocol whenever the run is paced at a rate one OPC UA server keeps up with
    # here (measured: 99 % of samples at 240x, a third at 900x)
    if via == "opcua" or (via == "auto" and 0 < speed <= 300):
        from edgetwin.runtime.opcua_plant import OpcUaPlantSource

        plant_source = OpcUaPlantSource(
            plant_cfg,
            source.sim,
            port=opcua_port,
            speed=speed,
            duration_s=horizon_s,
            on_state=twin.set_source_state,
        )
        console.print(f"plant data over OPC UA: opc.tcp://127.0.0.1:{opcua_port}")
    sources: list[Any] = [plant_source]
    station = _station(plant_cfg, inspection_module, db, speed, horizon_s, source.sim.start_ns)
    if station is not None:
        sources.append(station)
    sinks: list[Any] = []
    if serve:  # the twin and every AI result, as an OPC UA address space with Part 9 alarms
        from edgetwin.connect.opcua import twin_server_from_config

        sinks.append(twin_server_from_config(twin, port=twin_opcua_port))
    pipeline = Pipeline(sources, store, monitors=monitors, twin=twin, sinks=sinks)
    _trace(pipeline, db, plant_cfg)
    for sink in sinks:
        console.print(f"twin over OPC UA: {sink.endpoint}")
    web = (
        WebOptions(port=port, modules_dir=Path("artifacts") if Path("artifacts").is_dir() else None)
        if serve
        else None
    )
    pipeline.add_listener(view)
    console.print(
        f"edgetwin demo: {len(plant_cfg.assets)} assets, {horizon_s / 3600:.1f} h of plant time "
        f"at speed {speed:g}; history in {display_name(store_url)}"
    )
    t0 = time.monotonic()
    try:
        asyncio.run(
            _run(
                pipeline,
                view,
                headless=headless,
                title=f"edgetwin demo — {plant_cfg.name}",
                until_sources_end=True,
                web=web,
                linger_s=parse_duration_s(linger),
            )
        )
    finally:
        store.close()
    print_summary(summarise(plant_source, view, monitors, pipeline, time.monotonic() - t0, station))


def run_command(
    plant: Path = typer.Argument(..., help="plant.yaml"),
    db: Path = typer.Option(
        Path("edgetwin.duckdb"), help="DuckDB history file or postgresql:// URL (appended to)"
    ),
    headless: bool = typer.Option(False, help="no live table"),
    exit_when_done: bool = typer.Option(
        False, help="stop when every source has finished (replays), instead of at Ctrl-C"
    ),
) -> None:
    """Run a plant config until Ctrl-C: its sources, store, monitors and twin."""
    plant_cfg = load_plant(plant)
    sources = [build_source(s, plant_cfg) for s in plant_cfg.sources]
    if not sources:
        raise typer.BadParameter(f"{plant}: no sources configured; add a 'sources:' entry")
    from edgetwin.store.location import store_location

    store_url, db = store_location(db)
    store = open_store(store_url)
    view = LiveView([a.path for a in plant_cfg.assets])
    twin = Twin.from_config(plant_cfg, state_dir=_state_dir(db))
    pipeline = Pipeline(sources, store, monitors=_monitors(plant_cfg), twin=twin)
    _trace(pipeline, db, plant_cfg)
    pipeline.add_listener(view)
    try:
        asyncio.run(
            _run(
                pipeline,
                view,
                headless=headless,
                title=f"edgetwin — {plant_cfg.name}",
                until_sources_end=exit_when_done,
            )
        )
    finally:
        store.close()
