"""The edge module file: build it, sign it, load it (verifying first), run it.

A module is one zip:

| file | content |
|---|---|
| `manifest.json` | the `Manifest` (ISO/IEC 23053 stages) |
| `model.onnx` | the fp32 model |
| `model.int8.onnx` | its static-QDQ INT8 twin (optional until `module quantize`) |
| `processing.json` | the pre- and post-processing spec (copied from the manifest) |
| `evidence.json` | evaluation evidence: parity, benchmarks, robustness tables (from the manifest) |
| `signature.json` | ed25519 signature over the sha256 of every other file |

`EdgeModule.load` refuses unsigned, tampered and untrusted modules with `SignatureError`
before any byte of the model reaches onnxruntime.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import logging
import os
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edgetwin.core.errors import ModuleError, SignatureError
from edgetwin.edge import signing
from edgetwin.edge.manifest import Manifest, TensorSpec

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
MODEL_FP32 = "model.onnx"
MODEL_INT8 = "model.int8.onnx"
PROCESSING = "processing.json"
EVIDENCE = "evidence.json"
SIGNATURE = "signature.json"
PRECISIONS = {"fp32": MODEL_FP32, "int8": MODEL_INT8}
# Named processing functions are imported from these packages only: a signed manifest names
# code, and we do not want a module to pull in arbitrary installed packages.
ALLOWED_FUNCTION_PREFIXES = ("edgetwin.", "numpy")

KeyLike = Ed25519PrivateKey | str | Path | None


def _resolve_key(key: KeyLike) -> Ed25519PrivateKey:
    if key is None:
        return signing.dev_key()
    if isinstance(key, Ed25519PrivateKey):
        return key
    return signing.load_private_key(key)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _graph_specs(
    onnx_bytes: bytes, what: str
) -> tuple[dict[str, TensorSpec], dict[str, TensorSpec]]:
    """Validate an ONNX model and return its input/output specs."""
    import onnx

    try:
        model = onnx.load_from_string(onnx_bytes)
        onnx.checker.check_model(model)
    except Exception as exc:
        raise ModuleError(f"{what}: not a valid ONNX model ({exc})") from exc
    init_names = {i.name for i in model.graph.initializer}

    def spec(v: Any) -> TensorSpec:
        dims: list[int | str | None] = []
        for d in v.type.tensor_type.shape.dim:
            dims.append(d.dim_value if d.HasField("dim_value") else (d.dim_param or None))
        dtype = onnx.helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type).name
        return TensorSpec(shape=dims, dtype=dtype)

    inputs = {v.name: spec(v) for v in model.graph.input if v.name not in init_names}
    outputs = {v.name: spec(v) for v in model.graph.output}
    return inputs, outputs


def _check_names(manifest: Manifest, onnx_bytes: bytes, what: str) -> Manifest:
    """Fill empty input/output specs from the graph; refuse names the graph does not have."""
    g_in, g_out = _graph_specs(onnx_bytes, what)
    update: dict[str, Any] = {}
    for field, declared, actual in (
        ("inputs", manifest.inputs, g_in),
        ("outputs", manifest.outputs, g_out),
    ):
        if not declared:
            update[field] = actual
        elif set(declared) != set(actual):
            raise ModuleError(
                f"manifest.{field}: names {sorted(declared)} do not match the ONNX graph's "
                f"{sorted(actual)} in {what}; rename them in the manifest or at export"
            )
    return manifest.model_copy(update=update) if update else manifest


def _side_files(manifest: Manifest) -> dict[str, bytes]:
    processing = {"preprocess": manifest.preprocess, "postprocess": manifest.postprocess}
    return {
        PROCESSING: json.dumps(processing, sort_keys=True, indent=2).encode(),
        EVIDENCE: json.dumps(manifest.evidence, sort_keys=True, indent=2, default=str).encode(),
    }


def write_module(path: str | Path, files: Mapping[str, bytes], signing_key: KeyLike = None) -> Path:
    """Sign `files` and write them as a module zip (atomically: temp file, then rename)."""
    key = _resolve_key(signing_key)
    body = {k: v for k, v in files.items() if k != SIGNATURE}
    sig = signing.sign({k: _sha(v) for k, v in body.items()}, key)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(body):
            zf.writestr(name, body[name])
        zf.writestr(SIGNATURE, json.dumps(sig, indent=2, sort_keys=True))
    os.replace(tmp, out)
    return out


def read_module_files(path: str | Path) -> dict[str, bytes]:
    """All files of a module zip, unverified. Use `verify_module` before trusting them."""
    p = Path(path)
    try:
        with zipfile.ZipFile(p) as zf:
            names = zf.namelist()
            if len(names) != len(set(names)):
                raise SignatureError(f"module {p}: tampered: duplicate file names in the zip")
            return {name: zf.read(name) for name in names}
    except (OSError, zipfile.BadZipFile) as exc:
        raise ModuleError(f"module {p}: cannot read the zip ({exc})") from exc


def verify_files(
    files: Mapping[str, bytes], where: str, trusted: dict[str, dict[str, str]] | None = None
) -> signing.SignatureInfo:
    if SIGNATURE not in files:
        raise SignatureError(
            f"{where}: unsigned (no {SIGNATURE}); sign it with `edgetwin module sign`"
        )
    try:
        document = json.loads(files[SIGNATURE])
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SignatureError(f"{where}: tampered: {SIGNATURE} is not valid JSON") from exc
    actual = {k: _sha(v) for k, v in files.items() if k != SIGNATURE}
    return signing.verify(document, actual, trusted=trusted, where=where)


def verify_module(
    path: str | Path, trusted: dict[str, dict[str, str]] | None = None
) -> signing.SignatureInfo:
    """Verify a module's signature and trust; raise `SignatureError` with the reason."""
    return verify_files(read_module_files(path), f"module {path}", trusted)


