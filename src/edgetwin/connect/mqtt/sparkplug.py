"""Sparkplug B 3.0 vocabulary: topics, ids, payload building and metric values.

Topic namespace `spBv1.0/<group>/<type>/<edge node>[/<device>]`; an edgetwin edge node maps
each asset to a device whose id is the asset path with `/` replaced by `:` (Sparkplug ids may
not contain `/ + #`), and each signal to a metric of the same name, so a host application gets
signal ids back without a lookup table.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from edgetwin.connect.mqtt import sparkplug_b_pb2 as pb
from edgetwin.core.errors import ConfigError

NAMESPACE = "spBv1.0"
REBIRTH = "Node Control/Rebirth"
BDSEQ = "bdSeq"
MESSAGE_TYPES = ("NBIRTH", "NDEATH", "DBIRTH", "DDEATH", "NDATA", "DDATA", "NCMD", "DCMD", "STATE")
_ID = re.compile(r"^[^/+#]+$")


def check_id(value: str, what: str) -> str:
    if not _ID.match(value):
        raise ConfigError(f"Sparkplug {what} {value!r} may not be empty or contain '/', '+', '#'")
    return value


def device_id(asset_path: str) -> str:
    return asset_path.replace("/", ":")


def asset_path(device: str) -> str:
    return device.replace(":", "/")


def topic(group: str, mtype: str, node: str, device: str | None = None) -> str:
    return "/".join([NAMESPACE, group, mtype, node] + ([device] if device else []))


@dataclass(frozen=True)
class Topic:
    group: str
    mtype: str
    node: str
    device: str | None


def parse_topic(t: str) -> Topic | None:
    parts = t.split("/")
    if len(parts) not in (4, 5) or parts[0] != NAMESPACE or parts[2] not in MESSAGE_TYPES:
        return None
    return Topic(parts[1], parts[2], parts[3], parts[4] if len(parts) == 5 else None)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def metric_value(m: Any) -> float:
    """A metric's value as float (NaN when null or not numeric)."""
    if m.is_null:
        return float("nan")
    kind = m.WhichOneof("value")
    if kind in ("double_value", "float_value", "int_value", "long_value", "boolean_value"):
        v = getattr(m, kind)
        if kind == "long_value" and m.datatype in (pb.Int64,) and v >= 2**63:
            v -= 2**64  # signed Int64 travels as uint64 two's complement
        if kind == "int_value" and m.datatype in (pb.Int8, pb.Int16, pb.Int32) and v >= 2**31:
            v -= 2**32
        return float(v)
    return float("nan")


def payload(seq: int | None, metrics: list[dict[str, Any]], ts_ms: int | None = None) -> bytes:
    """Serialise a payload; each metric dict has name/alias/timestamp/datatype/value keys."""
    p = pb.Payload(timestamp=ts_ms if ts_ms is not None else now_ms())
    if seq is not None:
        p.seq = seq
    for d in metrics:
        m = p.metrics.add()
        if "name" in d:
            m.name = d["name"]
        if "alias" in d:
            m.alias = d["alias"]
        if "timestamp" in d:
            m.timestamp = d["timestamp"]
        m.datatype = d.get("datatype", pb.Double)
        v = d.get("value")
        if v is None:
            m.is_null = True
        elif m.datatype == pb.Boolean:
            m.boolean_value = bool(v)
        elif m.datatype in (pb.String, pb.Text):
            m.string_value = str(v)
        elif m.datatype in (pb.Int64, pb.UInt64, pb.DateTime):
            m.long_value = int(v) % 2**64
        elif m.datatype == pb.Double:
            if v != v:
                m.is_null = True
            else:
                m.double_value = float(v)
        else:
            m.int_value = int(v) % 2**32
    return p.SerializeToString()
