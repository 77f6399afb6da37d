"""The PdM modules under shop-floor conditions: robustness tables on their real data.

`bench/edge.py` measures a reference 1D CNN; this measures the modules the PdM room ships, as
built (`make demo` builds `artifacts/diagnosis.zip`; `edgetwin pdm train-rul` builds a RUL module),
through `EdgeModule.predict`, pre- and post-processing included:

- **bearing diagnosis** (CWRU envelope model): non-overlapping 1-second windows of every shared
  CWRU file, labels from the file names, the file's measured shaft speed passed alongside and
  left clean (a tachometer is a different sensor). Accuracy. The demo module is trained on all
  shared CWRU files, so the clean figure is a training-set figure: read the table for the change
  under each perturbation, not for generalisation (bench/pdm_cwru.py gives that).
- **remaining useful life** (C-MAPSS CNN ensemble): the official test split, one prediction per
  engine at its last cycle, RMSE against the truth capped at 125 cycles (the bench protocol).
  The 21 sensors are perturbed along the cycle axis; the 3 operating settings are commanded
  values and stay clean. Each engine's whole history is perturbed and given to the module (the
  default model reads the engine's age and its change since its first cycles). Lower is better.

Run: `nice .venv/bin/python bench/edge_pdm.py [--diagnosis artifacts/diagnosis.zip]
[--rul artifacts/rul_fd001.zip --subset FD001] [--precision fp32 int8]`
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from edgetwin.edge import EdgeModule  # noqa: E402
from edgetwin.edge.robustness import robustness_table  # noqa: E402

console = Console(width=160)
DATA = Path(os.environ.get("EDGETWIN_DATA", ROOT.parent / "shared" / "data"))


def diagnosis_table(module: EdgeModule, cwru: Path, seed: int = 0) -> dict[str, Any]:
    """Accuracy of the diagnosis module under the time-series perturbations."""
    from edgetwin.pdm.datasets.cwru import find_files, load_file

    rate = float((module.manifest.preprocess or {}).get("params", {}).get("rate_hz", 12000.0))
    n = int(rate)  # 1-second windows, as the module is specified
    xs, ys, shafts = [], [], []
    for path in find_files([cwru]):
        rec = load_file(path)
        k = rec.signal.size // n
        xs.append(rec.signal[: k * n].reshape(k, n))
        ys += [rec.meta.label] * k
        shafts.append(np.full(k, rec.rpm / 60.0))
    x = np.concatenate(xs).astype(np.float32)
    y = np.asarray(ys, dtype=object)

    def predict(batch: np.ndarray, shaft_hz: np.ndarray) -> np.ndarray:
        out = module.predict({"waveform": batch, "shaft_hz": shaft_hz})
        return np.asarray([str(v) for v in out], dtype=object)

    t0 = time.perf_counter()
    table = robustness_table(
        predict,
        x,
        y,
        "accuracy",
        seed=seed,
        batch_size=64,
        extra={"shaft_hz": np.concatenate(shafts)},
    )
    return {"table": table, "n": len(y), "seconds": time.perf_counter() - t0}


def _padded_histories(histories: list[np.ndarray], length: int) -> np.ndarray:
    out = np.empty((len(histories), length, histories[0].shape[1]), dtype=np.float64)
    for i, h in enumerate(histories):
        tail = h[-length:]
        out[i, : length - len(tail)] = tail[0]
        out[i, length - len(tail) :] = tail
    return out


def rul_table(module: EdgeModule, test: Path, truth: Path, seed: int = 0) -> dict[str, Any]:
    """RMSE (capped truth) of the RUL module under the time-series perturbations."""
    from edgetwin.pdm.datasets.cmapss import load_runs, load_truth

    runs = load_runs(test)
    histories = runs.histories()
    capped = np.minimum(load_truth(truth, len(histories)), 125.0)
    params = (module.manifest.preprocess or {}).get("params", {})
    n_settings = int(params.get("n_settings", 3))
    # whole histories, right-aligned in one array for the perturbations; each engine's own rows
    # are cut back out before the module sees them, so a model that reads the engine's age or
    # its change since the first cycles gets exactly what the full-history run gets
    lengths = np.array([len(h) for h in histories])
    hist = _padded_histories(histories, int(lengths.max()))
    sensors = np.ascontiguousarray(hist[:, :, n_settings:].transpose(0, 2, 1))  # time last
    settings = hist[:, :, :n_settings]

    def predict(batch: np.ndarray, settings: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        full = np.concatenate([settings, batch.transpose(0, 2, 1)], axis=2)
        own = [h[len(h) - n :] for h, n in zip(full, lengths, strict=True)]
        return np.asarray(module.predict(own)["rul"], dtype=np.float64)

    clean_full = np.asarray(module.predict(histories)["rul"], dtype=np.float64)
    t0 = time.perf_counter()
    table = robustness_table(
        predict,
        sensors,
        capped,
        "rmse",
        seed=seed,
        batch_size=128,
        extra={"settings": settings, "lengths": lengths},
    )
    return {
        "table": table,
        "n": len(capped),
        "seconds": time.perf_counter() - t0,
        # the padded bench histories against the full histories: the padding must not matter
        "rmse_full_histories": float(np.sqrt(np.mean((clean_full - capped) ** 2))),
    }


def run(
    diagnosis: Path | None,
    rul: Path | None,
    subset: str,
    precisions: list[str],
    cmapss: Path,
    cwru: Path,
    seed: int = 0,
) -> dict[str, Any]:
    """Every requested module and precision; modules or data that are absent are skipped."""
    results: dict[str, Any] = {}
    jobs: list[tuple[str, Path, Any]] = []
    if diagnosis and diagnosis.exists() and cwru.exists():
        jobs.append(("diagnosis", diagnosis, lambda m: diagnosis_table(m, cwru, seed)))
    test, truth = cmapss / f"test_{subset}.txt", cmapss / f"RUL_{subset}.txt"
    if rul and rul.exists() and test.exists():
        jobs.append(("rul", rul, lambda m: rul_table(m, test, truth, seed)))
    for name, path, fn in jobs:
        for precision in precisions:
            try:
                mod = EdgeModule.load(path, precision=precision)
            except Exception as exc:  # e.g. no INT8 twin inside: say so and go on
                console.print(f"[yellow]{name} {precision}: skipped ({exc})[/]")
                continue
            out = fn(mod)
            table = out.pop("table")
            console.print(f"[bold]{name}[/] module {path.name} ({mod.manifest.name}), {precision}")
            console.print(table.rich())
            results[f"{name}_{precision}"] = {
                "module": str(path),
                **out,
                **table.to_dict(),
                "markdown": table.markdown(),
            }
    return results


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--diagnosis", type=Path, default=ROOT / "artifacts" / "diagnosis.zip")
    ap.add_argument("--rul", type=Path, default=ROOT / "artifacts" / "rul_fd001.zip")
    ap.add_argument("--subset", default="FD001", help="C-MAPSS test split the RUL module is for")
    ap.add_argument("--precision", nargs="+", default=["fp32", "int8"])
    ap.add_argument("--cwru", type=Path, default=DATA / "cwru")
    ap.add_argument("--cmapss", type=Path, default=DATA / "cmapss")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="write the tables as JSON here")
    args = ap.parse_args()
    results = run(
        args.diagnosis, args.rul, args.subset, args.precision, args.cmapss, args.cwru, args.seed
    )
    if not results:
        console.print("no PdM module or data found: nothing measured")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, default=str))
        console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
