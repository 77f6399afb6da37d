"""`edgetwin pdm …`: train, evaluate and benchmark predictive-maintenance models."""

from __future__ import annotations

import typer

from edgetwin.cli import pdm_detector, pdm_diagnosis, pdm_rul

app = typer.Typer(
    help="Predictive maintenance: RUL, fault diagnosis, anomaly detection.", no_args_is_help=True
)
for group in (pdm_rul, pdm_diagnosis, pdm_detector):
    group.register(app)
