"""Render a manifest as the AI Model Nameplate (IDTA 02060) and AI Deployment (IDTA 02059)
submodels, as plain AAS metamodel v3 JSON (dicts), ready for the twin room to put into an AASX
with basyx.

Semantic ids follow the IDTA URL convention (`https://admin-shell.io/idta/<Name>/1/0/...`).
They are written in one place (`SEMANTIC_IDS`) so they can be aligned with the published
templates without touching the mapping; the mapping itself follows the manifest's ISO/IEC 23053
stages (data, preparation, model, verification -> nameplate; deployment, operation ->
deployment).
"""

from __future__ import annotations

import re
from typing import Any

from edgetwin.edge.manifest import Manifest

SEMANTIC_IDS = {
    "nameplate": "https://admin-shell.io/idta/AIModelNameplate/1/0/Submodel",
    "deployment": "https://admin-shell.io/idta/AIDeployment/1/0/Submodel",
    "element": "https://admin-shell.io/idta/AIModelNameplate/1/0/{path}",
    "deployment_element": "https://admin-shell.io/idta/AIDeployment/1/0/{path}",
}
IDTA_NUMBERS = {"nameplate": "IDTA 02060", "deployment": "IDTA 02059"}


def _id_short(name: str) -> str:
    """AAS idShort: letter first, then letters, digits, `_` or `-`."""
    s = re.sub(r"[^A-Za-z0-9_-]", "_", str(name))
    if not s or not s[0].isalpha():
        s = "E_" + s
    return s[:128]


def _ref(value: str) -> dict[str, Any]:
    return {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": value}]}


def _element(name: str, value: Any, sem: str) -> dict[str, Any]:
    """A JSON value as a Property, a SubmodelElementCollection or a SubmodelElementList."""
    id_short = _id_short(name)
    sid = _ref(sem.format(path=id_short))
    if isinstance(value, dict):
        return {
            "modelType": "SubmodelElementCollection",
            "idShort": id_short,
            "semanticId": sid,
            "value": [_element(k, v, sem) for k, v in value.items() if v is not None],
        }
    if isinstance(value, list | tuple):
        items = [_element(f"{id_short}_{i:02d}", v, sem) for i, v in enumerate(value)]
        return {
            "modelType": "SubmodelElementCollection",
            "idShort": id_short,
            "semanticId": sid,
            "value": items,
        }
    if isinstance(value, bool):
        vt, v = "xs:boolean", "true" if value else "false"
    elif isinstance(value, int):
        vt, v = "xs:long", str(value)
    elif isinstance(value, float):
        vt, v = "xs:double", repr(value)
    else:
        vt, v = "xs:string", str(value)
    return {
        "modelType": "Property",
        "idShort": id_short,
        "semanticId": sid,
        "valueType": vt,
        "value": v,
    }


def _submodel(kind: str, manifest: Manifest, elements: dict[str, Any], sem: str) -> dict[str, Any]:
    base = f"urn:edgetwin:module:{manifest.name}:{manifest.version}"
    return {
        "modelType": "Submodel",
        "id": f"{base}:{'AIModelNameplate' if kind == 'nameplate' else 'AIDeployment'}",
        "idShort": "AIModelNameplate" if kind == "nameplate" else "AIDeployment",
        "kind": "Instance",
        "semanticId": _ref(SEMANTIC_IDS[kind]),
        "description": [
            {
                "language": "en",
                "text": f"{IDTA_NUMBERS[kind]} rendering of edge module {manifest.name}",
            }
        ],
        "submodelElements": [_element(k, v, sem) for k, v in elements.items() if v is not None],
    }


def manifest_to_aas_submodels(manifest: Manifest) -> dict[str, dict[str, Any]]:
    """{"AIModelNameplate": submodel, "AIDeployment": submodel} as AAS v3 JSON dicts."""
    m = manifest.model_dump(mode="json")
    nameplate = {
        "ModelName": m["name"],
        "ModelVersion": m["version"],
        "Task": m["task"],
        "Description": m["description"],
        "CreationDate": m["created"],
        "ModelFamily": m["model"].get("family"),
        "Hyperparameters": m["model"].get("hyperparameters") or None,
        "Inputs": m["inputs"] or None,
        "Outputs": m["outputs"] or None,
        "DataAcquisition": [{k: v for k, v in d.items() if v is not None} for d in m["data"]]
        or None,
        "DataPreparation": m["preparation"] or None,
        "VerificationAndValidation": m["verification"] or None,
        "FormatVersion": m["format_version"],
    }
    op = m["operation"]
    evidence = m["evidence"] or {}
    deployment = {
        "ModelName": m["name"],
        "ModelVersion": m["version"],
        "Runtime": "onnxruntime",
        "ModelFormat": "ONNX (fp32, static QDQ INT8 twin)",
        "Preprocessing": m["preprocess"],
        "Postprocessing": m["postprocess"],
        "DeploymentTargets": m["deployment"] or None,
        "LatencyBudgetMs": op.get("latency_budget_ms"),
        "Monitors": op.get("monitors") or None,
        "Evidence": {k: _summary(v) for k, v in evidence.items()} or None,
    }
    return {
        "AIModelNameplate": _submodel("nameplate", manifest, nameplate, SEMANTIC_IDS["element"]),
        "AIDeployment": _submodel(
            "deployment", manifest, deployment, SEMANTIC_IDS["deployment_element"]
        ),
    }


def _summary(value: Any) -> Any:
    """Keep evidence small in the AAS: long row lists are summarised by their length."""
    if isinstance(value, dict) and isinstance(value.get("rows"), list) and len(value["rows"]) > 20:
        return {k: v for k, v in value.items() if k != "rows"} | {"row_count": len(value["rows"])}
    return value
