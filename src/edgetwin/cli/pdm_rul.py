"""`edgetwin pdm train-rul / eval-rul`: remaining useful life on C-MAPSS-layout run-to-failure data."""

from __future__ import annotations

import logging
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from edgetwin.pdm.rul.estimator import DEFAULT_STEP_CYCLES, DEFAULT_WINDOW


def train_rul(
    data: Path = typer.Option(
        ..., "--data", help="run-to-failure file (C-MAPSS train_FD00x.txt layout)"
    ),
    out: Path = typer.Option(..., "--out", help="edge module to write (.zip)"),
    name: str = typer.Option("rul-cmapss", help="module name"),
    seed: int = typer.Option(0, help="seed of the engine folds and of the networks"),
    folds: int = typer.Option(10, help="engine folds per repeat (one member per fold)"),
    repeats: int = typer.Option(
        1, help="engine partitions (repeated k-fold): folds x repeats members in all"
    ),
    window: int = typer.Option(DEFAULT_WINDOW, help="cycles of history the model reads"),
    step_cycles: int = typer.Option(
        DEFAULT_STEP_CYCLES, help="cycles averaged per input step (must divide --window)"
    ),
    max_epochs: int = typer.Option(40, help="epoch limit per member (early stopping decides)"),
    threads: int = typer.Option(1, help="torch threads (per worker process with --jobs > 1)"),
    jobs: int = typer.Option(
        2, help="members trained at once in worker processes (2 x 1 thread = 2 cores)"
    ),
    budget_s: float = typer.Option(
        540.0, help="training time budget in seconds, shared by members"
    ),
    max_engines: int | None = typer.Option(
        None, help="train on the first N engines only (quick runs)"
    ),
    calibration: str = typer.Option(
        "kept",
        help="out-of-fold predictions that calibrate the intervals: kept (each member at the "
        "epoch it kept) or cross (at the epoch the other half of its fold chose, free of early "
        "stopping's choice)",
    ),
    age: bool = typer.Option(
        True,
        "--age/--no-age",
        help="also read each engine's age (its cycle number over the training engines' mean "
        "life); live, the asset must then be watched or replayed from its first cycle",
    ),
    baseline_cycles: int = typer.Option(
        20,
        help="also read each sensor's change since the engine's first N cycles (0: off); "
        "histories must start at the engine's first cycle",
    ),
) -> None:
    """Train the CNN ensemble with conformal intervals and ship it as a signed edge module."""
    from rich.progress import Progress

    from edgetwin.pdm.datasets.cmapss import load_runs
    from edgetwin.pdm.rul.estimator import CnnRulRegressor
    from edgetwin.pdm.rul.module import export_module

    console = Console()
    runs = load_runs(data)
    est = CnnRulRegressor(
        window=window,
        step_cycles=step_cycles,
        n_folds=folds,
        n_repeats=repeats,
        max_epochs=max_epochs,
        n_threads=threads,
        n_jobs=jobs,
        time_budget_s=budget_s,
        max_engines=max_engines,
        calibration=calibration,
        age_scale="auto" if age else None,
        baseline_cycles=baseline_cycles or None,
        random_state=seed,
    )
    with Progress(console=console, transient=True) as bar:
        n_members = folds * repeats
        task = bar.add_task(f"training {n_members} members on {data.name}", total=n_members)
        est.fit(runs, progress=lambda done, total: bar.update(task, completed=done))
    with console.status("exporting ONNX, INT8 twin, manifest"):
        path = export_module(est, runs, out, name=name)
    norm = est.normalizer_
    unseen = (
        "the member that never saw its engine"
        if repeats == 1
        else f"mean of the {repeats} members that never saw its engine"
    )
    console.print(
        f"regimes found: {norm.n_regimes_}; sensors kept: {len(norm.sensor_columns_)}; "
        f"members: {len(est.member_epochs_)} (epochs {est.member_epochs_}); out-of-fold RMSE "
        f"(all windows, each from {unseen}): "
        f"{est.oof_rmse_:.2f} cycles (at epochs chosen by the other half of each fold: "
        f"{est.cross_oof_rmse_:.2f}); trained in {est.train_seconds_:.0f} s",
        highlight=False,
    )
    console.print(f"wrote {path}", highlight=False)


