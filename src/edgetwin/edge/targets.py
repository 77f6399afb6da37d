"""Edge hardware profiles and a roofline **estimate** of a model's latency on each.

The estimate is `max(ops / peak_ops, bytes / bandwidth)`, i.e. the time the model would take if
it ran at the chip's peak compute or at its peak memory bandwidth, whichever binds. Real
latency is always higher (kernel launch, small layers that cannot fill SIMD lanes, framework
overhead); the gap on *this* machine is measured (measured / roofline) and shown beside it. The
fit check compares the budget with the roofline bound (if even the ideal does not fit, the
model does not fit) and with the bound scaled by this machine's gap (an assumption: that the
target's runtime is as efficient as ONNX Runtime here).

Figures: datasheet where the vendor publishes one (marked `source`); CPU peaks are derived from
cores x clock x SIMD width, which is how vendors compute them too.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from edgetwin.core.errors import ModuleError

log = logging.getLogger(__name__)

PRECISION_BYTES = {"fp32": 4, "fp16": 2, "int8": 1}


@dataclass(frozen=True)
class TargetProfile:
    """An edge target: peak ops/s per precision, memory bandwidth and size.

    `peak_gops`: giga-operations per second (1 MAC = 2 ops) per precision; a precision that is
    missing is not supported by the chip. `bandwidth_gbs`: GB/s for weights and activations (for
    accelerators that keep weights on chip, the host link for inputs/outputs). `memory_mb`:
    memory available to the model; `onchip_mb`: on-chip parameter memory where it matters.
    """

    key: str
    name: str
    kind: str  # cpu | gpu | npu
    peak_gops: dict[str, float]
    bandwidth_gbs: float
    memory_mb: float | None
    source: str
    onchip_mb: float | None = None
    weights_on_chip: bool = False
    notes: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


TARGETS: dict[str, TargetProfile] = {
    t.key: t
    for t in (
        TargetProfile(
            key="rpi5",
            name="Raspberry Pi 5 (BCM2712, 4x Cortex-A76 @ 2.4 GHz, 8 GB)",
            kind="cpu",
            # 4 cores x 2.4 GHz x (2 NEON FMA pipes x 4 lanes x 2) = 153.6 GFLOPS fp32;
            # int8 SDOT: 2 pipes x 16 MACs x 2 ops = 64 ops/cycle/core -> 614 GOPS.
            peak_gops={"fp32": 153.6, "fp16": 307.2, "int8": 614.4},
            bandwidth_gbs=17.1,  # LPDDR4X-4267, 32-bit bus
            memory_mb=8192,
            source="Raspberry Pi 5 product brief (CPU, LPDDR4X-4267); peaks derived from Cortex-A76 pipes",
        ),
        TargetProfile(
            key="jetson-orin-nano",
            name="NVIDIA Jetson Orin Nano 8GB (Ampere GPU, 1024 CUDA / 32 Tensor cores)",
            kind="gpu",
            # 40 TOPS INT8 is the sparse figure; dense is half. fp32: 1024 x 2 x 0.625 GHz.
            peak_gops={"fp32": 1280.0, "fp16": 10000.0, "int8": 20000.0},
            bandwidth_gbs=68.0,  # 128-bit LPDDR5
            memory_mb=8192,
            source="NVIDIA Jetson Orin Nano series data sheet (40 TOPS sparse INT8, 68 GB/s)",
        ),
        TargetProfile(
            key="hailo8",
            name="Hailo-8 M.2 AI accelerator (PCIe Gen3 x4)",
            kind="npu",
            peak_gops={"int8": 26000.0},
            bandwidth_gbs=3.9,  # host link for inputs/outputs; weights stay on chip
            memory_mb=None,
            weights_on_chip=True,
            source="Hailo-8 product brief (26 TOPS INT8); PCIe Gen3 x4 link",
            notes="INT8/INT4 only; the model is compiled by the Hailo Dataflow Compiler",
        ),
        TargetProfile(
            key="coral-edgetpu",
            name="Google Coral Edge TPU (M.2 / USB 3.0)",
            kind="npu",
            peak_gops={"int8": 4000.0},
            bandwidth_gbs=0.5,  # PCIe Gen2 x1 / USB 3.0 in practice
            memory_mb=None,
            onchip_mb=8.0,
            weights_on_chip=True,
            source="Coral Edge TPU data sheet (4 TOPS INT8, 8 MB on-chip SRAM)",
            notes="INT8 only (TFLite, full-integer); parameters beyond 8 MB stream from the host",
        ),
        TargetProfile(
            key="core-i5-ipc",
            name="Industrial PC, Intel Core i5-1145G7E (4C, AVX-512 VNNI @ 2.6 GHz)",
            kind="cpu",
            # 4 x 2.6 GHz x 32 fp32 FLOPs/cycle (one 512-bit FMA port); VNNI: 64 MACs x 2 ops.
            peak_gops={"fp32": 332.8, "int8": 1331.2},
            bandwidth_gbs=51.2,  # dual-channel DDR4-3200
            memory_mb=16384,
            source="Intel ARK (i5-1145G7E: 4 cores, AVX-512, DDR4-3200); peaks derived",
        ),
    )
}


@dataclass
class ModelCost:
    """MACs and bytes moved for one inference at a batch size (lower bound: each tensor once)."""

    batch: int
    macs: int
    params: int
    activation_elems: int
    io_elems: int
    per_op: dict[str, int] = field(default_factory=dict)

    def bytes_moved(self, precision: str) -> int:
        return (self.params + self.activation_elems) * PRECISION_BYTES[precision]

    def io_bytes(self, precision: str) -> int:
        return self.io_elems * PRECISION_BYTES[precision]


def model_cost(onnx_bytes: bytes, batch: int = 1) -> ModelCost:
    """Count MACs (Conv, Gemm, MatMul, LSTM, GRU) and tensor sizes from the ONNX graph.

    Dynamic axes are fixed to `batch` for the first axis; other dynamic axes must be static.
    Pass the fp32 model: QDQ nodes would be counted as activations.
    """
    import onnx
    from onnx import numpy_helper, shape_inference

    model = onnx.load_from_string(onnx_bytes)
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for inp in model.graph.input:
        if inp.name in inits:
            continue
        for k, d in enumerate(inp.type.tensor_type.shape.dim):
            if not d.HasField("dim_value"):
                if k != 0:
                    raise ModuleError(
                        f"input {inp.name!r} axis {k} is dynamic ({d.dim_param!r}); "
                        "export with a fixed window length to estimate cost"
                    )
                d.Clear()
                d.dim_value = batch
    inferred = shape_inference.infer_shapes(model)
    shapes: dict[str, tuple[int, ...]] = {}
    for vi in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        dims = tuple(d.dim_value for d in vi.type.tensor_type.shape.dim)
        if dims and all(v > 0 for v in dims):
            shapes[vi.name] = dims
    for name, arr in inits.items():
        shapes[name] = tuple(arr.shape)

    def size(name: str) -> int:
        return int(np.prod(shapes.get(name, (0,))))

    macs = 0
    per_op: dict[str, int] = {}
    act = 0
    for node in inferred.graph.node:
        m = _node_macs(node, shapes, inits)
        macs += m
        per_op[node.op_type] = per_op.get(node.op_type, 0) + m
        act += sum(size(o) for o in node.output if o)
    graph_inputs = [i.name for i in model.graph.input if i.name not in inits]
    io = sum(size(n) for n in graph_inputs) + sum(size(o.name) for o in model.graph.output)
    act += sum(size(n) for n in graph_inputs)
    params = int(sum(a.size for a in inits.values()))
    return ModelCost(
        batch=batch,
        macs=int(macs),
        params=params,
        activation_elems=int(act),
        io_elems=int(io),
        per_op=per_op,
    )


def _node_macs(node: Any, shapes: dict[str, tuple[int, ...]], inits: dict[str, np.ndarray]) -> int:
    op = node.op_type
    out = shapes.get(node.output[0]) if node.output else None
    if op in ("Conv", "ConvTranspose") and out is not None and node.input[1] in shapes:
        w = shapes[node.input[1]]
        if op == "Conv":
            return int(np.prod(out)) * int(np.prod(w[1:]))
        x = shapes.get(node.input[0])
        return int(np.prod(x)) * int(np.prod(w[1:])) if x else 0
    if op in ("Gemm", "MatMul") and out is not None:
        a = shapes.get(node.input[0])
        if a is None:
            return 0
        k = a[0] if op == "Gemm" and _attr(node, "transA", 0) else a[-1]
        return int(np.prod(out)) * int(k)
    if op in ("LSTM", "GRU"):
        xs = shapes.get(node.input[0])
        ws = shapes.get(node.input[1])
        rs = shapes.get(node.input[2])
        if xs is None or ws is None or rs is None:
            return 0
        seq, b = xs[0], xs[1]
        dirs, gates_h, inp = ws
        hidden = rs[2]
        return int(seq * b * dirs * gates_h * (inp + hidden))
    return 0


def _attr(node: Any, name: str, default: int) -> int:
    for a in node.attribute:
        if a.name == name:
            return int(a.i)
    return default


@dataclass
class Estimate:
    """Roofline estimate of one model on one target at one precision (milliseconds)."""

    target: str
    precision: str
    supported: bool
    compute_ms: float | None = None
    memory_ms: float | None = None
    roofline_ms: float | None = None
    bound: str | None = None  # compute | memory
    calibrated_ms: float | None = None  # roofline x this machine's measured gap
    fits_memory: bool | None = None
    verdict: str = ""  # fits | does not fit | uncertain | unsupported

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def estimate(
    cost: ModelCost,
    target: TargetProfile,
    precision: str,
    budget_ms: float | None = None,
    gap: float | None = None,
) -> Estimate:
    """Roofline latency estimate; `gap` is measured/roofline on this machine (>= 1)."""
    if precision not in target.peak_gops:
        return Estimate(target.key, precision, False, verdict="unsupported")
    ops = 2.0 * cost.macs
    compute_ms = ops / (target.peak_gops[precision] * 1e9) * 1e3
    moved = cost.io_bytes(precision) if target.weights_on_chip else cost.bytes_moved(precision)
    memory_ms = moved / (target.bandwidth_gbs * 1e9) * 1e3
    roof = max(compute_ms, memory_ms)
    model_mb = cost.bytes_moved(precision) / 2**20
    fits_mem: bool | None = None
    if target.memory_mb is not None:
        fits_mem = model_mb <= target.memory_mb
    elif target.onchip_mb is not None:
        fits_mem = cost.params * PRECISION_BYTES[precision] / 2**20 <= target.onchip_mb
    calibrated = roof * gap if gap is not None else None
    verdict = ""
    if budget_ms is not None:
        if roof > budget_ms or fits_mem is False:
            verdict = "does not fit"
        elif calibrated is not None and calibrated <= budget_ms:
            verdict = "fits"
        else:
            verdict = "uncertain"
    return Estimate(
        target=target.key,
        precision=precision,
        supported=True,
        compute_ms=compute_ms,
        memory_ms=memory_ms,
        roofline_ms=roof,
        bound="compute" if compute_ms >= memory_ms else "memory",
        calibrated_ms=calibrated,
        fits_memory=fits_mem,
        verdict=verdict,
    )


def measure_this_machine(
    threads: int | None = None, size: int = 512, repeats: int = 5
) -> TargetProfile:
    """Profile this machine with ONNX Runtime itself: fp32 and INT8 MatMul peak, copy bandwidth.

    Takes a few seconds. The figures are what ORT reaches on a large MatMul, which is closer to
    a realistic peak than the datasheet number.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from edgetwin.edge.module import make_session
    from edgetwin.edge.quantize import quantize_static

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((size, size)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "mm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [size, size])],
        [w],
    )
    mm = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    mm.ir_version = 8
    fp32 = mm.SerializeToString()
    x = rng.standard_normal((size, size)).astype(np.float32)
    int8 = quantize_static(onnx.load_from_string(fp32).SerializeToString(), [{"x": x}])
    peaks: dict[str, float] = {}
    for prec, blob in (("fp32", fp32), ("int8", int8)):
        sess = make_session(blob, ["CPUExecutionProvider"], threads)
        sess.run(None, {"x": x})
        best = min(_timed(lambda s=sess: s.run(None, {"x": x})) for _ in range(repeats))
        peaks[prec] = 2.0 * size**3 / best / 1e9
    src = np.ones(32 * 2**20 // 8, dtype=np.float64)  # 32 MiB, beyond last-level cache
    dst = np.empty_like(src)
    best = min(_timed(lambda: np.copyto(dst, src)) for _ in range(repeats))
    bandwidth = 2 * src.nbytes / best / 1e9  # read + write
    mem_mb = None
    try:
        mem_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    except (ValueError, OSError, AttributeError):
        pass
    return TargetProfile(
        key="this-machine",
        name=f"this machine ({os.cpu_count()} CPUs, ORT threads={threads or 'default'})",
        kind="cpu",
        peak_gops={k: round(v, 1) for k, v in peaks.items()},
        bandwidth_gbs=round(bandwidth, 1),
        memory_mb=mem_mb,
        source=f"measured: ORT MatMul {size}x{size}, numpy copy of 32 MiB, best of {repeats}",
    )


def _timed(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0
