"""`edgetwin pdm train-detector` / `eval-detector`: the SKAB multivariate anomaly detector."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table


def _print_eval(title: str, metrics: dict[str, float | int], console: Console) -> None:
    table = Table(title=f"{title}: {metrics['runs']} runs, {metrics['rows']} rows")
    for col in ("rows", "F1", "FAR %", "MAR %", "NAB standard", "NAB low FP", "NAB low FN"):
        table.add_column(col, justify="right")
    table.add_row(
        "all",
        f"{metrics['f1']:.3f}",
        f"{100 * metrics['far']:.2f}",
        f"{100 * metrics['mar']:.2f}",
        f"{metrics['nab_standard']:.2f}",
        f"{metrics['nab_low_fp']:.2f}",
        f"{metrics['nab_low_fn']:.2f}",
    )
    table.add_row(
        "after cal.",
        f"{metrics['f1_test_rows']:.3f}",
        f"{100 * metrics['far_test_rows']:.2f}",
        f"{100 * metrics['mar_test_rows']:.2f}",
        "",
        "",
        "",
    )
    console.print(table)


def train_detector(
    data: list[Path] = typer.Option(
        ..., "--data", help="SKAB CSV files or folders (repeat); unlabelled files count as normal"
    ),
    out: Path = typer.Option(..., "--out", help="edge module to write (.zip)"),
    span: float = typer.Option(20.0, help="EWMA span, samples"),
    horizon: float = typer.Option(
        750.0, help="drift-scale horizon: how long a run is monitored after calibration, samples"
    ),
    factor: float = typer.Option(
        2.5, help="threshold = factor x quantile of the scores of all normal segments"
    ),
    quantile: float = typer.Option(0.99, help="normal-score quantile for the threshold"),
    slow_lag: int = typer.Option(
        200,
        help="slow (drifting) sensors are watched as their change over this many samples; 0: off",
    ),
    hysteresis: float = typer.Option(
        0.5, help="an alarm clears when the score falls below this fraction of the threshold"
    ),
    all_normal_data: bool = typer.Option(
        False,
        "--all-normal-data",
        help="keep unlabelled files recorded at another operating point than the labelled runs",
    ),
    int8: bool = typer.Option(True, help="also try an INT8 twin (kept only if parity holds)"),
) -> None:
    """Fit the MEWMA-T2 detector on normal data and ship it as a signed edge module.

    Labelled runs contribute only their first 400 rows to training; unlabelled files join
    only if recorded at the labelled runs' operating point. The module is then scored on the
    labelled runs with the SKAB protocol and the figures go into its manifest.
    """
    from edgetwin.edge import update_module
    from edgetwin.edge.module import read_manifest
    from edgetwin.pdm.datasets.skab import load_skab
    from edgetwin.pdm.detect.module import build_detector_module, evaluate_module, fit_detector

    console = Console()
    with console.status("loading data"):
        runs = load_skab(data)
    labelled = [r for r in runs if r.anomaly is not None]
    with console.status(f"fitting on {len(runs)} runs"):
        det = fit_detector(
            runs,
            match_operating_point=not all_normal_data,
            span=span,
            taps=int(3 * span),
            horizon=horizon,
            factor=factor,
            quantile=quantile,
            slow_lag=slow_lag,
            hysteresis=hysteresis,
        )
    with console.status("exporting edge module"):
        path, report = build_detector_module(det, runs, out, int8=int8)
    from edgetwin.pdm.datasets.skab import SENSOR_COLUMNS
    from edgetwin.pdm.detect.module import training_segments

    n_all = len(training_segments(runs, det.calibration_rows, match_operating_point=False))
    if n_all > det.n_segments_:
        console.print(
            f"left out {n_all - det.n_segments_} unlabelled segments recorded at another operating "
            "point than the labelled runs (use --all-normal-data to keep them)"
        )
    slow = ", ".join(SENSOR_COLUMNS[i] for i in det.slow_) or "none"
    console.print(
        f"module [bold]{path}[/] ({det.n_segments_} normal segments, {det.n_train_rows_} rows; "
        f"slow sensors: {slow}; threshold {det.threshold_:.1f})"
    )
    if labelled:
        with console.status(f"scoring the module on {len(labelled)} labelled runs"):
            ev, _ = evaluate_module(path, labelled)
        manifest = read_manifest(path)
        manifest.verification.update(
            {"skab_train_runs": ev.as_dict(), "evaluated_with": "exported module, fp32"}
        )
        update_module(path, manifest=manifest)
        _print_eval("SKAB protocol on the training runs (exported module)", ev.as_dict(), console)
    i8 = report.get("int8")
    if isinstance(i8, dict):
        kept = "kept" if i8.get("passed") else "dropped (parity failed)"
        console.print(
            f"INT8 twin {kept}: max |diff| {i8['max_abs']:.3g}, tolerance {i8['atol']:.3g}"
        )


def eval_detector(
    model: Path = typer.Option(..., "--model", help="edge module written by train-detector"),
    data: list[Path] = typer.Option(
        ..., "--data", help="labelled SKAB CSV files or folders (repeat)"
    ),
    precision: str = typer.Option("fp32", help="fp32 or int8"),
) -> None:
    """Score a detector module with the SKAB protocol: F1, FAR, MAR (point-wise) and NAB."""
    import numpy as np

    from edgetwin.pdm.datasets.skab import load_skab
    from edgetwin.pdm.detect.module import evaluate_module

    console = Console()
    runs = [r for r in load_skab(data) if r.anomaly is not None]
    if not runs:
        from edgetwin.core.errors import DataError

        raise DataError(
            f"--data {[str(d) for d in data]}: no labelled SKAB run (needs 'anomaly' column)"
        )
    with console.status(f"scoring {len(runs)} runs"):
        ev, lat = evaluate_module(model, runs, precision)
    _print_eval(f"SKAB protocol, {model.name} ({precision})", ev.as_dict(), console)
    console.print(
        f"latency per run (~{int(np.median([len(r) for r in runs]))} rows): median {np.median(lat):.2f} ms"
    )


def register(app: typer.Typer) -> None:
    """Add this group's commands to `edgetwin pdm`."""
    app.command("train-detector")(train_detector)
    app.command("eval-detector")(eval_detector)
