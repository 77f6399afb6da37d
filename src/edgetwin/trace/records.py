"""Typed helpers that write the five kinds of ledger entry with the fields an audit needs.

Every decision names the module (name, version, sha256 of the module file) and the input window
(signal, start, end), so an alarm can be traced back to the exact model and data that raised it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from edgetwin.core.errors import DataError
from edgetwin.trace.ledger import Ledger


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def module_ref(path: str | Path) -> dict[str, Any]:
    """{name, version, sha256, path} of a module file, read from its (verified) manifest."""
    from edgetwin.edge.module import read_manifest

    manifest = read_manifest(path, verify=True)
    return {
        "name": manifest.name,
        "version": manifest.version,
        "task": manifest.task,
        "sha256": file_sha256(path),
        "path": str(path),
    }


def record_dataset(
    ledger: Ledger, name: str, path: str | Path, sha256: str, rows: int | None = None, **extra: Any
) -> dict[str, Any]:
    return ledger.append(
        "dataset", name, {"path": str(path), "sha256": sha256, "rows": rows, **extra}
    )


def record_training(
    ledger: Ledger,
    model: str,
    datasets: Sequence[str],
    hyperparameters: Mapping[str, Any],
    metrics: Mapping[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    """A training run: which data set hashes went in, with which settings, what came out."""
    payload = {
        "datasets": list(datasets),
        "hyperparameters": dict(hyperparameters),
        "metrics": dict(metrics),
        **extra,
    }
    return ledger.append("training", model, payload)


def record_module(ledger: Ledger, path: str | Path, **extra: Any) -> dict[str, Any]:
    """A built module (its signature is verified before it is recorded)."""
    ref = module_ref(path)
    return ledger.append("module", f"{ref['name']}@{ref['version']}", {**ref, **extra})


def record_deployment(
    ledger: Ledger, module: Mapping[str, Any], target: str, **extra: Any
) -> dict[str, Any]:
    """A module deployed to a target (edge node, asset monitor)."""
    _need(module, ("name", "version", "sha256"), "module")
    return ledger.append("deployment", target, {"module": dict(module), **extra})


def record_decision(
    ledger: Ledger,
    module: Mapping[str, Any],
    window: Mapping[str, Any],
    decision: str,
    subject: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A decision (alarm, verdict) naming the module and the input window that produced it.

    `module` needs name, version, sha256; `window` needs signal, start, end (ISO timestamps or
    ns integers).
    """
    _need(module, ("name", "version", "sha256"), "module")
    _need(window, ("signal", "start", "end"), "window")
    payload = {"module": dict(module), "window": dict(window), "decision": decision, **extra}
    return ledger.append("decision", subject or str(window["signal"]), payload)


def _need(obj: Mapping[str, Any], keys: Sequence[str], what: str) -> None:
    missing = [k for k in keys if k not in obj]
    if missing:
        raise DataError(f"{what}: missing {missing}; a ledger {what} must carry {list(keys)}")
