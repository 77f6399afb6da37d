"""Import an AASX package: rebuild plant.yaml from shells we wrote, or create assets from foreign ones.

Shells written by `export` carry everything needed (asset path, signal configs, behaviour model,
the plant's sources/monitors/alarms), so import(export(plant)) == plant. A shell from another
tool becomes an asset under `imported/` with its Digital Nameplate and its Time Series signals.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from basyx.aas import model
from basyx.aas.adapter import aasx

from edgetwin.core.config import PlantConfig, parse_plant
from edgetwin.core.errors import ConfigError
from edgetwin.twin.aas import semantics as sem
from edgetwin.twin.aas.codec import decode, decode_elements, id_short, key_of


def _sem(el: model.HasSemantics) -> str | None:
    ref = el.semantic_id
    return None if ref is None or not ref.key else str(ref.key[0].value)


def _child(parent: Any, short: str) -> Any:
    for c in parent:
        if c.id_short == short:
            return c
    return None


def read_aasx(path: str | Path) -> model.DictIdentifiableStore:
    """All identifiables of an AASX package (raises ConfigError if it is not one)."""
    store: model.DictIdentifiableStore = model.DictIdentifiableStore()
    files = aasx.DictSupplementaryFileContainer()
    try:
        with aasx.AASXReader(str(path)) as reader:
            reader.read_into(store, files)
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"{path}: not a readable AASX package ({exc})") from None
    return store


def _submodels(
    store: model.DictIdentifiableStore, shell: model.AssetAdministrationShell
) -> dict[str, model.Submodel]:
    out: dict[str, model.Submodel] = {}
    for ref in shell.submodel:
        try:
            sm = ref.resolve(store)
        except KeyError:
            continue
        out[_sem(sm) or str(sm.id_short)] = sm
    return out


def _asset_from_shell(
    store: model.DictIdentifiableStore, shell: model.AssetAdministrationShell
) -> dict[str, Any]:
    info = shell.asset_information
    path = next((s.value for s in info.specific_asset_id if s.name == sem.ASSET_PATH_KEY), None)
    if path is None:
        path = "imported/" + id_short(str(shell.id_short or shell.id))
    desc: Any = shell.description or {}
    asset: dict[str, Any] = {
        "path": path,
        "type": info.asset_type or "generic",
        "description": dict(desc).get("en", ""),
    }
    subs = _submodels(store, shell)
    nameplate = subs.get(sem.NAMEPLATE)
    if nameplate is not None:
        asset["nameplate"] = {key_of(e): decode(e) for e in nameplate.submodel_element}
    td = subs.get(sem.TECHNICAL_DATA)
    if td is not None:
        props = _child(td.submodel_element, "TechnicalProperties")
        model_el = None if props is None else _child(props.value, "BehaviourModel")
        if model_el is not None:
            asset["model"] = decode(model_el)
    ts = subs.get(sem.TIME_SERIES)
    signals: list[dict[str, Any]] = []
    if ts is not None:
        segs = _child(ts.submodel_element, "Segments")
        for seg in [] if segs is None else segs.value:
            cfg = _child(seg.value, "SignalConfiguration")
            if cfg is not None:
                signals.append(decode(cfg))
                continue
            name = _child(seg.value, "Name")
            rate = _child(seg.value, "SamplingRate")
            if name is not None:
                sig: dict[str, Any] = {"name": id_short(str(decode(name)))}
                if rate is not None and decode(rate):
                    sig["rate_hz"] = float(decode(rate))
                signals.append(sig)
    asset["signals"] = signals
    return asset


def import_aasx(path: str | Path) -> PlantConfig:
    """Rebuild a validated PlantConfig from an AASX package."""
    store = read_aasx(path)
    shells = [o for o in store if isinstance(o, model.AssetAdministrationShell)]
    plant_shell = next(
        (s for s in shells if s.asset_information.asset_type == sem.PLANT_ASSET_TYPE), None
    )
    assets = [
        _asset_from_shell(store, s)
        for s in shells
        if s.asset_information.asset_type not in (sem.PLANT_ASSET_TYPE, sem.MODULE_ASSET_TYPE)
    ]
    raw: dict[str, Any] = {"name": Path(path).stem}
    order: list[str] = []
    if plant_shell is not None:
        cfg = _submodels(store, plant_shell).get(sem.PLANT_CONFIG)
        if cfg is not None:
            raw = decode_elements(cfg.submodel_element)
            order = raw.pop("asset_order", []) or []
        if plant_shell.description and "description" not in raw:
            raw["description"] = dict(plant_shell.description).get("en", "")
    rank = {p: i for i, p in enumerate(order)}
    assets.sort(key=lambda a: (rank.get(a["path"], len(rank)), a["path"]))
    raw["assets"] = assets
    if not assets:
        raise ConfigError(f"{path}: the package has no asset shells to import")
    return parse_plant(raw, str(path))
