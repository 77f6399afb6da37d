"""Edge modules: signed zips of an ONNX model, its INT8 twin, a manifest and evidence.

`import edgetwin.edge` needs numpy, onnx, onnxruntime and cryptography only, never torch:
this is the code that runs on the edge box.

    from edgetwin.edge import Manifest, DatasetRef, build_module, EdgeModule
    path = build_module("pump.etm", onnx_fp32=onnx_bytes, manifest=Manifest(...))
    mod = EdgeModule.load(path, precision="int8")
    y = mod.predict(x)
"""

from edgetwin.core.errors import ModuleError, SignatureError
from edgetwin.edge.manifest import (
    DatasetRef,
    InputStats,
    Manifest,
    ModelInfo,
    Operation,
    TensorSpec,
)
from edgetwin.edge.module import (
    EdgeModule,
    build_module,
    read_manifest,
    read_module_files,
    update_module,
    verify_module,
)

__all__ = [
    "DatasetRef",
    "EdgeModule",
    "InputStats",
    "Manifest",
    "ModelInfo",
    "ModuleError",
    "Operation",
    "SignatureError",
    "TensorSpec",
    "build_module",
    "read_manifest",
    "read_module_files",
    "update_module",
    "verify_module",
]
