"""`edgetwin module …`: Edge modules: build, quantize, benchmark, robustness, sign."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from edgetwin.core.errors import DataError, ModuleError

app = typer.Typer(
    help="Edge modules: build, quantize, benchmark, robustness, sign.", no_args_is_help=True
)
console = Console()


def load_arrays(path: Path, key: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Inputs (and labels when present) from `.npy` or `.npz` (keys `x`/`X` and `y`)."""
    if not path.exists():
        raise DataError(f"data file {path} does not exist")
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False), None
    if path.suffix != ".npz":
        raise DataError(f"data file {path}: use .npy (inputs) or .npz (x and optionally y)")
    with np.load(path, allow_pickle=False) as z:
        names = list(z.keys())
        xk = key or next(
            (k for k in ("x", "X", "inputs") if k in names), names[0] if len(names) == 1 else None
        )
        if xk is None or xk not in names:
            raise DataError(
                f"data file {path}: keys {names}; name the input array 'x' or pass --key"
            )
        y = next((z[k] for k in ("y", "Y", "labels") if k in names), None)
        return z[xk], y


def _print_rows(title: str, rows: list[tuple[str, str]]) -> None:
    t = Table(title=title, show_header=False)
    t.add_column(style="bold")
    t.add_column(overflow="fold")
    for k, v in rows:
        t.add_row(k, v)
    console.print(t)


@app.command("keygen")
def keygen(
    path: Path = typer.Argument(..., help="private key file to create (PEM)"),
    name: str = typer.Option(None, help="name shown as signer (default: file stem)"),
    trust: bool = typer.Option(True, help="add the public key to this machine's trust list"),
) -> None:
    """Create an ed25519 signing key; prints the public key to distribute to edge nodes."""
    from edgetwin.edge import signing

    key = signing.generate_key(path, trust=trust, name=name)
    pub = base64.b64encode(signing.public_key_bytes(key)).decode()
    console.print(
        f"key id {signing.key_id(key)}; public key (give this to `edgetwin module trust`):"
    )
    typer.echo(pub)


@app.command("trust")
def trust(
    public_key: str = typer.Argument(
        ..., help="base64 raw public key, or a module whose signer to trust"
    ),
    name: str = typer.Option(..., help="name of the signer (team, vendor)"),
) -> None:
    """Add a signer's public key to this machine's trust list."""
    from edgetwin.edge import signing
    from edgetwin.edge.module import SIGNATURE, read_module_files

    p = Path(public_key)
    if p.exists():
        doc = json.loads(read_module_files(p).get(SIGNATURE, b"{}"))
        if "public_key" not in doc:
            raise ModuleError(f"module {p} is unsigned; there is no key to trust")
        public_key = str(doc["public_key"])
    try:
        raw = base64.b64decode(public_key, validate=True)
    except ValueError as exc:
        raise ModuleError(f"public key {public_key!r}: not base64 ({exc})") from exc
    kid = signing.trust_key(raw, name)
    console.print(f"trusted key {kid} as {name!r}")


