"""Visual inspection benchmark: the exported PatchCore module on Magnetic Tile, beside the field.

Protocol (stated in docs/vision.md): MT_Free of the shared folder is split by salted SHA-1 of the
stem into train (55%, memory bank), calibration (15%, threshold from good parts only) and
test-good (30%); every image of every other MT_<class> folder (Blowhole/Break/Crack shared;
other defect types when present) is a test defect. Images are resized to
224 x 224 (stretching), gray replicated to RGB. Pixel metrics at 224 x 224 with masks cut at 128;
AUPRO integrated to 30% FPR. The threshold is the 99th percentile of calibration-good scores
(1% false-reject target), computed separately for fp32 and INT8. Every figure is measured on
the exported module through onnxruntime (2 threads), not on the torch training object.

Sections: accuracy (fp32, INT8; with and without lighting-augmented memory bank), latency at
224 and 512 px (batch 1, 2 threads, fp32 and INT8, median over repeats), robustness to ambient
perturbations (edgetwin.edge.robustness plus a gamma curve) and the effect of the augmentation.

    python bench/vision.py                        # full protocol (about 35 min on 2 busy cores)
    python bench/vision.py --quick                # fewer robustness images and levels
    python bench/vision.py --accuracy-only        # accuracy table only (~12 min; --no-augment-variant ~8)
    python bench/vision.py --no-position-norm     # raw anomaly map: the figures before the normalisation
    python bench/vision.py --image-gaussian       # the image Gaussian option added to the score
    python bench/vision.py --robust-n 200 --no-augment-variant   # the default (mask, bank 8192)
    python bench/vision.py --bank-size 4096 --observed-px -1      # the previous default (no mask)
    python bench/vision.py --accuracy-only --no-photometric --bank-size 2048 --fp32-search \
        --observed-px -1                          # the default two rounds back (ablations: any subset)

Skips (exit 0, with the reason) when the data set is absent.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "magnetic_tile"

# Reference point of the field (anomalib's published table, MVTec AD, mean over 15 categories).
REFERENCE = {"name": "PatchCore WR50 (anomalib), MVTec AD", "image_auroc": 0.980}
TARGETS = {"image_auroc": 0.97, "pixel_auroc": 0.97, "int8_ips_224": 50.0, "lighting_drop": 0.03}
LIGHTING = ("brightness", "contrast", "gamma")
MODERATE = 3  # severity level called "moderate" for the lighting target


def gamma_perturbation():  # type: ignore[no-untyped-def]
    """Lighting non-linearity (exposure/gain curve) the edge room's set does not include."""
    from edgetwin.edge.robustness import Perturbation

    def apply(x: np.ndarray, v: float, rng: np.random.Generator) -> np.ndarray:
        return np.clip(x, 0.0, 1.0) ** v

    return Perturbation("gamma", "image", "exponent", (1.0, 1.1, 1.25, 1.5, 2.0, 3.0), apply)


def evaluate_module(path: Path, precision: str, ds, images, size):  # type: ignore[no-untyped-def]
    from edgetwin.vision.evaluate import evaluate_maps, run_batched
    from edgetwin.vision.inspect import Inspector

    insp = Inspector(path, precision=precision, intra_op_threads=2)
    maps, scores = run_batched(insp.run_batch, images)
    return evaluate_maps(ds.test, maps, scores, insp.threshold, size), insp


