"""Typed constructors for asyncua values.

asyncua annotates its fields with NewTypes (Int16, UInt32, DateTime...) that plain ints and
datetimes do not satisfy under mypy; these helpers hold the one cast each, so the rest of
connect/opcua stays type-checked without scattered ignores.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from asyncua import ua


def nid(identifier: str | int, ns: int = 0) -> ua.NodeId:
    """ua.NodeId(identifier, ns) for a string or numeric identifier."""
    return ua.NodeId(cast(Any, identifier), cast(Any, ns))


def status(code: int) -> ua.StatusCode:
    return ua.StatusCode(cast(Any, code))


def data_value(value: float, ts: datetime, code: int = 0) -> ua.DataValue:
    """A Double DataValue with the same source and server timestamp."""
    return ua.DataValue(
        ua.Variant(value, ua.VariantType.Double),
        StatusCode=status(code),
        SourceTimestamp=cast(Any, ts),
        ServerTimestamp=cast(Any, ts),
    )