def read_manifest(path: str | Path, verify: bool = True) -> Manifest:
    """The manifest of a module; with `verify=False` for inspection of untrusted files only."""
    files = read_module_files(path)
    if verify:
        verify_files(files, f"module {path}")
    if MANIFEST not in files:
        raise ModuleError(f"module {path}: no {MANIFEST} inside")
    return Manifest.from_json(files[MANIFEST])


def build_module(
    out_path: str | Path,
    onnx_fp32: bytes,
    manifest: Manifest,
    onnx_int8: bytes | None = None,
    signing_key: KeyLike = None,
    extra_files: Mapping[str, bytes] | None = None,
) -> Path:
    """Pack a model and its manifest into a signed module zip; return its path.

    `signing_key` is a private key, a PEM path, or None for the local development key. The
    manifest's `inputs`/`outputs` are filled from the ONNX graph when empty and checked
    against it otherwise; the INT8 twin must have the same input and output names.
    """
    manifest = _check_names(manifest, onnx_fp32, MODEL_FP32)
    files: dict[str, bytes] = {MODEL_FP32: onnx_fp32}
    if onnx_int8 is not None:
        _check_names(manifest, onnx_int8, MODEL_INT8)
        files[MODEL_INT8] = onnx_int8
    for name, data in (extra_files or {}).items():
        if name in (MANIFEST, MODEL_FP32, MODEL_INT8, PROCESSING, EVIDENCE, SIGNATURE):
            raise ModuleError(f"extra file {name!r}: reserved name, choose another")
        files[name] = data
    files[MANIFEST] = manifest.to_json().encode()
    files.update(_side_files(manifest))
    path = write_module(out_path, files, signing_key)
    log.info("built module %s (%s %s)", path, manifest.name, manifest.version)
    return path


def update_module(
    path: str | Path,
    *,
    manifest: Manifest | None = None,
    onnx_int8: bytes | None = None,
    extra_files: Mapping[str, bytes] | None = None,
    signing_key: KeyLike = None,
    out_path: str | Path | None = None,
) -> Path:
    """Verify a module, replace parts of it, and re-sign (e.g. after `quantize` or `bench`)."""
    files = read_module_files(path)
    verify_files(files, f"module {path}")
    files.pop(SIGNATURE)
    current = Manifest.from_json(files[MANIFEST])
    new_manifest = manifest or current
    if onnx_int8 is not None:
        _check_names(new_manifest, onnx_int8, MODEL_INT8)
        files[MODEL_INT8] = onnx_int8
    files.update(extra_files or {})
    files[MANIFEST] = new_manifest.to_json().encode()
    files.update(_side_files(new_manifest))
    return write_module(out_path or path, files, signing_key)


