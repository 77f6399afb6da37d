"""`edgetwin sim …`: The simulated plant, served over real protocols."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(help="The simulated plant, served over real protocols.", no_args_is_help=True)
console = Console(stderr=True)

DEMO_PLANT = Path(__file__).resolve().parents[1] / "sim" / "plants" / "demo.yaml"


@app.command()
def serve(
    plant: Path = typer.Option(DEMO_PLANT, help="plant.yaml (default: the demo plant)"),
    host: str = typer.Option("127.0.0.1", help="address to bind"),
    port: int = typer.Option(4841, help="OPC UA port"),
    seed: int = typer.Option(7, help="simulator seed"),
    speed: float = typer.Option(1.0, help="plant seconds per wall second"),
    step_s: float = typer.Option(1.0, help="wall seconds between simulator steps"),
    duration_s: float = typer.Option(
        0.0, help="stop after this many wall seconds (0: run until Ctrl-C)"
    ),
    secure: bool = typer.Option(
        False, help="Basic256Sha256 Sign/SignAndEncrypt endpoints only (certificates in --pki)"
    ),
    pki: Path = typer.Option(Path("pki"), help="folder for the server certificate and trust list"),
) -> None:
    """Serve the simulated plant as an OPC UA server with history (NodeIds ns=2;s=<signal id>)."""
    from edgetwin.connect.opcua import PlantServer, ServerSecurity
    from edgetwin.core.config import load_plant
    from edgetwin.sim import PlantSimulator

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    cfg = load_plant(plant)
    security = ServerSecurity()
    if secure:
        security = ServerSecurity(
            policies=["Basic256Sha256_Sign", "Basic256Sha256_SignAndEncrypt"],
            certificate=str(pki / "server_cert.der"),
            private_key=str(pki / "server_key.pem"),
            trust=str(pki / "trusted"),
        )

    async def main() -> None:
        server = PlantServer(
            cfg,
            PlantSimulator(cfg, seed=seed),
            host,
            port,
            speed=speed,
            step_s=step_s,
            security=security,
        )
        await server.start()
        console.print(
            f"[green]OPC UA plant server[/] {server.endpoint} "
            f"({len(server.nodes.variables) if server.nodes else 0} signals, history on)"
        )
        try:
            if duration_s > 0:
                await asyncio.sleep(duration_s)
            else:
                await asyncio.Event().wait()
        finally:
            await server.stop()
            console.print(f"stopped after {server.written} values")

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
