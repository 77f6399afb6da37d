"""Modbus register maps: data type, byte/word order and scaling per signal, decoded with numpy.

A signal's `address` is a mapping, e.g. `{table: holding, address: 100, type: float32,
order: CDAB, scale: 0.1, offset: -40, device_id: 1}`. Orders name the byte sequence of the
value on the wire, A being the most significant byte: ABCD (big-endian, the Modbus default),
DCBA (little-endian), BADC (bytes swapped in each word), CDAB (words swapped). Reads are merged
into blocks of at most 125 contiguous registers (the protocol limit) per table and device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edgetwin.core.errors import ConfigError

DTYPES: dict[str, tuple[str, int]] = {  # name -> (numpy kind, registers)
    "int16": ("i2", 1),
    "uint16": ("u2", 1),
    "int32": ("i4", 2),
    "uint32": ("u4", 2),
    "float32": ("f4", 2),
    "int64": ("i8", 4),
    "uint64": ("u8", 4),
    "float64": ("f8", 4),
    "bool": ("u2", 1),
}
MAX_BLOCK = 125


class RegisterSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    table: Literal["holding", "input", "coil", "discrete"] = "holding"
    address: int = Field(ge=0, le=65535, description="0-based register/coil address")
    type: Literal[
        "int16", "uint16", "int32", "uint32", "float32", "int64", "uint64", "float64", "bool"
    ] = "uint16"
    order: Literal["ABCD", "DCBA", "BADC", "CDAB"] = "ABCD"
    scale: float = 1.0
    offset: float = 0.0
    device_id: int = Field(1, ge=0, le=255)

    @property
    def count(self) -> int:
        return 1 if self.table in ("coil", "discrete") else DTYPES[self.type][1]


def parse_register(signal_id: str, raw: Any, source: str) -> RegisterSpec:
    try:
        return RegisterSpec.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise ConfigError(
            f"source {source!r} (modbus): address of {signal_id!r}: {field}: {err['msg']}; "
            "write e.g. {table: holding, address: 100, type: float32, order: ABCD, scale: 1}"
        ) from None


def decode(regs: np.ndarray, spec: RegisterSpec) -> float:
    """Decode one value from its uint16 registers (as read, in address order)."""
    kind, n = DTYPES[spec.type]
    words = np.asarray(regs[:n], dtype=">u2")
    if spec.order in ("CDAB", "DCBA"):
        words = words[::-1]  # word order: least significant word first
    raw = words.tobytes()
    if spec.order in ("BADC", "DCBA"):
        raw = b"".join(raw[i : i + 2][::-1] for i in range(0, len(raw), 2))
    value = np.frombuffer(raw, dtype=">" + kind)[0]
    if spec.type == "bool":
        value = float(value != 0)
    return float(value) * spec.scale + spec.offset


def encode(value: float, spec: RegisterSpec) -> list[int]:
    """Registers for `value` (inverse of `decode`, before scaling); used by tests and sims."""
    kind, n = DTYPES[spec.type]
    raw = np.array([(value - spec.offset) / spec.scale], dtype=">" + kind).tobytes()
    if spec.order in ("BADC", "DCBA"):
        raw = b"".join(raw[i : i + 2][::-1] for i in range(0, len(raw), 2))
    words = np.frombuffer(raw, dtype=">u2")
    if spec.order in ("CDAB", "DCBA"):
        words = words[::-1]
    return [int(w) for w in words]


@dataclass
class Block:
    """One read request: contiguous registers of one table on one device."""

    table: str
    device_id: int
    start: int
    count: int
    members: list[tuple[int, RegisterSpec]]  # (signal index, spec)


def plan_blocks(specs: list[RegisterSpec]) -> list[Block]:
    """Merge registers into as few reads as the 125-register limit allows (gaps <= 8 are read)."""
    order = sorted(
        range(len(specs)), key=lambda i: (specs[i].table, specs[i].device_id, specs[i].address)
    )
    blocks: list[Block] = []
    for i in order:
        s = specs[i]
        b = blocks[-1] if blocks else None
        end = s.address + s.count
        if (
            b is not None
            and b.table == s.table
            and b.device_id == s.device_id
            and s.address <= b.start + b.count + 8
            and end - b.start <= MAX_BLOCK
        ):
            b.count = max(b.count, end - b.start)
            b.members.append((i, s))
        else:
            blocks.append(Block(s.table, s.device_id, s.address, s.count, [(i, s)]))
    return blocks