def _import_function(ref: str) -> Callable[..., Any]:
    module_name, _, func_name = ref.partition(":")
    if not module_name.startswith(ALLOWED_FUNCTION_PREFIXES):
        raise ModuleError(
            f"processing function {ref!r}: only functions under {ALLOWED_FUNCTION_PREFIXES} may "
            "be named; move the function into edgetwin or into the ONNX graph"
        )
    try:
        func = getattr(importlib.import_module(module_name), func_name)
    except (ImportError, AttributeError) as exc:
        raise ModuleError(f"processing function {ref!r} cannot be imported ({exc})") from exc
    if not callable(func):
        raise ModuleError(f"processing function {ref!r} is not callable")
    return func  # type: ignore[no-any-return]


def _bind_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Convert JSON lists to arrays once at load time (numbers: float32, strings: object), so
    processing functions do not re-convert them on every window."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, list) and value and all(isinstance(v, int | float) for v in value):
            out[key] = np.asarray(value, dtype=np.float32)
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            out[key] = np.asarray(value, dtype=object)
        else:
            out[key] = value
    return out


def default_providers() -> list[str]:
    """Execution providers to use when none is asked for: accelerators first, CPU last."""
    import onnxruntime as ort

    available = set(ort.get_available_providers())
    order = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    return [p for p in order if p in available] or ["CPUExecutionProvider"]


