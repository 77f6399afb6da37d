"""Lossless JSON value <-> AAS submodel elements, for the parts of plant.yaml IDTA has no slot for.

Why: an export must round-trip without loss, yet keys like `rate_hz`, nested model parameters,
`None` and lists have no home in the IDTA templates. Dicts become collections, scalars become
typed Properties (xs:boolean/long/double/string), lists become collections marked as lists, and
any key that is not a valid idShort keeps its original spelling in an `edgetwin:key` extension.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from basyx.aas import model

EXT_KEY = "edgetwin:key"
EXT_TYPE = "edgetwin:type"
_ID_SHORT = re.compile(r"^[a-zA-Z][a-zA-Z0-9_-]*[a-zA-Z0-9_]+$")


def id_short(name: str, taken: set[str] | None = None) -> str:
    """A valid AAS v3 idShort close to `name`, unique within `taken` (which it updates)."""
    s = re.sub(r"[^A-Za-z0-9_-]", "_", str(name))
    if not s or not s[0].isalpha():
        s = "x" + s
    if len(s) < 2 or s.endswith("-"):
        s += "_"
    s = s[:120]
    if taken is not None:
        base, i = s, 2
        while s in taken:
            s = f"{base}_{i}"
            i += 1
        taken.add(s)
    return s


def global_ref(value: str) -> model.ExternalReference:
    return model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, value),))


def _ext(name: str, value: str) -> model.Extension:
    return model.Extension(name, value_type=model.datatypes.String, value=value)


def encode(
    name: str, value: Any, taken: set[str] | None = None, semantic_id: str | None = None
) -> model.SubmodelElement:
    """One JSON-able value as a submodel element named after `name`."""
    short = id_short(name, taken)
    ext = [_ext(EXT_KEY, str(name))] if short != str(name) else []
    sem = global_ref(semantic_id) if semantic_id else None
    if isinstance(value, dict):
        inner: set[str] = set()
        return model.SubmodelElementCollection(
            short, [encode(k, v, inner) for k, v in value.items()], extension=ext, semantic_id=sem
        )
    if isinstance(value, list | tuple):
        inner = set()
        items = [encode(f"i{i:04d}", v, inner) for i, v in enumerate(value)]
        return model.SubmodelElementCollection(
            short, items, extension=[*ext, _ext(EXT_TYPE, "list")], semantic_id=sem
        )
    if value is None:
        return model.Property(
            short,
            model.datatypes.String,
            None,
            extension=[*ext, _ext(EXT_TYPE, "null")],
            semantic_id=sem,
        )
    if isinstance(value, bool):
        return model.Property(short, model.datatypes.Boolean, value, extension=ext, semantic_id=sem)
    if isinstance(value, int):
        return model.Property(short, model.datatypes.Long, value, extension=ext, semantic_id=sem)
    if isinstance(value, float):
        return model.Property(short, model.datatypes.Double, value, extension=ext, semantic_id=sem)
    return model.Property(short, model.datatypes.String, str(value), extension=ext, semantic_id=sem)


def encode_dict(
    values: dict[str, Any], taken: set[str] | None = None
) -> list[model.SubmodelElement]:
    taken = set() if taken is None else taken
    return [encode(k, v, taken) for k, v in values.items()]


def _extensions(el: model.HasExtension) -> dict[str, str]:
    return {e.name: str(e.value) for e in el.extension}


def key_of(el: model.SubmodelElement) -> str:
    """The original key an element was encoded from (its idShort unless renamed)."""
    return _extensions(el).get(EXT_KEY, str(el.id_short))


def decode(el: model.SubmodelElement) -> Any:
    """Inverse of `encode`; elements not written by us decode to their plain values."""
    ext = _extensions(el)
    kind = ext.get(EXT_TYPE)
    if isinstance(el, model.SubmodelElementCollection):
        children = list(el.value)
        if kind == "list":
            return [decode(c) for c in sorted(children, key=lambda c: str(c.id_short))]
        return decode_elements(children)
    if isinstance(el, model.SubmodelElementList):
        return [decode(c) for c in el.value]
    if isinstance(el, model.Property):
        if kind == "null":
            return None
        v = el.value
        if isinstance(v, bool):
            return v
        if isinstance(v, int):
            return int(v)
        if isinstance(v, float):
            return float(v) if not math.isnan(v) else float("nan")
        return None if v is None else str(v)
    if isinstance(el, model.MultiLanguageProperty):
        texts = dict(el.value or {})
        return texts.get("en") or next(iter(texts.values()), None)
    if isinstance(el, model.File):
        return el.value
    if isinstance(el, model.Range):
        return {"min": el.min, "max": el.max}
    return None


def decode_elements(elements: Iterable[model.SubmodelElement]) -> dict[str, Any]:
    return {key_of(c): decode(c) for c in elements}
