"""Latency, throughput and memory of a module, per execution provider, precision and batch.

Latency is measured around `session.run` (the same call `EdgeModule.run` makes) on inputs
built from the manifest's input shapes, or on real samples when given; p50/p99/max in ms,
throughput in samples/s, peak RSS in MiB (Linux: the process high-water mark, reset before
each configuration through /proc/self/clear_refs, so it includes the session's own memory).
The intra-op thread count is stated in every row: latency without it means nothing.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from edgetwin.core.errors import ModuleError
from edgetwin.edge.manifest import Manifest
from edgetwin.edge.module import (
    MODEL_INT8,
    PRECISIONS,
    make_session,
    read_module_files,
    verify_files,
)

log = logging.getLogger(__name__)

SKIP_PROVIDERS = {"AzureExecutionProvider"}  # a remote-call provider, not a local device


@dataclass(frozen=True)
class BenchRow:
    provider: str
    precision: str
    batch: int
    threads: int
    n: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    throughput: float  # samples per second
    peak_rss_mb: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def available_providers() -> list[str]:
    import onnxruntime as ort

    return [p for p in ort.get_available_providers() if p not in SKIP_PROVIDERS]


def _rss_mb(field_name: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def latency_stats(times_s: Sequence[float], batch: int) -> dict[str, float]:
    """p50/p99/max/mean in ms and throughput in samples/s from per-call times in seconds."""
    t = np.asarray(times_s, dtype=np.float64) * 1e3
    return {
        "p50_ms": float(np.percentile(t, 50)),
        "p99_ms": float(np.percentile(t, 99)),
        "max_ms": float(t.max()),
        "mean_ms": float(t.mean()),
        "throughput": float(batch * 1e3 / t.mean()),
    }


def time_calls(fn: Callable[[], Any], iterations: int, warmup: int = 10) -> list[float]:
    """Per-call wall times (s) of `fn`, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def interleaved(
    fns: dict[Any, Callable[[], Any]], rounds: int, calls: int, warmup: int = 10
) -> dict[Any, list[float]]:
    """Per-round median wall time (s) of each function, timed round-robin.

    Each round times every function (`warmup` untimed calls, then `calls` timed ones) and the
    order reverses every round, so drift in machine load hits all of them alike: the basis of
    every ratio a benchmark quotes against a baseline measured in the same run.
    """
    out: dict[Any, list[float]] = {k: [] for k in fns}
    for r in range(rounds):
        for k in list(fns) if r % 2 == 0 else list(reversed(fns)):
            out[k].append(float(np.median(time_calls(fns[k], calls, warmup))))
    return out


def synthetic_feeds(manifest: Manifest, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Inputs of the manifest's shapes with the first (dynamic) axis set to `batch`."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for name, spec in manifest.inputs.items():
        dims = list(spec.shape)
        if not dims:
            raise ModuleError(f"manifest.inputs[{name!r}] has no shape; pass sample inputs instead")
        shape = [batch] + [int(d) if isinstance(d, int) and d > 0 else -1 for d in dims[1:]]
        if any(d < 0 for d in shape):
            raise ModuleError(
                f"manifest.inputs[{name!r}] shape {dims} has dynamic axes beyond the batch; "
                "pass sample inputs (--inputs FILE.npy)"
            )
        feeds[name] = rng.standard_normal(shape).astype(np.dtype(spec.dtype))
    return feeds


def feeds_from_samples(samples: np.ndarray, input_name: str, batch: int) -> dict[str, np.ndarray]:
    """Take `batch` real samples (repeating them when there are fewer)."""
    arr = np.asarray(samples, dtype=np.float32)
    idx = np.arange(batch) % len(arr)
    return {input_name: np.ascontiguousarray(arr[idx])}


def bench_module(
    path: str | Path,
    batches: Sequence[int] = (1, 32),
    precisions: Sequence[str] = ("fp32", "int8"),
    providers: Sequence[str] | None = None,
    threads: int | None = None,
    iterations: int = 200,
    warmup: int = 20,
    samples: np.ndarray | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[BenchRow]:
    """Benchmark a (verified) module file; precisions the module lacks are skipped."""
    files = read_module_files(path)
    verify_files(files, f"module {path}")
    manifest = Manifest.from_json(files["manifest.json"])
    threads = threads or int(os.environ.get("EDGETWIN_THREADS", 0)) or (os.cpu_count() or 1)
    rows: list[BenchRow] = []
    for provider in providers or available_providers():
        for precision in precisions:
            name = PRECISIONS[precision]
            if name not in files:
                log.info("module has no %s model; skipping %s", precision, MODEL_INT8)
                continue
            # accelerators fall back to CPU for the nodes they cannot take (as in deployment)
            chain = [provider] if provider == "CPUExecutionProvider" else _fallback_chain(provider)
            sess = make_session(files[name], chain, threads)
            input_name = sess.get_inputs()[0].name
            for batch in batches:
                feeds = (
                    feeds_from_samples(samples, input_name, batch)
                    if samples is not None
                    else synthetic_feeds(manifest, batch)
                )
                if progress:
                    progress(f"{provider} {precision} batch {batch}")
                _reset_peak_rss()
                times = time_calls(partial(sess.run, None, feeds), iterations, warmup)
                stats = latency_stats(times, batch)
                rows.append(
                    BenchRow(
                        provider=provider,
                        precision=precision,
                        batch=batch,
                        threads=threads,
                        n=iterations,
                        peak_rss_mb=_rss_mb("VmHWM"),
                        **stats,
                    )
                )
            del sess
    return rows


def _fallback_chain(provider: str) -> list[str]:
    available = set(available_providers())
    chain = [provider]
    if provider == "TensorrtExecutionProvider" and "CUDAExecutionProvider" in available:
        chain.append("CUDAExecutionProvider")
    return [*chain, "CPUExecutionProvider"]


def rows_table(rows: Sequence[BenchRow], title: str = "latency") -> Any:
    """A rich Table of benchmark rows."""
    from rich.table import Table

    table = Table(title=title)
    for col in (
        "provider",
        "precision",
        "batch",
        "threads",
        "p50 ms",
        "p99 ms",
        "max ms",
        "samples/s",
        "peak RSS MiB",
    ):
        table.add_column(col, justify="right" if col not in ("provider", "precision") else "left")
    for r in rows:
        table.add_row(
            r.provider.replace("ExecutionProvider", ""),
            r.precision,
            str(r.batch),
            str(r.threads),
            f"{r.p50_ms:.3f}",
            f"{r.p99_ms:.3f}",
            f"{r.max_ms:.3f}",
            f"{r.throughput:,.0f}",
            f"{r.peak_rss_mb:.0f}" if r.peak_rss_mb is not None else "n/a",
        )
    return table
