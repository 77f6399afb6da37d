"""Edge modules (manifest and evidence, read from the module zip) and the AASX export.

Modules are read with `zipfile` only: listing them must not load ONNX models, and a module
whose signature does not verify is still listed (flagged), so an engineer can see why the
runtime refuses it.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import JSONResponse, Response

from edgetwin.server.context import ServerContext, ctx

router = APIRouter(prefix="/api", tags=["modules", "aas"])

MODULE_SUFFIXES = (".etm", ".zip")


def _module_files(c: ServerContext) -> list[Path]:
    if c.modules_dir is None or not c.modules_dir.is_dir():
        return []
    return sorted(
        p for p in c.modules_dir.rglob("*") if p.suffix in MODULE_SUFFIXES and p.is_file()
    )


def read_module(path: Path) -> dict[str, Any]:
    """Manifest, evidence and signature status of a module file, without running it."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if "manifest.json" not in names:
                raise HTTPException(422, f"{path.name} has no manifest.json; is it an edge module?")
            manifest = json.loads(zf.read("manifest.json"))
            evidence = (
                json.loads(zf.read("evidence.json"))
                if "evidence.json" in names
                else manifest.get("evidence", {})
            )
            files = sorted(names)
    except (zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise HTTPException(422, f"{path.name} is not a readable edge module ({exc})") from None
    signature = "missing"
    if "signature.json" in names:
        signature = "unverified"
        try:
            from edgetwin.edge import EdgeModule

            EdgeModule.load(path)
            signature = "valid"
        except ImportError:
            pass
        except Exception as exc:  # SignatureError and friends: show, do not hide the module
            signature = f"invalid: {exc}"
    return {
        "file": path.name,
        "name": manifest.get("name", path.stem),
        "task": manifest.get("task"),
        "version": manifest.get("version"),
        "description": manifest.get("description"),
        "signature": signature,
        "files": files,
        "size_bytes": path.stat().st_size,
        "manifest": manifest,
        "evidence": evidence,
    }


@router.get(
    "/modules", summary="Edge modules in the modules folder (name, task, version, signature)"
)
def modules(c: ServerContext = Depends(ctx)) -> JSONResponse:
    out = []
    for p in _module_files(c):
        try:
            m = read_module(p)
        except HTTPException as exc:
            out.append({"file": p.name, "name": p.stem, "error": exc.detail})
            continue
        out.append(
            {k: m[k] for k in ("file", "name", "task", "version", "description", "signature")}
        )
    return JSONResponse(out)


@router.get("/modules/{name}", summary="One module: manifest (ISO/IEC 23053 stages) and evidence")
def module(name: str, c: ServerContext = Depends(ctx)) -> JSONResponse:
    for p in _module_files(c):
        if p.stem == name or p.name == name:
            return JSONResponse(read_module(p))
        try:
            with zipfile.ZipFile(p) as zf:
                if json.loads(zf.read("manifest.json")).get("name") == name:
                    return JSONResponse(read_module(p))
        except (zipfile.BadZipFile, KeyError, json.JSONDecodeError):
            continue
    known = [p.stem for p in _module_files(c)]
    raise HTTPException(404, f"no edge module named {name!r} in {c.modules_dir}; known: {known}")


@router.get(
    "/aas/export",
    summary="The plant as an AASX package (AAS v3, IDTA submodels)",
    response_class=Response,
    responses={200: {"content": {"application/asset-administration-shell-package": {}}}},
)
def aas_export(c: ServerContext = Depends(ctx)) -> Response:
    from edgetwin.twin.aas import export_aasx_bytes

    manifests = []
    for p in _module_files(c):
        try:
            manifests.append(read_module(p)["manifest"])
        except HTTPException:
            continue  # an unreadable file is listed (with its error) by /api/modules, not exported
    data = export_aasx_bytes(
        c.twin.plant, twin=c.twin, modules=manifests, api_url=c.public_url or None
    )
    filename = f"{c.twin.plant.name.replace(' ', '_')}.aasx"
    return Response(
        data,
        media_type="application/asset-administration-shell-package",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
