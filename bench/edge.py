"""Edge-module benchmark: runtime overhead, INT8 speed-up and accuracy, robustness tables.

A 1D CNN of the shape the PdM models use (four conv blocks, global average pooling, linear head)
is trained on real CWRU drive-end vibration (12 kHz, 1024-sample windows, 4 classes: normal,
ball, inner race, outer race) on motor loads 0 and 1 hp and tested on load 2 hp (the normal
baseline exists only at 0 hp, so its first 60 % trains and its last 40 % tests). The 3 hp
hold-out is not touched. Then, in the same run:

1. export to ONNX, parity vs torch;
2. module build, static QDQ INT8 twin calibrated on 256 training windows;
3. module runtime overhead at batch 1 against a bare `onnxruntime.InferenceSession.run`
   (target <= 5 %), medians over rounds with interleaved order;
4. INT8 vs fp32 latency (target >= 2.5x speed-up) and test accuracy change (target <= 1 %);
5. accuracy under the time-series perturbations at graded severities, fp32 and INT8;
6. the same speed-up / overhead figures for every module committed under `artifacts/`;
7. robustness tables of the PdM modules themselves (bearing diagnosis on CWRU, RUL on the
   C-MAPSS test split) when they are built under `artifacts/` (`bench/edge_pdm.py`).

Run: `nice .venv/bin/python bench/edge.py [--data /work/shared/data/cwru] [--rounds 7]`
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from edgetwin.edge import DatasetRef, EdgeModule, InputStats, Manifest, build_module, update_module  # noqa: E402
from edgetwin.edge.bench import interleaved as interleaved_s  # noqa: E402
from edgetwin.edge.module import MODEL_FP32, MODEL_INT8, make_session, read_module_files  # noqa: E402
from edgetwin.edge.parity import check_parity  # noqa: E402
from edgetwin.edge.quantize import quantize_static  # noqa: E402
from edgetwin.edge.robustness import robustness_table  # noqa: E402
from edgetwin.edge.runtime import ModuleRunner  # noqa: E402
from edgetwin.pdm.datasets.cwru import load_file, parse_name, windows  # noqa: E402

console = Console(width=160)
CLASSES = ["normal", "inner_race", "ball", "outer_race"]
WINDOW = 1024


def load_cwru(
    folder: Path,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[DatasetRef]]:
    """Train: loads 0/1 hp (+ first 60 % of normal); test: load 2 hp (+ last 40 % of normal)."""
    xs_tr, ys_tr, xs_te, ys_te, refs = [], [], [], [], []
    for path in sorted(folder.glob("*.mat")):
        meta = parse_name(path)
        rec = load_file(path)
        label = CLASSES.index(meta.label)
        if meta.label == "normal":
            cut = int(0.6 * rec.signal.size)
            tr, te = (
                windows(rec.signal[:cut], WINDOW, 512),
                windows(rec.signal[cut:], WINDOW, WINDOW),
            )
        elif meta.load_hp in (0, 1):
            tr, te = windows(rec.signal, WINDOW, 512), np.zeros((0, WINDOW))
        elif meta.load_hp == 2:
            tr, te = np.zeros((0, WINDOW)), windows(rec.signal, WINDOW, WINDOW)
        else:
            continue
        xs_tr.append(tr)
        ys_tr += [label] * len(tr)
        xs_te.append(te)
        ys_te += [label] * len(te)
        role = "train+test" if meta.label == "normal" else ("train" if meta.load_hp < 2 else "test")
        refs.append(DatasetRef.from_path(path.name, path, rows=len(tr) + len(te), role=role))
    x_tr = np.concatenate(xs_tr)[:, None, :].astype(np.float32)
    x_te = np.concatenate(xs_te)[:, None, :].astype(np.float32)
    return x_tr, np.array(ys_tr), x_te, np.array(ys_te), refs


def train_cnn(x: np.ndarray, y: np.ndarray, epochs: int, seed: int) -> Any:
    import torch
    from torch import nn

    torch.manual_seed(seed)
    torch.set_num_threads(2)

    def block(cin: int, cout: int, k: int, stride: int = 1) -> list[nn.Module]:
        return [
            nn.Conv1d(cin, cout, k, stride=stride, padding=k // 2),
            nn.BatchNorm1d(cout),
            nn.ReLU(),
            nn.MaxPool1d(2),
        ]

    net = nn.Sequential(
        *block(1, 16, 15, 2),
        *block(16, 32, 9),
        *block(32, 64, 5),
        *block(64, 64, 3),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(64, len(CLASSES)),
    )
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    counts = np.bincount(y, minlength=len(CLASSES))
    loss_fn = nn.CrossEntropyLoss(
        weight=torch.tensor(counts.sum() / (len(CLASSES) * counts), dtype=torch.float32)
    )
    xt, yt = torch.from_numpy(x), torch.from_numpy(y).long()
    gen = torch.Generator().manual_seed(seed)
    net.train()
    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt), 64):
            idx = perm[i : i + 64]
            opt.zero_grad()
            loss_fn(net(xt[idx]), yt[idx]).backward()
            opt.step()
    return net.eval()


def export_onnx(net: Any) -> bytes:
    import io

    import torch

    buf = io.BytesIO()
    torch.onnx.export(
        net,
        torch.zeros(1, 1, WINDOW),
        buf,
        input_names=["x"],
        output_names=["logits"],
        dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    return buf.getvalue()


def interleaved(fns: dict[str, Any], rounds: int, calls: int) -> dict[str, list[float]]:
    """Per-round median latency (ms) of each function (`edgetwin.edge.bench.interleaved`)."""
    per_round = interleaved_s(fns, rounds, calls, warmup=20)
    return {k: [s * 1e3 for s in v] for k, v in per_round.items()}


def overhead_one(
    path: Path, precision: str, x1_raw: np.ndarray, threads: int, rounds: int, calls: int
) -> dict[str, Any]:
    """Batch-1 latency: bare ORT vs EdgeModule.run, and bare ORT + the module's own processing
    functions vs ModuleRunner (which adds timing, budget check and drift tracking)."""
    files = read_module_files(path)
    mod = EdgeModule.load(path, precision=precision, intra_op_threads=threads)
    runner = ModuleRunner(mod)
    quiet = ModuleRunner(mod, drift_overhead=0.0)  # drift tracked on the first window only
    bare = make_session(
        files[MODEL_FP32 if precision == "fp32" else MODEL_INT8], ["CPUExecutionProvider"], threads
    )
    feeds = mod.preprocess(x1_raw)
    in_name = bare.get_inputs()[0].name
    pre_fn, pre_params = mod.processing("pre") or (None, {})
    post_fn, post_params = mod.processing("post") or (None, {})

    def by_hand() -> Any:
        xin = pre_fn(x1_raw, **pre_params) if pre_fn else x1_raw
        out = bare.run(None, {in_name: xin})[0]
        return post_fn(out, **post_params) if post_fn else out

    t = interleaved(
        {
            "bare": lambda: bare.run(None, feeds),
            "module_run": lambda: mod.run(feeds),
            "by_hand": by_hand,
            "runner": lambda: runner.run_window(x1_raw),
            "runner_nodrift": lambda: quiet.run_window(x1_raw),
        },
        rounds,
        calls,
    )
    med = {k: statistics.median(v) for k, v in t.items()}
    ratio_run = statistics.median([a / b for a, b in zip(t["module_run"], t["bare"], strict=True)])
    ratio_runner = statistics.median(
        [a / b for a, b in zip(t["runner"], t["by_hand"], strict=True)]
    )
    ratio_quiet = statistics.median(
        [a / b for a, b in zip(t["runner_nodrift"], t["by_hand"], strict=True)]
    )
    return {
        "module": mod.manifest.name,
        "precision": precision,
        "threads": threads,
        **{f"{k}_ms": v for k, v in med.items()},
        "run_overhead": ratio_run - 1,
        "runner_overhead": ratio_runner - 1,
        "runner_nodrift_overhead": ratio_quiet - 1,
        "drift_updates": f"{runner.drift_updates}/{runner.calls}",
    }


def overhead_rows(
    path: Path, x1_raw: np.ndarray, threads: int, rounds: int, calls: int
) -> list[dict[str, Any]]:
    files = read_module_files(path)
    return [
        overhead_one(path, precision, x1_raw, threads, rounds, calls)
        for precision, name in (("fp32", MODEL_FP32), ("int8", MODEL_INT8))
        if name in files
    ]


def speed_rows(
    path: Path, threads: int, rounds: int, calls: int, batches: tuple[int, ...]
) -> list[dict[str, Any]]:
    files = read_module_files(path)
    if MODEL_INT8 not in files:
        return []
    fp, q = (
        make_session(files[n], ["CPUExecutionProvider"], threads) for n in (MODEL_FP32, MODEL_INT8)
    )
    man = Manifest.from_json(files["manifest.json"])
    from edgetwin.edge.bench import synthetic_feeds

    rows = []
    for b in batches:
        try:
            feeds = synthetic_feeds(man, b)
        except Exception as exc:  # dynamic non-batch axes: no synthetic inputs
            console.print(f"[yellow]{man.name}: {exc}[/]")
            return rows
        t = interleaved(
            {"fp32": lambda f=feeds: fp.run(None, f), "int8": lambda f=feeds: q.run(None, f)},
            rounds,
            max(5, calls // b),
        )
        speedup = statistics.median([a / c for a, c in zip(t["fp32"], t["int8"], strict=True)])
        rows.append(
            {
                "module": man.name,
                "batch": b,
                "threads": threads,
                "fp32_ms": statistics.median(t["fp32"]),
                "int8_ms": statistics.median(t["int8"]),
                "speedup": speedup,
            }
        )
    return rows


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    t = Table(title=title)
    for k in rows[0]:
        t.add_column(k, justify="left" if isinstance(rows[0][k], str) else "right")
    for r in rows:
        t.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in r.values()])
    console.print(t)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("EDGETWIN_DATA", ROOT.parent / "shared" / "data")) / "cwru",
    )
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="write all figures as JSON here")
    ap.add_argument("--module", type=Path, default=None, help="keep the trained module here")
    ap.add_argument(
        "--reuse", action="store_true", help="load --module instead of training (latency re-runs)"
    )
    ap.add_argument("--skip-robustness", action="store_true")
    ap.add_argument(
        "--skip-pdm", action="store_true", help="no robustness tables of the artifacts/ PdM modules"
    )
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    # the bench signs with its own dev key; kept beside --module so --reuse trusts it
    home = args.module.parent / ".edgetwin-home" if args.module else None
    os.environ.setdefault("EDGETWIN_HOME", str(home or tempfile.mkdtemp(prefix="edgetwin-home-")))
    results: dict[str, Any] = {
        "threads": args.threads,
        "rounds": args.rounds,
        "calls": args.calls,
        "cpus": os.cpu_count(),
    }

    t0 = time.perf_counter()
    x_tr, y_tr, x_te, y_te, refs = load_cwru(args.data)
    mean, std = float(x_tr.mean()), float(x_tr.std())
    console.print(
        f"CWRU: train {len(x_tr)} windows (loads 0,1 hp), test {len(x_te)} windows (load 2 hp); "
        f"classes {np.bincount(y_tr).tolist()} / {np.bincount(y_te).tolist()}"
    )
    if args.reuse and args.module and args.module.exists():
        path = args.module
        fp = EdgeModule.load(path)
        q = EdgeModule.load(path, precision="int8")
        onnx_logits = fp.run(fp.preprocess(x_te))["logits"]
        q_logits = q.run(q.preprocess(x_te))["logits"]
        acc_fp = float(np.mean(onnx_logits.argmax(1) == y_te))
        acc_q = float(np.mean(q_logits.argmax(1) == y_te))
        results["accuracy"] = {
            "module": str(path),
            "onnx_fp32": acc_fp,
            "onnx_int8": acc_q,
            "change_int8": acc_q - acc_fp,
            "int8_label_agreement": float(np.mean(q_logits.argmax(1) == onnx_logits.argmax(1))),
            "n_test": len(y_te),
        }
    else:
        net = train_cnn((x_tr - mean) / std, y_tr, args.epochs, args.seed)
        train_s = time.perf_counter() - t0
        onnx_fp32 = export_onnx(net)
        import torch

        with torch.no_grad():
            torch_logits = net(torch.from_numpy((x_te - mean) / std)).numpy()
        pre = {
            "function": "edgetwin.edge.processing:standardize",
            "params": {"mean": mean, "std": std},
        }
        post = {"function": "edgetwin.edge.processing:argmax_labels", "params": {"labels": CLASSES}}
        manifest = Manifest(
            name="cwru-cnn1d-bench",
            task="diagnosis",
            version="0.1.0",
            description="bench/edge.py reference 1D CNN on CWRU drive-end vibration",
            preprocess=pre,
            postprocess=post,
            data=refs,
            preparation=[
                "1024-sample windows, hop 512 (train) / 1024 (test)",
                "global standardisation",
            ],
            model={
                "family": "1d-cnn",
                "hyperparameters": {
                    "blocks": [16, 32, 64, 64],
                    "epochs": args.epochs,
                    "lr": 2e-3,
                    "batch": 64,
                },
            },
            operation={
                "monitors": ["latency", "input-drift"],
                "latency_budget_ms": 10.0,
                "input_stats": {"x": InputStats.from_array((x_tr - mean) / std)},
            },
        )
        work = Path(tempfile.mkdtemp(prefix="edgetwin-bench-"))
        path = args.module or work / "cwru-cnn1d.zip"
        path = build_module(path, onnx_fp32=onnx_fp32, manifest=manifest)
        fp = EdgeModule.load(path)
        onnx_logits = fp.run(fp.preprocess(x_te))["logits"]
        parity = check_parity(torch_logits, onnx_logits, atol=1e-3, rtol=1e-3, name="torch->onnx")
        rng = np.random.default_rng(args.seed)
        cal_idx = rng.choice(len(x_tr), size=256, replace=False)
        cal = [fp.preprocess(x_tr[cal_idx[i : i + 16]]) for i in range(0, 256, 16)]
        update_module(path, onnx_int8=quantize_static(onnx_fp32, cal))
        q = EdgeModule.load(path, precision="int8")
        q_logits = q.run(q.preprocess(x_te))["logits"]
        acc_torch = float(np.mean(torch_logits.argmax(1) == y_te))
        acc_fp = float(np.mean(onnx_logits.argmax(1) == y_te))
        acc_q = float(np.mean(q_logits.argmax(1) == y_te))
        results["accuracy"] = {
            "torch": acc_torch,
            "onnx_fp32": acc_fp,
            "onnx_int8": acc_q,
            "change_int8": acc_q - acc_fp,
            "export_parity_max_abs": parity.max_abs,
            "int8_label_agreement": float(np.mean(q_logits.argmax(1) == onnx_logits.argmax(1))),
            "train_s": train_s,
            "n_test": len(y_te),
        }

    print_table("accuracy on CWRU load 2 hp (test), 4 classes", [results["accuracy"]])
    x1 = x_te[:1].copy()
    over = overhead_rows(path, x1, args.threads, args.rounds, args.calls)
    results["overhead"] = over
    print_table(
        f"batch-1 latency, median of {args.rounds} rounds x {args.calls} calls (target: overhead <= 5 %)",
        over,
    )
    speed = speed_rows(path, args.threads, args.rounds, args.calls, (1, 32))
    results["speedup"] = speed
    print_table("INT8 (static QDQ) vs fp32 (target >= 2.5x)", speed)

    rob = {}
    for precision, mod in () if args.skip_robustness else (("fp32", fp), ("int8", q)):
        table = robustness_table(
            lambda b, m=mod: m.run(m.preprocess(b))["logits"].argmax(1),
            x_te,
            y_te,
            "accuracy",
            seed=args.seed,
        )
        console.print(table.rich())
        rob[precision] = table.to_dict()
        rob[precision + "_markdown"] = table.markdown()
    results["robustness"] = rob

    others_over, others_speed = [], []
    for art in (
        sorted((ROOT / "artifacts").glob("**/*.zip")) if (ROOT / "artifacts").exists() else []
    ):
        try:
            man = Manifest.from_json(read_module_files(art)["manifest.json"])
            sample = None
            from edgetwin.edge.bench import synthetic_feeds

            sample = synthetic_feeds(man, 1)
            first = next(iter(sample.values()))
            if man.preprocess is None:
                others_over += overhead_rows(
                    art, first, args.threads, max(3, args.rounds // 2), args.calls
                )
            others_speed += speed_rows(
                art, args.threads, max(3, args.rounds // 2), args.calls, (1, 32)
            )
        except Exception as exc:
            console.print(f"[yellow]artifact {art}: skipped ({exc})[/]")
    print_table("committed modules under artifacts/: overhead", others_over)
    print_table("committed modules under artifacts/: INT8 speed-up", others_speed)
    results["artifacts"] = {"overhead": others_over, "speedup": others_speed}
    if not (args.skip_robustness or args.skip_pdm):
        from edge_pdm import DATA, run

        results["pdm_robustness"] = run(
            ROOT / "artifacts" / "diagnosis.zip",
            ROOT / "artifacts" / "rul_fd001.zip",
            "FD001",
            ["fp32", "int8"],
            DATA / "cmapss",
            DATA / "cwru",
            args.seed,
        )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, default=str))
        console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