def make_session(
    onnx_bytes: bytes,
    providers: list[str] | None = None,
    intra_op_threads: int | None = None,
) -> Any:
    """An onnxruntime session with full graph optimisation and stated thread count."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if intra_op_threads is not None:
        opts.intra_op_num_threads = int(intra_op_threads)
    opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(
            onnx_bytes, sess_options=opts, providers=providers or default_providers()
        )
    except Exception as exc:
        raise ModuleError(f"onnxruntime cannot load the model ({exc})") from exc


class EdgeModule:
    """A verified, loaded module: `run` feeds the ONNX graph, `predict` adds pre/post-processing."""

    def __init__(
        self,
        manifest: Manifest,
        session: Any,
        precision: str,
        signature: signing.SignatureInfo,
        path: Path | None = None,
    ) -> None:
        self.manifest = manifest
        self.session = session
        self.precision = precision
        self.signature = signature
        self.path = path
        self.input_names: list[str] = [i.name for i in session.get_inputs()]
        self.output_names: list[str] = [o.name for o in session.get_outputs()]
        self._dtypes = {
            n: np.dtype(spec.dtype)
            if (spec := manifest.inputs.get(n)) is not None
            else np.dtype(np.float32)
            for n in self.input_names
        }
        self._single_input = self.input_names[0] if len(self.input_names) == 1 else None
        self._single_dtype = self._dtypes[self.input_names[0]] if self.input_names else np.float32
        self._primary_output = str((manifest.postprocess or {}).get("output", self.output_names[0]))
        self._pre = self._processing(manifest.preprocess)
        self._post = self._processing(manifest.postprocess)
        self._bind_native()

    def _bind_native(self) -> None:
        """Bind the session's native `run` for the hot path.

        `InferenceSession.run` is a Python wrapper that re-checks the feed names on every call
        (about 1.3 us, 3 % of a 42 us INT8 model) before calling the pybind11 session, which
        checks names, ranks and types again in C++ anyway. `run` calls the native session
        directly and falls back to the wrapper on any error, so error messages and
        onnxruntime's provider fallback (which replaces the native session) behave as before.
        """
        native = getattr(self.session, "_sess", None)
        self._native_run: Callable[..., list[Any]] | None = (
            getattr(native, "run", None) if native is not None else None
        )

    @staticmethod
    def _processing(
        spec: dict[str, Any] | None,
    ) -> tuple[Callable[..., Any], dict[str, Any]] | None:
        if not spec or not spec.get("function"):
            return None
        ref = str(spec["function"])
        params = spec.get("params") or {}
        # Our own processing functions take arrays; others get the JSON values unchanged.
        bound = (
            _bind_params(params) if ref.startswith("edgetwin.edge.processing:") else dict(params)
        )
        return _import_function(ref), bound

    @classmethod
    def load(
        cls,
        path: str | Path,
        precision: str = "fp32",
        *,
        providers: list[str] | None = None,
        intra_op_threads: int | None = None,
        trusted: dict[str, dict[str, str]] | None = None,
    ) -> EdgeModule:
        """Verify the signature, then open the fp32 or int8 model in onnxruntime."""
        if precision not in PRECISIONS:
            raise ModuleError(f"precision {precision!r}: use 'fp32' or 'int8'")
        p = Path(path)
        files = read_module_files(p)
        info = verify_files(files, f"module {p}", trusted)
        model_name = PRECISIONS[precision]
        if model_name not in files:
            raise ModuleError(
                f"module {p}: no {precision} model inside; run `edgetwin module quantize {p} "
                "--calibration DATA` first"
            )
        manifest = Manifest.from_json(files[MANIFEST])
        session = make_session(files[model_name], providers, intra_op_threads)
        return cls(manifest, session, precision, info, p)

    @classmethod
    def from_bytes(cls, data: bytes, precision: str = "fp32", **kwargs: Any) -> EdgeModule:
        """Load from an in-memory zip (e.g. received over the network); verified the same way."""
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            p = Path(tmp) / "module.zip"
            p.write_bytes(data)
            return cls.load(p, precision, **kwargs)

    def processing(self, which: str) -> tuple[Callable[..., Any], dict[str, Any]] | None:
        """The bound pre- (`"pre"`) or post-processing (`"post"`) function and its params."""
        return self._pre if which == "pre" else self._post

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Raw ONNX outputs by name; no processing, no copies beyond onnxruntime's own."""
        native = self._native_run
        if native is not None:
            try:
                return dict(
                    zip(self.output_names, native(self.output_names, feeds, None), strict=True)
                )
            except Exception:
                pass  # the wrapper below restates the error or recovers (provider fallback)
        try:
            outs = self.session.run(self.output_names, feeds)
        except Exception as exc:
            raise self.inference_error(exc) from exc
        self._bind_native()  # a provider fallback replaces the native session
        return dict(zip(self.output_names, outs, strict=True))

    def inference_error(self, exc: Exception) -> ModuleError:
        """onnxruntime's error restated with the fix (input names and shapes of the manifest)."""
        spec = {k: v.shape for k, v in self.manifest.inputs.items()}
        return ModuleError(
            f"module {self.manifest.name}: inference failed ({exc}); feed inputs shaped as "
            f"manifest.inputs {spec}"
        )

    def preprocess(self, x: Any) -> dict[str, np.ndarray]:
        """Apply the named pre-processing function and map the result onto the graph inputs."""
        if self._pre is not None:
            func, params = self._pre
            x = func(x, **params)
        if type(x) is np.ndarray and self._single_input is not None:
            # the common case, kept cheap: one array for a one-input graph
            return {self._single_input: np.ascontiguousarray(x, dtype=self._single_dtype)}
        if isinstance(x, Mapping):
            feeds = dict(x)
        elif len(self.input_names) == 1:
            feeds = {self.input_names[0]: x}
        else:
            raise ModuleError(
                f"module {self.manifest.name}: {len(self.input_names)} inputs "
                f"{self.input_names}; pass a dict of arrays"
            )
        dtypes = self._dtypes
        return {
            name: np.ascontiguousarray(value, dtype=dtypes.get(name, np.float32))
            for name, value in feeds.items()
        }

    def postprocess(self, outputs: dict[str, np.ndarray]) -> Any:
        """Apply the named post-processing function to the primary output (first by default)."""
        primary = outputs[self._primary_output]
        if self._post is None:
            return primary
        func, params = self._post
        return func(primary, **params)

    def predict(self, x: Any) -> Any:
        """preprocess (named numpy function) -> ONNX -> postprocess."""
        return self.postprocess(self.run(self.preprocess(x)))

    def __repr__(self) -> str:
        m = self.manifest
        return (
            f"EdgeModule({m.name!r} {m.version} {self.precision}, signer={self.signature.signer!r})"
        )


def module_bytes(path: str | Path) -> bytes:
    """The raw bytes of a module file (for shipping over the network)."""
    return Path(path).read_bytes()


def zip_bytes(files: Mapping[str, bytes]) -> bytes:
    """Files as an in-memory zip, unsigned (used by tests to forge modules)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()
