"""`edgetwin pdm train-diagnosis / eval-diagnosis / bench-diagnosis`: CWRU bearing fault diagnosis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table


def print_confusion(title: str, accuracy: float, cm: Any, labels: Any, console: Console) -> None:
    """Accuracy in the title, confusion matrix (rows true, columns predicted) as a table."""
    table = Table(title=title)
    table.add_column("true \\ predicted")
    for lab in labels:
        table.add_column(str(lab), justify="right")
    for lab, row in zip(labels, cm, strict=True):
        table.add_row(str(lab), *[str(int(v)) for v in row])
    console.print(table)
    console.print(f"accuracy {100 * accuracy:.2f} % ({title})", highlight=False)


def _load(data: list[Path], console: Console) -> list[Any]:
    from edgetwin.pdm.datasets.cwru import find_files, load_file

    files = find_files(data)
    records = []
    with console.status(f"loading {len(files)} CWRU files"):
        for f in files:
            records.append(load_file(f))
    return records


PRIOR_HELP = (
    "sign constraints of the physics classifier (it decides healthy vs faulty alone on machines "
    "outside the generic expert's domain): 'strict' (defect-frequency energy counts only for its own "
    "fault; shaft modulation and impulsiveness never for health), 'evidence' (shaft and time "
    "statistics free: higher CWRU scores, but learns the CWRU rig's normal recording), 'none'"
)
HEALTH_HELP = (
    "who decides healthy vs faulty: 'gated' (both experts; the generic one only on windows close "
    "to a training recording) or 'physics' (the physics classifier alone, everywhere)"
)


def _possible_splits(records: list[Any], splits: list[str], console: Console) -> list[str]:
    """The protocols these files allow (`feasible_splits`); the others are named and skipped.

    E.g. held-out CWRU 3 hp alone has one load, so there is no load to leave out: the module is
    still trained and shipped, with the bearing protocol's figures only."""
    from edgetwin.pdm.diagnose.splits import feasible_splits

    ok, skipped = feasible_splits(records, splits)
    for split, reason in skipped.items():
        console.print(f"{split} split skipped: {reason}")
    return ok


def _run_protocols(
    records: list[Any],
    splits: list[str],
    params: dict[str, Any],
    console: Console,
    prior: str = "strict",
    health: str = "gated",
) -> dict[str, Any]:
    from rich.progress import Progress

    from edgetwin.pdm.diagnose.experts import DiagnosisExperts
    from edgetwin.pdm.diagnose.module import module_predictor
    from edgetwin.pdm.diagnose.splits import make_folds
    from edgetwin.pdm.diagnose.train import run_split

    out = {}
    for split in splits:
        n = len(make_folds(records, split))
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task(f"{split} split", total=n)

            def advance(_name: str, task: Any = task, bar: Any = bar) -> None:
                bar.advance(task)

            res = run_split(
                records,
                split,
                params,
                lambda m, p: module_predictor(m, p, params),
                progress=advance,
                make_model=lambda: DiagnosisExperts(prior=prior, health=health),
            )
        out[split] = res
    return out