def latency_section(console, module: Path, images, args) -> dict:  # type: ignore[no-untyped-def]
    """Batch-1 latency at 224 and 512 px, fp32 and INT8, 2 threads; medians over repeats."""
    import os

    from rich.table import Table

    from edgetwin.edge.bench import bench_module
    from edgetwin.vision.image import resize, to_batch

    load = os.getloadavg()[0]
    lat = Table(
        title=f"Latency of the exported module, batch 1, 2 threads (median over {args.repeats} repeats; "
        f"1-min load average {load:.1f} on this shared 2-core machine)"
    )
    for col in ("size px", "precision", "p50 ms", "p99 ms", "images/s", "peak RSS MB", "vs fp32"):
        lat.add_column(col, justify="right")
    out: dict = {"load_average": load}
    for side in (224, 512):
        samples = to_batch([resize(im, (side, side)) for im in images[:8]])
        runs: dict[str, list] = {"fp32": [], "int8": []}
        for _ in range(args.repeats):
            for row in bench_module(
                module,
                batches=(1,),
                providers=["CPUExecutionProvider"],
                threads=2,
                iterations=args.iterations,
                warmup=5,
                samples=samples,
            ):
                runs[row.precision].append(row)
        med = {
            p: {
                k: float(np.median([getattr(r, k) for r in rs]))
                for k in ("p50_ms", "p99_ms", "throughput")
            }
            | {"peak_rss_mb": max((r.peak_rss_mb or 0.0) for r in rs)}
            for p, rs in runs.items()
            if rs
        }
        for p, v in med.items():
            lat.add_row(
                str(side),
                p,
                f"{v['p50_ms']:.1f}",
                f"{v['p99_ms']:.1f}",
                f"{v['throughput']:.1f}",
                f"{v['peak_rss_mb']:.0f}",
                f"{v['throughput'] / med['fp32']['throughput']:.2f}x",
            )
        out[str(side)] = med
    console.print(lat)
    ips = out["224"]["int8"]["throughput"]
    console.print(
        f"INT8 224 px: {ips:.1f} images/s vs target {TARGETS['int8_ips_224']:.0f} "
        f"(ratio {ips / TARGETS['int8_ips_224']:.2f})"
    )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--bank-size", type=int, default=8192)
    ap.add_argument(
        "--search-dim", type=int, default=0, help="random projection for the search (0: none)"
    )
    ap.add_argument(
        "--fp32-search",
        action="store_true",
        help="INT8 twin quantizes the backbone only (search MatMul fp32, the previous policy)",
    )
    ap.add_argument("--frr", type=float, default=0.01)
    ap.add_argument("--repeats", type=int, default=3, help="latency repeats (median reported)")
    ap.add_argument("--iterations", type=int, default=60, help="timed calls per latency run")
    ap.add_argument("--robust-n", type=int, default=240, help="test images in the robustness table")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", type=Path, default=None, help="write all figures here")
    ap.add_argument("--keep", type=Path, default=None, help="keep the baseline module here")
    ap.add_argument(
        "--latency-only",
        type=Path,
        default=None,
        help="only time this module (e.g. one kept by --keep)",
    )
    ap.add_argument(
        "--no-position-norm",
        action="store_true",
        help="raw anomaly map (no per-pixel normalisation learned from good parts): the 'before' figures",
    )
    ap.add_argument(
        "--no-photometric",
        action="store_true",
        help="no per-image gray-level standardisation in the graph (the previous default)",
    )
    ap.add_argument(
        "--image-gaussian",
        action="store_true",
        help="add the Mahalanobis distance of pooled features to the map max (an option)",
    )
    ap.add_argument(
        "--observed-px",
        type=int,
        default=8,
        help="dilation (px) of the clipped-pixel mask of the map; -1: no mask (the previous default)",
    )
    ap.add_argument(
        "--noise-robust",
        action="store_true",
        help="patch features from block 5's expanded activation + block 10 (the opt-in "
        "noise-robust set, 352-d) instead of blocks 4 + 10",
    )
    ap.add_argument(
        "--no-augment-variant",
        action="store_true",
        help="skip the lighting-augmented bank (one module instead of two)",
    )
    ap.add_argument(
        "--accuracy-only",
        action="store_true",
        help="only the accuracy section (no latency/robustness)",
    )
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if not (args.data / "MT_Free").is_dir():
        print(f"skip: Magnetic Tile data not found at {args.data}")
        return 0

    from rich.console import Console
    from rich.table import Table

    from edgetwin.edge.robustness import image_perturbations, robustness_table
    from edgetwin.vision.datasets import load_magnetic_tile
    from edgetwin.vision.evaluate import load_images
    from edgetwin.vision.patchcore import DEFAULT_LAYERS, NOISE_ROBUST_LAYERS
    from edgetwin.vision.train import train_inspection

    console = Console(width=140)
    size = (args.size, args.size)
    ds = load_magnetic_tile(args.data)
    console.print(
        f"Magnetic Tile {args.data}: train {len(ds.train)}, calibration {len(ds.calibration)}, test "
        f"{sum(s.label == 0 for s in ds.test)} good + {sum(s.label for s in ds.test)} defective "
        f"({', '.join(ds.defect_types)}); {platform.processor() or platform.machine()}, 2 threads"
    )
    test_images = load_images(ds.test, size)
    if args.latency_only is not None:
        latency_section(console, args.latency_only, test_images, args)
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="edgetwin-vision-bench-"))
    observed_px = args.observed_px if args.observed_px >= 0 else None  # -1: no mask
    results: dict = {
        "protocol": ds.protocol,
        "size": list(size),
        "bank_size": args.bank_size,
        "frr": args.frr,
        "position_norm": not args.no_position_norm,
        "photometric": not args.no_photometric,
        "image_gaussian": args.image_gaussian,
        "search_dim": args.search_dim,
        "int8_search": not args.fp32_search,
        "observed_px": observed_px,
        "noise_robust": args.noise_robust,
    }
    layers, expanded_layers = NOISE_ROBUST_LAYERS if args.noise_robust else (DEFAULT_LAYERS, ())

    # -- accuracy ------------------------------------------------------------------------------
    modules: dict[str, Path] = {}
    acc = Table(
        title=f"Accuracy on the exported module (Magnetic Tile, {args.size} px, FRR target {args.frr:.0%})"
    )
    for col in (
        "bank",
        "precision",
        "fit s",
        "image AUROC",
        "pixel AUROC",
        "AUPRO@0.3",
        "FRR %",
        "escape %",
        *ds.defect_types,  # every MT_<class> present (held-out types included), image AUROC
    ):
        acc.add_column(col, justify="right")
    variants = [("good parts", None)]
    if not args.no_augment_variant:
        variants.append(("+ lighting variants", "lighting"))
    for variant, augment in variants:
        t0 = time.perf_counter()
        res = train_inspection(
            ds,
            tmp / f"{augment or 'base'}.zip",
            image_size=size,
            bank_size=args.bank_size,
            augment=augment,
            false_reject_rate=args.frr,
            name="mt-inspection",
            position_norm=not args.no_position_norm,
            photometric=not args.no_photometric,
            image_gaussian=args.image_gaussian,
            search_dim=args.search_dim or None,
            int8_search=not args.fp32_search,
            observed_px=observed_px,
            layers=layers,
            expanded_layers=expanded_layers,
        )
        fit_s = time.perf_counter() - t0
        modules[variant] = res.path
        for precision in ("fp32", "int8"):
            m, _ = evaluate_module(res.path, precision, ds, test_images, size)
            m["fit_s"] = fit_s
            m["parity"] = {k: v["max_abs"] for k, v in res.parity.items()}
            results.setdefault("accuracy", {}).setdefault(variant, {})[precision] = m
            per = m["per_defect"]
            acc.add_row(
                variant,
                precision,
                f"{fit_s:.0f}",
                f"{m['image_auroc']:.4f}",
                f"{m['pixel_auroc']:.4f}",
                f"{m['aupro_0.3']:.4f}",
                f"{100 * m['false_reject_rate']:.1f}",
                f"{100 * m['escape_rate']:.1f}",
                *[f"{per[d]['image_auroc']:.3f}" for d in ds.defect_types],
            )
        console.print(
            f"  {variant}: parity "
            + ", ".join(f"{k} max|d| {v['max_abs']:.3g}" for k, v in res.parity.items())
        )
    console.print(acc)
    base = results["accuracy"]["good parts"]
    cmp = Table(title="Against the targets and the field's reference")
    for col in (
        "figure",
        "ours (fp32)",
        "ours (INT8)",
        "target",
        "ratio INT8/target",
        "reference",
        "ratio INT8/ref",
    ):
        cmp.add_column(col, justify="right")
    for key, label in (("image_auroc", "image AUROC"), ("pixel_auroc", "pixel AUROC")):
        ref = REFERENCE["image_auroc"] if key == "image_auroc" else float("nan")
        cmp.add_row(
            label,
            f"{base['fp32'][key]:.4f}",
            f"{base['int8'][key]:.4f}",
            f"{TARGETS[key]:.2f}",
            f"{base['int8'][key] / TARGETS[key]:.3f}",
            f"{ref:.3f}" if ref == ref else "-",
            f"{base['int8'][key] / ref:.3f}" if ref == ref else "-",
        )
    console.print(cmp)
    console.print(
        f"reference: {REFERENCE['name']} image AUROC {REFERENCE['image_auroc']} (a different data set: "
        "MVTec AD is not available here; it sets the level of the field, not a like-for-like score)"
    )

    if args.accuracy_only:
        _write(args, results, modules)
        return 0

    # -- latency -------------------------------------------------------------------------------
    results["latency"] = latency_section(console, modules["good parts"], test_images, args)

    # -- robustness ------------------------------------------------------------------------------
    rng = np.random.default_rng(0)
    n = min(args.robust_n if not args.quick else 100, len(ds.test))
    idx = np.sort(rng.choice(len(ds.test), n, replace=False))
    X = np.stack([test_images[i] for i in idx]).astype(np.float32)  # NHWC in [0, 1]
    y = np.array([ds.test[i].label for i in idx])
    perts = {**image_perturbations("NHWC"), "gamma": gamma_perturbation()}
    names = ["brightness", "contrast", "gamma", "defocus", "motion", "noise", "jpeg", "occlusion"]
    levels = (1, 3, 5) if args.quick else (1, 2, 3, 4, 5)
    tables = {}
    for variant, path in modules.items():
        from edgetwin.edge import EdgeModule

        mod = EdgeModule.load(path, precision="int8", intra_op_threads=2)

        def predict(x: np.ndarray, mod=mod) -> np.ndarray:  # type: ignore[no-untyped-def]
            return mod.run({"image": np.ascontiguousarray(x.transpose(0, 3, 1, 2))})["score"]

        chosen = names if variant == "good parts" else list(LIGHTING)
        t = robustness_table(
            predict,
            X,
            y,
            metric="auroc",
            perturbations=[perts[k] for k in chosen],
            severities=levels,
            batch_size=16,
        )
        tables[variant] = t
        results.setdefault("robustness", {})[variant] = t.to_dict()
        console.print(f"[bold]{variant}[/] (INT8 module, {n} test images, image AUROC):")
        console.print(t.rich())
    eff = Table(title=f"Lighting robustness: AUROC drop at severity {MODERATE} ('moderate'), INT8")
    for col in ("perturbation", "value", *modules, "target drop"):
        eff.add_column(col, justify="right")
    for name in LIGHTING:
        row = []
        for variant in modules:
            t = tables[variant]
            r = next(r for r in t.rows if r.perturbation == name and r.severity == MODERATE)
            row.append(f"{t.clean:.4f} -> {r.metric:.4f} ({-r.delta:+.4f})")
        eff.add_row(
            name, f"{perts[name].values[MODERATE]:g}", *row, f"<= {TARGETS['lighting_drop']}"
        )
    console.print(eff)
    _write(args, results, modules)
    return 0


def _write(args, results: dict, modules: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, default=float))
    if args.keep:
        args.keep.write_bytes(modules["good parts"].read_bytes())


if __name__ == "__main__":
    sys.exit(main())