@app.command("build")
def build(
    model: Path = typer.Argument(..., help="fp32 ONNX model exported by a trainer"),
    manifest: Path = typer.Option(..., "--manifest", "-m", help="manifest JSON or YAML"),
    out: Path = typer.Option(..., "--out", "-o", help="module file to write (.zip)"),
    int8: Path = typer.Option(None, "--int8", help="INT8 twin, when already made"),
    key: Path = typer.Option(None, "--key", help="signing key (default: local dev key)"),
    reference_inputs: Path = typer.Option(
        None, "--reference-inputs", help="inputs (.npy/.npz) the training model scored"
    ),
    reference_outputs: Path = typer.Option(
        None, "--reference-outputs", help="the training model's scores on them (.npy)"
    ),
    atol: float = typer.Option(1e-4, help="parity: absolute tolerance, in the output's unit"),
    rtol: float = typer.Option(1e-3, help="parity: relative tolerance"),
) -> None:
    """Pack an ONNX model and its manifest into a signed module; parity-check when given references."""
    from edgetwin.edge import EdgeModule, Manifest, build_module, update_module
    from edgetwin.edge.parity import check_parity

    man = Manifest.from_file(manifest)
    path = build_module(
        out,
        onnx_fp32=model.read_bytes(),
        manifest=man,
        onnx_int8=int8.read_bytes() if int8 else None,
        signing_key=key,
    )
    if (reference_inputs is None) != (reference_outputs is None):
        raise ModuleError(
            "parity: pass both --reference-inputs and --reference-outputs, or neither"
        )
    if reference_inputs is not None and reference_outputs is not None:
        x, _ = load_arrays(reference_inputs)
        ref = np.load(reference_outputs)
        mod = EdgeModule.load(path)
        got = mod.run(mod.preprocess(x))[mod.output_names[0]]
        try:
            report = check_parity(
                ref, got, atol=atol, rtol=rtol, name="export parity (ONNX vs training model)"
            )
        except ModuleError:
            path.unlink()
            raise
        man = mod.manifest.model_copy(deep=True)
        man.evidence["parity_export"] = report.as_dict()
        man.verification["export_parity_max_abs"] = report.max_abs
        update_module(path, manifest=man, signing_key=key)
        console.print(
            f"export parity OK: max |diff| {report.max_abs:.3g} <= atol {atol} + rtol {rtol}"
        )
    console.print(f"built and signed {path}")


