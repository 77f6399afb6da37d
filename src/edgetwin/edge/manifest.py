"""The module manifest: what a model is, where it came from, how it was checked, where it runs.

The fields follow the life-cycle stages of ISO/IEC 23053 (data acquisition, data preparation,
modelling, verification and validation, deployment, operation), so an auditor reads one file
and finds each stage's evidence. `edgetwin.edge.aas` renders the same manifest as the IDTA AI
Model Nameplate (02060) and AI Deployment (02059) submodels.

The sub-models are lenient (`extra="allow"`) because every trainer records different
hyper-parameters and metrics; the keys the runtime relies on are typed.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FORMAT_VERSION = "1"
Task = Literal["rul", "diagnosis", "anomaly", "vision-anomaly"]

# The ISO/IEC 23053 stage each manifest field documents.
ISO_23053_STAGES: dict[str, str] = {
    "data": "data acquisition",
    "preparation": "data preparation",
    "model": "modelling",
    "verification": "verification and validation",
    "deployment": "deployment",
    "operation": "operation",
}


def sha256_path(path: str | Path) -> str:
    """sha256 of a file, or of a folder (its files' relative names and contents, sorted)."""
    p = Path(path)
    h = hashlib.sha256()
    if p.is_file():
        with p.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    if p.is_dir():
        for child in sorted(q for q in p.rglob("*") if q.is_file()):
            h.update(child.relative_to(p).as_posix().encode())
            h.update(b"\0")
            h.update(sha256_path(child).encode())
        return h.hexdigest()
    raise FileNotFoundError(f"data set path {p} does not exist; pass an existing file or folder")


class TensorSpec(BaseModel):
    """Shape and type of one model input or output; `None` or a name marks a dynamic axis."""

    model_config = ConfigDict(extra="allow")

    shape: list[int | str | None] = Field(default_factory=list)
    dtype: str = "float32"
    unit: str | None = None
    description: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shape_only(cls, value: Any) -> Any:
        # `inputs={"x": [None, 1, 1024]}` is accepted as shorthand for a shape.
        if isinstance(value, list | tuple):
            return {"shape": list(value)}
        return value


class DatasetRef(BaseModel):
    """One data set used in training or evaluation, pinned by content hash (stage: acquisition)."""

    model_config = ConfigDict(extra="allow")

    name: str
    path: str
    sha256: str | None = None
    rows: int | None = None
    role: str | None = None  # train | validation | test | calibration

    def __init__(
        self,
        name: str | None = None,
        path: str | Path | None = None,
        sha256: str | None = None,
        rows: int | None = None,
        /,
        **data: Any,
    ) -> None:
        # Positional form `DatasetRef(name, path, sha256, rows)` as in the module contract.
        for key, value in (("name", name), ("path", path), ("sha256", sha256), ("rows", rows)):
            if value is not None:
                data[key] = str(value) if key == "path" else value
        super().__init__(**data)

    @classmethod
    def from_path(
        cls, name: str, path: str | Path, rows: int | None = None, role: str | None = None
    ) -> DatasetRef:
        """Hash a file or folder now; the hash is what makes the record checkable later."""
        return cls(name=name, path=str(path), sha256=sha256_path(path), rows=rows, role=role)


class ModelInfo(BaseModel):
    """Stage: modelling. Family (e.g. `1d-cnn`, `patchcore`) and its hyper-parameters."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    family: str = "unknown"
    hyperparameters: dict[str, Any] = Field(default_factory=dict)


class InputStats(BaseModel):
    """Training-data statistics of one input, per feature, for live drift monitoring.

    `mean`/`std` per feature along `feature_axis`; `bin_edges`/`bin_fractions` are per-feature
    decile histograms of the training data, the reference distribution for the population
    stability index (PSI) the runtime computes on live windows.
    """

    feature_axis: int = 1
    mean: list[float]
    std: list[float]
    bin_edges: list[list[float]] = Field(default_factory=list)
    bin_fractions: list[list[float]] = Field(default_factory=list)

    @classmethod
    def from_array(cls, x: np.ndarray, feature_axis: int = 1, bins: int = 10) -> InputStats:
        """Compute the statistics from the training inputs (axis 0 is the sample axis)."""
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim == 2 and feature_axis >= 2:
            feature_axis = 1
        feats = np.moveaxis(arr, feature_axis, 0).reshape(arr.shape[feature_axis], -1)
        edges: list[list[float]] = []
        fractions: list[list[float]] = []
        for row in feats:
            e = np.unique(np.quantile(row, np.linspace(0, 1, bins + 1)[1:-1]))
            counts = np.bincount(np.searchsorted(e, row, side="right"), minlength=e.size + 1)
            edges.append(e.tolist())
            fractions.append((counts / max(row.size, 1)).tolist())
        return cls(
            feature_axis=feature_axis,
            mean=feats.mean(axis=1).tolist(),
            std=feats.std(axis=1).tolist(),
            bin_edges=edges,
            bin_fractions=fractions,
        )


class Operation(BaseModel):
    """Stage: operation. Monitors to run, the latency budget, and the drift reference."""

    model_config = ConfigDict(extra="allow")

    monitors: list[Any] = Field(default_factory=list)
    latency_budget_ms: float | None = None
    input_stats: dict[str, InputStats] = Field(default_factory=dict)


class Manifest(BaseModel):
    """The manifest of an edge module (`manifest.json` inside the zip)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    format_version: str = FORMAT_VERSION
    name: str
    task: Task
    version: str = "0.1.0"
    description: str | None = None
    created: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    inputs: dict[str, TensorSpec] = Field(default_factory=dict)
    outputs: dict[str, TensorSpec] = Field(default_factory=dict)
    # {"function": "edgetwin.pdm.features.envelope:envelope_features", "params": {...}} or None
    # when the processing lives in the ONNX graph.
    preprocess: dict[str, Any] | None = None
    postprocess: dict[str, Any] | None = None
    # ISO/IEC 23053 stages
    data: list[DatasetRef] = Field(default_factory=list)
    preparation: list[Any] = Field(default_factory=list)
    model: ModelInfo = Field(default_factory=ModelInfo)
    verification: dict[str, Any] = Field(default_factory=dict)
    deployment: dict[str, Any] = Field(default_factory=dict)
    operation: Operation = Field(default_factory=Operation)
    evidence: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name_ok(cls, v: str) -> str:
        if not v or any(c in v for c in "/\\\n"):
            raise ValueError(f"name {v!r}: use a non-empty name without slashes or newlines")
        return v

    @field_validator("preprocess", "postprocess")
    @classmethod
    def _function_ref(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is not None and "function" in v and ":" not in str(v["function"]):
            raise ValueError(
                f"function {v['function']!r}: write it as 'package.module:function_name'"
            )
        return v

    def to_json(self) -> str:
        """Stable JSON (sorted keys, 2-space indent): the bytes that get hashed and signed."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, indent=2)

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        return cls.model_validate_json(text)

    @classmethod
    def from_file(cls, path: str | Path) -> Manifest:
        """Read a manifest from `.json` or `.yaml`/`.yml`."""
        p = Path(path)
        text = p.read_text(encoding="utf-8")
        if p.suffix.lower() in (".yaml", ".yml"):
            import yaml

            return cls.model_validate(yaml.safe_load(text))
        return cls.model_validate_json(text)

    def stages(self) -> dict[str, Any]:
        """The manifest grouped by ISO/IEC 23053 stage name, for reports and audits."""
        dumped = self.model_dump(mode="json")
        return {stage: dumped[field] for field, stage in ISO_23053_STAGES.items()}