def eval_rul(
    model: Path = typer.Option(..., "--model", help="RUL edge module (.zip)"),
    test: Path = typer.Option(..., "--test", help="test file (C-MAPSS test_FD00x.txt layout)"),
    truth: Path = typer.Option(..., "--truth", help="true RUL file (RUL_FD00x.txt layout)"),
    plot: Path | None = typer.Option(
        None, help="predicted-vs-true PNG (default: <model>_<test>.png)"
    ),
    precision: str = typer.Option("fp32", help="fp32 or int8"),
    record: bool = typer.Option(
        True, help="store the measured metrics in the module manifest (re-signs it)"
    ),
) -> None:
    """Score a module on the official test split: RMSE, PHM08 score, interval coverage, plot."""
    from edgetwin.edge import read_manifest, update_module
    from edgetwin.pdm.rul.module import METRIC_KEYS, evaluate_module
    from edgetwin.pdm.rul.plot import plot_predictions

    console = Console()
    with console.status(f"evaluating {model.name} ({precision}) on {test.name}"):
        res = evaluate_module(model, test, truth, precision=precision)
    table = Table(title=f"{model.name} on {test.name} ({res['engines']} engines, {precision})")
    for col in ("truth", "RMSE", "PHM08 score", "coverage", "target"):
        table.add_column(col, justify="right")
    target = f"{res['coverage_target']:.2f}" if res["coverage_target"] is not None else "-"
    table.add_row(
        "capped at 125",
        f"{res['rmse']:.2f}",
        f"{res['score']:.1f}",
        f"{res['coverage']:.3f}",
        target,
    )
    table.add_row(
        "raw",
        f"{res['rmse_raw']:.2f}",
        f"{res['score_raw']:.1f}",
        f"{res['coverage_raw']:.3f}",
        target,
    )
    if "rmse_phm" in res:
        table.add_row(
            "capped, PHM08-optimal point",
            f"{res['rmse_phm']:.2f}",
            f"{res['score_phm']:.1f}",
            "-",
            "-",
        )
    console.print(table)
    console.print(_error_table(res["by_truth"]))
    console.print(
        f"mean interval width {res['interval_width']:.1f} cycles; latency p50 {res['latency_p50_ms']:.2f} ms/engine",
        highlight=False,
    )
    png = plot or model.with_name(f"{model.stem}_{test.stem}.png")
    plot_predictions(
        res["truth"], res["pred"], res["lo"], res["hi"], png, title=f"{model.stem} on {test.stem}"
    )
    console.print(f"plot: {png}", highlight=False)
    if record:
        manifest = read_manifest(model)
        measured = {f"{test.stem}_{precision}_{k}": round(float(res[k]), 4) for k in METRIC_KEYS}
        update_module(
            model,
            manifest=manifest.model_copy(
                update={"verification": {**manifest.verification, **measured}}
            ),
        )
        logging.getLogger(__name__).info("recorded %s in %s", sorted(measured), model)


def _error_table(by_truth: list[dict]) -> Table:
    """Where the error sits: bias (+ = predicted late), RMSE and share of the squared error."""
    table = Table(title="error by true RUL (capped; bias > 0: late)")
    for col in ("true RUL", "engines", "bias", "RMSE", "share of squared error"):
        table.add_column(col, justify="right")
    for row in by_truth:
        table.add_row(
            str(row["band"]),
            str(row["engines"]),
            f"{row['bias']:+.1f}" if row["engines"] else "-",
            f"{row['rmse']:.1f}" if row["engines"] else "-",
            f"{100 * row['sse_share']:.0f} %",
        )
    return table


def register(app: typer.Typer) -> None:
    """Add this group's commands to `edgetwin pdm`."""
    app.command("train-rul")(train_rul)
    app.command("eval-rul")(eval_rul)