@app.command("quantize")
def quantize(
    module: Path = typer.Argument(..., help="module file (.zip)"),
    calibration: Path = typer.Option(
        ..., "--calibration", help="real inputs (.npy/.npz) for activation ranges"
    ),
    eval_data: Path = typer.Option(
        None, "--eval", help="held-out inputs (and labels y) for the parity check"
    ),
    tolerance: float = typer.Option(
        0.05, help="parity atol as a fraction of the fp32 output range"
    ),
    atol: float = typer.Option(None, help="absolute parity tolerance (overrides --tolerance)"),
    max_accuracy_drop: float = typer.Option(
        0.01, help="with labels: largest allowed accuracy drop (fraction)"
    ),
    method: str = typer.Option("minmax", help="calibration: minmax | entropy | percentile"),
    per_channel: bool = typer.Option(False, help="per-channel weight scales"),
    samples: int = typer.Option(512, help="calibration samples used at most"),
    key: Path = typer.Option(None, "--key", help="signing key (default: local dev key)"),
) -> None:
    """Make the static INT8 (QDQ) twin, parity-check it against fp32, record both in the module."""
    from edgetwin.edge import EdgeModule, update_module
    from edgetwin.edge.module import MODEL_FP32, read_module_files
    from edgetwin.edge.parity import check_parity
    from edgetwin.edge.quantize import quantize_static

    fp = EdgeModule.load(module)
    xcal, _ = load_arrays(calibration)
    cal_feeds = [
        fp.preprocess(b)
        for b in np.array_split(xcal[:samples], max(1, min(samples, len(xcal)) // 16))
    ]
    with console.status(f"calibrating on {min(samples, len(xcal))} samples ({method})"):
        int8 = quantize_static(
            read_module_files(module)[MODEL_FP32], cal_feeds, per_channel=per_channel, method=method
        )
    xev, yev = load_arrays(eval_data) if eval_data else (xcal, None)
    update_module(module, onnx_int8=int8, signing_key=key)
    q = EdgeModule.load(module, precision="int8")
    ref = fp.run(fp.preprocess(xev))[fp.output_names[0]]
    got = q.run(q.preprocess(xev))[q.output_names[0]]
    spread = float(np.ptp(ref)) or 1.0
    tol = atol if atol is not None else tolerance * spread
    report = check_parity(ref, got, atol=tol, name="int8 parity", raise_on_fail=False)
    evidence: dict[str, Any] = {
        **report.as_dict(),
        "method": method,
        "per_channel": per_channel,
        "calibration_samples": int(min(samples, len(xcal))),
        "eval": str(eval_data or calibration),
    }
    if yev is not None and ref.ndim == 2 and ref.shape[1] > 1:
        acc_fp, acc_q = float(np.mean(ref.argmax(1) == yev)), float(np.mean(got.argmax(1) == yev))
        evidence.update(accuracy_fp32=acc_fp, accuracy_int8=acc_q, accuracy_change=acc_q - acc_fp)
    man = fp.manifest.model_copy(deep=True)
    man.evidence["parity_int8"] = evidence
    man.verification["int8_parity_max_abs"] = report.max_abs
    if "accuracy_int8" in evidence:
        man.verification["accuracy_int8"] = evidence["accuracy_int8"]
    update_module(module, manifest=man, signing_key=key)
    _print_rows(
        "INT8 parity",
        [(k, f"{v:.4g}" if isinstance(v, float) else str(v)) for k, v in evidence.items()],
    )
    drop = -evidence.get("accuracy_change", 0.0)
    if not report.passed or drop > max_accuracy_drop:
        console.print(
            f"[bold red]INT8 twin FAILED parity[/] (recorded in the module): "
            f"{report.violations}/{report.n} values beyond atol {tol:.4g}; accuracy drop {drop:.4f}"
        )
        raise typer.Exit(1)
    console.print(f"INT8 twin written to {module}")


@app.command("bench")
def bench(
    module: Path = typer.Argument(..., help="module file (.zip)"),
    batch: list[int] = typer.Option([1, 32], "--batch", help="batch sizes (repeat the option)"),
    threads: int = typer.Option(None, help="intra-op threads (default: all CPUs)"),
    iterations: int = typer.Option(200, help="timed calls per configuration"),
    inputs: Path = typer.Option(
        None, "--inputs", help="real inputs (.npy/.npz) instead of random ones"
    ),
    provider: list[str] = typer.Option(
        None, "--provider", help="execution providers (default: all available)"
    ),
    record: bool = typer.Option(
        False, help="store the table as evidence in the module (re-signs it)"
    ),
    key: Path = typer.Option(None, "--key", help="signing key for --record"),
) -> None:
    """p50/p99/max latency, throughput, peak RSS per provider, fp32 and INT8, batch 1 and N."""
    from rich.progress import Progress

    from edgetwin.edge import read_manifest, update_module
    from edgetwin.edge.bench import bench_module, rows_table

    x = load_arrays(inputs)[0] if inputs else None
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("benchmark", total=None)
        rows = bench_module(
            module,
            batches=batch,
            providers=provider or None,
            threads=threads,
            iterations=iterations,
            samples=x,
            progress=lambda s: bar.update(task, description=s),
        )
    console.print(rows_table(rows, title=f"{module.name}: latency per call"))
    if record:
        man = read_manifest(module)
        man.evidence["bench"] = {"rows": [r.as_dict() for r in rows]}
        man.deployment.setdefault("measured", {})["this-machine"] = {
            f"{r.provider}/{r.precision}/b{r.batch}": {
                "p50_ms": r.p50_ms,
                "p99_ms": r.p99_ms,
                "threads": r.threads,
            }
            for r in rows
        }
        update_module(module, manifest=man, signing_key=key)
        console.print(f"recorded in {module}")


@app.command("robustness")
def robustness(
    module: Path = typer.Argument(..., help="module file (.zip)"),
    data: Path = typer.Option(
        ..., "--data", help=".npz with x (raw inputs) and y (labels or targets)"
    ),
    metric: str = typer.Option("accuracy", help="accuracy | f1 | auroc | mae | rmse"),
    domain: str = typer.Option("timeseries", help="timeseries | image"),
    perturbation: list[str] = typer.Option(None, "--perturbation", help="subset of perturbations"),
    layout: str = typer.Option("NHWC", help="image layout: NHWC | NCHW | NHW"),
    precision: str = typer.Option("fp32", help="fp32 | int8"),
    seed: int = typer.Option(0),
    record: bool = typer.Option(
        True, help="store the table as evidence in the module (re-signs it)"
    ),
    key: Path = typer.Option(None, "--key", help="signing key for --record"),
) -> None:
    """Metric versus severity under shop-floor perturbations; stored as evidence in the manifest."""
    from edgetwin.edge import EdgeModule, update_module
    from edgetwin.edge.robustness import robustness_table

    mod = EdgeModule.load(module, precision=precision)
    x, y = load_arrays(data)
    if y is None:
        raise DataError(f"data file {data}: needs labels/targets under key 'y'")

    def predict(batch: np.ndarray) -> np.ndarray:
        out = np.asarray(mod.predict(batch))
        if out.ndim == 2 and out.shape[1] > 1 and metric in ("accuracy", "f1"):
            return out.argmax(axis=1)
        if out.ndim == 2 and out.shape[1] == 1:
            return out[:, 0]
        return out

    with console.status("evaluating perturbations"):
        table = robustness_table(
            predict, x, y, metric, perturbations=perturbation or domain, seed=seed, layout=layout
        )
    console.print(table.rich())
    if record:
        man = mod.manifest.model_copy(deep=True)
        man.evidence[f"robustness_{precision}"] = table.to_dict() | {
            "data": str(data),
            "domain": domain,
        }
        update_module(module, manifest=man, signing_key=key)
        console.print(f"recorded in {module}")


@app.command("targets")
def targets(
    module: Path = typer.Argument(..., help="module file (.zip)"),
    budget_ms: float = typer.Option(
        None, help="latency budget per inference (default: manifest's)"
    ),
    batch: int = typer.Option(1),
    threads: int = typer.Option(None, help="ORT threads for the measurement on this machine"),
    record: bool = typer.Option(
        False, help="store the estimates in manifest.deployment (re-signs it)"
    ),
    key: Path = typer.Option(None, "--key", help="signing key for --record"),
) -> None:
    """ESTIMATED latency on edge targets (roofline), beside what this machine measures."""
    from edgetwin.edge import read_manifest
    from edgetwin.edge.bench import bench_module
    from edgetwin.edge.module import MODEL_FP32, read_module_files
    from edgetwin.edge.targets import TARGETS, estimate, measure_this_machine, model_cost

    man = read_manifest(module)
    budget = budget_ms if budget_ms is not None else man.operation.latency_budget_ms
    cost = model_cost(read_module_files(module)[MODEL_FP32], batch=batch)
    with console.status("profiling this machine and measuring the module"):
        here = measure_this_machine(threads)
        measured = {
            r.precision: r.p50_ms
            for r in bench_module(
                module,
                batches=(batch,),
                providers=["CPUExecutionProvider"],
                threads=threads,
                iterations=100,
            )
        }
    gaps = {
        p: measured[p] / estimate(cost, here, p).roofline_ms  # type: ignore[operator]
        for p in measured
        if p in here.peak_gops
    }
    gap = min(gaps.values()) if gaps else None
    t = Table(
        title=f"{man.name}: {cost.macs:,} MACs, {cost.params:,} params, batch {batch} "
        f"- roofline ESTIMATES (lower bounds), budget {budget} ms"
    )
    for col in (
        "target",
        "precision",
        "roofline ms",
        "bound",
        "x gap ms",
        "measured ms",
        "verdict",
    ):
        t.add_column(col)
    recorded: dict[str, Any] = {}
    for prof in [here, *TARGETS.values()]:
        for prec in ("fp32", "int8"):
            e = estimate(cost, prof, prec, budget, gap=gaps.get(prec, gap))
            recorded[f"{prof.key}/{prec}"] = e.as_dict()
            if not e.supported:
                t.add_row(prof.key, prec, "-", "-", "-", "-", "unsupported")
                continue
            meas = (
                f"{measured[prec]:.3f}" if prof.key == "this-machine" and prec in measured else ""
            )
            t.add_row(
                prof.key,
                prec,
                f"{e.roofline_ms:.4f}",
                str(e.bound),
                f"{e.calibrated_ms:.3f}" if e.calibrated_ms is not None else "-",
                meas,
                e.verdict or "-",
            )
    console.print(t)
    if record:
        from edgetwin.edge import update_module

        man.deployment["estimates"] = {
            "kind": "roofline estimate, not a measurement",
            "batch": batch,
            "budget_ms": budget,
            "macs": cost.macs,
            "this_machine": here.as_dict(),
            "measured_here_ms": measured,
            "targets": recorded,
        }
        update_module(module, manifest=man, signing_key=key)
    console.print(
        f"this machine: {here.peak_gops} GOPS, {here.bandwidth_gbs} GB/s ({here.source}); "
        f"gap measured/roofline here: { {k: round(v, 1) for k, v in gaps.items()} } - the 'x gap' "
        "column assumes the target's runtime is as (in)efficient as ONNX Runtime here."
    )


@app.command("inspect")
def inspect(
    module: Path = typer.Argument(..., help="module file (.zip)"),
    as_json: bool = typer.Option(False, "--json", help="print the manifest as JSON"),
    aas: Path = typer.Option(
        None, "--aas", help="write the IDTA 02060/02059 submodels (JSON) here"
    ),
) -> None:
    """Show a module's manifest by ISO/IEC 23053 stage, its files and its signature status."""
    from edgetwin.core.errors import SignatureError
    from edgetwin.edge import Manifest
    from edgetwin.edge.aas import manifest_to_aas_submodels
    from edgetwin.edge.module import MANIFEST, read_module_files, verify_files

    files = read_module_files(module)
    try:
        info = verify_files(files, f"module {module}")
        status = f"[green]verified[/], signed by {info.signer} (key {info.key_id})"
    except SignatureError as exc:
        status = f"[bold red]NOT VERIFIED[/]: {exc}"
    man = Manifest.from_json(files[MANIFEST])
    if as_json:
        typer.echo(man.to_json())
        return
    rows = [("module", f"{man.name} {man.version} ({man.task})"), ("signature", status)]
    rows += [(n, f"{len(b):,} bytes") for n, b in sorted(files.items())]
    for stage, value in man.stages().items():
        rows.append((stage, json.dumps(value, sort_keys=True)[:400]))
    rows.append(("evidence", ", ".join(sorted(man.evidence)) or "none"))
    _print_rows(f"module {module}", rows)
    if aas:
        aas.write_text(json.dumps(manifest_to_aas_submodels(man), indent=2))
        console.print(f"wrote AAS submodels to {aas}")


@app.command("sign")
def sign(
    module: Path = typer.Argument(..., help="module file (.zip) to (re-)sign"),
    key: Path = typer.Option(None, "--key", help="signing key (default: local dev key)"),
) -> None:
    """Sign a module you have reviewed (replaces any existing signature)."""
    from edgetwin.edge import signing
    from edgetwin.edge.module import SIGNATURE, read_module_files, write_module

    files = read_module_files(module)
    files.pop(SIGNATURE, None)
    write_module(module, files, key)
    k = signing.load_private_key(key) if key else signing.dev_key()
    console.print(f"signed {module} with key {signing.key_id(k)}")


@app.command("verify")
def verify(module: Path = typer.Argument(..., help="module file (.zip)")) -> None:
    """Check a module's signature and signer; exit 1 when unsigned, tampered or untrusted."""
    from edgetwin.core.errors import SignatureError
    from edgetwin.edge import verify_module

    try:
        info = verify_module(module)
    except SignatureError as exc:
        console.print(f"[bold red]REFUSED[/] {exc}")
        raise typer.Exit(1) from exc
    console.print(
        f"[green]OK[/] {module}: signed by {info.signer} (key {info.key_id}), {len(info.files)} files"
    )