def train_diagnosis(
    data: list[Path] = typer.Option(..., "--data", help="CWRU .mat files or folders (repeat)"),
    out: Path = typer.Option(..., "--out", help="edge module to write (.zip)"),
    protocols: bool = typer.Option(
        True, help="also run the load and bearing protocols and store their figures in the manifest"
    ),
    prior: str = typer.Option("strict", help=PRIOR_HELP),
    health: str = typer.Option("gated", help=HEALTH_HELP),
) -> None:
    """Train the envelope diagnoser on every window of the given files and ship it as a module."""
    import numpy as np

    from edgetwin.edge import EdgeModule, update_module
    from edgetwin.edge.module import read_manifest
    from edgetwin.pdm.datasets.cwru import CLASSES
    from edgetwin.pdm.diagnose.experts import DiagnosisExperts
    from edgetwin.pdm.diagnose.module import (
        build_diagnosis_module,
        feature_params,
        module_predict,
        window_latency_ms,
    )
    from edgetwin.pdm.diagnose.splits import record_windows
    from edgetwin.pdm.diagnose.train import FeatureCache, confusion, fit_windows, gather

    console = Console()
    records = _load(data, console)
    params = feature_params(records[0].rate_hz)
    window, hop = int(records[0].rate_hz), int(records[0].rate_hz / 2)
    refs = [w for i in range(len(records)) for w in record_windows(records, i, window, hop)]
    with console.status(f"features and fit on {len(refs)} windows"):
        model = fit_windows(
            records,
            refs,
            params,
            window,
            FeatureCache(records, window, params),
            lambda: DiagnosisExperts(prior=prior, health=health),
        )
    path = build_diagnosis_module(model, out, params, data_files=[r.meta.path for r in records])
    mod = EdgeModule.load(path, intra_op_threads=1)
    x, shaft, y = gather(records, refs, window)
    fit_res = confusion(y.tolist(), module_predict(mod, x, shaft), CLASSES)
    lat = window_latency_ms(mod, x[0], float(shaft[0]))
    verification: dict[str, Any] = {
        "evaluated_with": "exported module, fp32, envelope_features + onnxruntime",
        "training_windows": fit_res.to_dict(),
        "latency_ms_per_1s_window_p50": float(np.median(lat[:, 0])),
        "latency_ms_per_1s_window_p99": float(np.percentile(lat[:, 0], 99)),
        "cpu_ms_per_1s_window_p50": float(np.median(lat[:, 1])),
        "latency_threads": 1,
    }
    print_confusion(
        "training windows (exported module)",
        fit_res.accuracy,
        fit_res.confusion,
        fit_res.labels,
        console,
    )
    if protocols:
        for split, res in _run_protocols(
            records,
            _possible_splits(records, ["load", "bearing"], console),
            params,
            console,
            prior,
            health,
        ).items():
            verification[f"cwru_{split}_split"] = {
                "accuracy_mean_of_folds": res.accuracy,
                "folds": {f.name: f.result.accuracy for f in res.folds},
                "confusion": res.confusion.tolist(),
            }
            print_confusion(
                f"{split} split (mean of folds)",
                res.accuracy,
                res.confusion,
                CLASSES,
                console,
            )
    manifest = read_manifest(path)
    manifest.verification.update(verification)
    update_module(path, manifest=manifest)
    console.print(
        f"module [bold]{path}[/]: median {np.median(lat[:, 0]):.2f} ms wall, "
        f"{np.median(lat[:, 1]):.2f} ms CPU per 1-s window (1 thread)"
    )


def eval_diagnosis(
    model: Path = typer.Option(..., "--model", help="diagnosis edge module (.zip)"),
    data: list[Path] = typer.Option(..., "--data", help="CWRU .mat test files or folders (repeat)"),
    hop_s: float = typer.Option(0.5, help="window hop in seconds (windows are 1 s)"),
) -> None:
    """Score a module on CWRU files; every file given is a test file, labelled by its name."""
    from edgetwin.edge import EdgeModule
    from edgetwin.pdm.datasets.cwru import CLASSES
    from edgetwin.pdm.diagnose.module import module_predict
    from edgetwin.pdm.diagnose.splits import record_windows
    from edgetwin.pdm.diagnose.train import confusion, gather

    console = Console()
    mod = EdgeModule.load(model)
    records = _load(data, console)
    rate = float((mod.manifest.preprocess or {}).get("params", {}).get("rate_hz", 12000.0))
    window, hop = int(rate), max(1, int(hop_s * rate))
    refs = [w for i in range(len(records)) for w in record_windows(records, i, window, hop)]
    with console.status(f"diagnosing {len(refs)} windows"):
        x, shaft, y = gather(records, refs, window)
        pred = module_predict(mod, x, shaft)
    res = confusion(y.tolist(), pred, CLASSES)
    print_confusion(
        f"{model.name} on {len(records)} files, {res.n} windows",
        res.accuracy,
        res.confusion,
        res.labels,
        console,
    )


def bench_diagnosis(
    split: str = typer.Option(..., "--split", help="bearing | load | random"),
    data: list[Path] = typer.Option(..., "--data", help="CWRU .mat files or folders (repeat)"),
    prior: str = typer.Option("strict", help=PRIOR_HELP),
    health: str = typer.Option("gated", help=HEALTH_HELP),
) -> None:
    """Run one CWRU protocol end to end (train, export, score the module) and print figures."""
    from edgetwin.pdm.datasets.cwru import CLASSES
    from edgetwin.pdm.diagnose.module import feature_params

    console = Console()
    records = _load(data, console)
    res = _run_protocols(
        records, [split], feature_params(records[0].rate_hz), console, prior, health
    )[split]
    table = Table(title=f"CWRU {split} split, exported module")
    for col in ("fold", "train windows", "test windows", "accuracy %", "train s"):
        table.add_column(col, justify="right")
    for f in res.folds:
        table.add_row(
            f.name,
            str(f.n_train),
            str(f.result.n),
            f"{100 * f.result.accuracy:.2f}",
            f"{f.train_s:.2f}",
        )
    console.print(table)
    print_confusion(
        f"{split} split, all folds (accuracy = mean of folds)",
        res.accuracy,
        res.confusion,
        CLASSES,
        console,
    )


def register(app: typer.Typer) -> None:
    """Add this group's commands to `edgetwin pdm`."""
    app.command("train-diagnosis")(train_diagnosis)
    app.command("eval-diagnosis")(eval_diagnosis)
    app.command("bench-diagnosis")(bench_diagnosis)
