"""Export the plant as an AASX package (AAS v3, basyx-python-sdk).

One shell per asset with the IDTA submodels Digital Nameplate, Technical Data, Time Series Data
(a linked segment per signal pointing at our REST API) and Predictive Maintenance (RUL with its
interval, pre-alerts, maintenance required — from the live twin when one is given); one shell
for the plant (its sources, monitors and alarms, so `import` rebuilds plant.yaml without loss);
one shell per edge module with AI Model Nameplate and AI Deployment.
"""

from __future__ import annotations

import io
import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from basyx.aas import model
from basyx.aas.adapter import aasx
from basyx.aas.adapter.json import StrictAASFromJsonDecoder

from edgetwin.core.assets import Asset
from edgetwin.core.config import PlantConfig
from edgetwin.twin.aas import semantics as sem
from edgetwin.twin.aas.codec import encode, encode_dict, global_ref, id_short


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", name) or "plant"


def _mlp(
    short: str, text: str, semantic: str, key: str | None = None
) -> model.MultiLanguageProperty:
    ext = (
        [model.Extension("edgetwin:key", value_type=model.datatypes.String, value=key)]
        if key
        else []
    )
    return model.MultiLanguageProperty(
        short,
        model.MultiLanguageTextType({"en": text}),
        semantic_id=global_ref(semantic),
        extension=ext,
    )


def _prop(short: str, value: Any, semantic: str | None = None, vtype: Any = None) -> model.Property:
    if vtype is None:
        vtype = (
            model.datatypes.Boolean
            if isinstance(value, bool)
            else model.datatypes.Long
            if isinstance(value, int)
            else model.datatypes.Double
            if isinstance(value, float)
            else model.datatypes.String
        )
    return model.Property(
        short, vtype, value, semantic_id=global_ref(semantic) if semantic else None
    )


def nameplate_submodel(base: str, asset: Asset) -> model.Submodel:
    """IDTA 02006: known nameplate keys map onto the template; the rest are kept as extra elements."""
    elements: list[model.SubmodelElement] = []
    taken: set[str] = set()
    for key, value in asset.nameplate.items():
        spec = sem.NAMEPLATE_FIELDS.get(key.lower())
        if spec and spec[0] not in taken:
            short, irdi, multi = spec
            taken.add(short)
            if multi and isinstance(value, str):
                elements.append(_mlp(short, value, irdi, key))
            else:
                el = encode(key, value, None, irdi)
                el.id_short = short
                if not any(e.name == "edgetwin:key" for e in el.extension):
                    el.extension.add(
                        model.Extension(
                            "edgetwin:key", value_type=model.datatypes.String, value=key
                        )
                    )
                elements.append(el)
        else:
            elements.append(encode(key, value, taken))
    return model.Submodel(
        f"{base}:sm:Nameplate",
        elements,
        id_short="Nameplate",
        semantic_id=global_ref(sem.NAMEPLATE),
    )


def technical_data_submodel(base: str, asset: Asset) -> model.Submodel:
    """IDTA 02003: general information from the nameplate; the behaviour model as technical properties."""
    general: list[model.SubmodelElement] = []
    for key, value in asset.nameplate.items():
        spec = sem.NAMEPLATE_FIELDS.get(key.lower())
        if (
            spec
            and spec[0] in ("ManufacturerName", "ManufacturerProductDesignation")
            and isinstance(value, str)
        ):
            if all(e.id_short != spec[0] for e in general):
                general.append(_mlp(spec[0], value, spec[1]))
    props: list[model.SubmodelElement] = [_prop("AssetType", asset.type)]
    props.append(encode("BehaviourModel", asset.model))
    return model.Submodel(
        f"{base}:sm:TechnicalData",
        [
            model.SubmodelElementCollection(
                "GeneralInformation", general, semantic_id=global_ref(sem.TD_GENERAL)
            ),
            model.SubmodelElementCollection(
                "ProductClassifications", [], semantic_id=global_ref(sem.TD_CLASSIFICATIONS)
            ),
            model.SubmodelElementCollection(
                "TechnicalProperties", props, semantic_id=global_ref(sem.TD_PROPERTIES)
            ),
            model.SubmodelElementCollection(
                "FurtherInformation", [], semantic_id=global_ref(sem.TD_FURTHER)
            ),
        ],
        id_short="TechnicalData",
        semantic_id=global_ref(sem.TECHNICAL_DATA),
    )


def time_series_submodel(base: str, asset: Asset, api_url: str) -> model.Submodel:
    """IDTA 02008: one LinkedSegment per signal; Endpoint + Query read it from our REST API."""
    record: list[model.SubmodelElement] = [_prop("Time", None, sem.TS_TIME, model.datatypes.String)]
    segments: list[model.SubmodelElement] = []
    taken_r: set[str] = {"Time"}
    taken_s: set[str] = set()
    for s in asset.signals:
        sid = asset.signal_id(s.name)
        var = id_short(s.name, taken_r)
        record.append(_prop(var, None, None, model.datatypes.Double))
        seg = model.SubmodelElementCollection(
            id_short(f"Segment_{s.name}", taken_s),
            [
                _mlp("Name", s.name, sem.TS_SEG_NAME),
                _prop("SamplingRate", float(s.rate_hz), sem.TS_SAMPLING_RATE),
                _prop(
                    "Endpoint",
                    f"{api_url.rstrip('/')}/api/signals/{sid}/samples",
                    sem.TS_ENDPOINT,
                    model.datatypes.AnyURI,
                ),
                _prop("Query", "start={start}&end={end}&limit=1000000", sem.TS_QUERY),
                encode("SignalConfiguration", s.model_dump(mode="json"), None, sem.SIGNAL_CONFIG),
            ],
            semantic_id=global_ref(sem.TS_LINKED),
        )
        segments.append(seg)
    meta = model.SubmodelElementCollection(
        "Metadata",
        [
            _mlp("Name", f"{asset.path} signals", sem.TS_NAME),
            model.SubmodelElementCollection(
                "Record", record, semantic_id=global_ref(sem.TS_RECORD)
            ),
        ],
        semantic_id=global_ref(sem.TS_METADATA),
    )
    return model.Submodel(
        f"{base}:sm:TimeSeries",
        [
            meta,
            model.SubmodelElementCollection(
                "Segments", segments, semantic_id=global_ref(sem.TS_SEGMENTS)
            ),
        ],
        id_short="TimeSeries",
        semantic_id=global_ref(sem.TIME_SERIES),
    )


def pdm_submodel(base: str, asset: Asset, twin: Any = None) -> model.Submodel:
    """IDTA 02048: RUL and its interval, health, pre-alerts, maintenance required (live when a twin is given)."""
    state = twin.asset(asset.path) if twin is not None else None

    def p(name: str, value: Any, vtype: Any = model.datatypes.Double) -> model.Property:
        return _prop(name, value, sem.PDM_ELEMENT.format(name=name), vtype)

    alerts: list[model.SubmodelElement] = []
    required = False
    if state is not None:
        taken: set[str] = set()
        for i, a in enumerate(state.alarms):
            keep = ("alarm_id", "state", "priority", "message", "value", "limit", "ts_ns")
            alerts.append(encode(f"PreAlert{i:03d}", {k: a[k] for k in keep}, taken))
        required = state.status == "alarm"
    elements: list[model.SubmodelElement] = [
        p("RemainingUsefulLife", None if state is None else state.rul),
        p("RemainingUsefulLifeLowerBound", None if state is None else state.rul_lo),
        p("RemainingUsefulLifeUpperBound", None if state is None else state.rul_hi),
        p("HealthIndex", None if state is None else state.health),
        p("HealthReason", None if state is None else state.health_reason, model.datatypes.String),
        p("MaintenanceRequired", required, model.datatypes.Boolean),
        model.SubmodelElementCollection(
            "PreAlerts", alerts, semantic_id=global_ref(sem.PDM_ELEMENT.format(name="PreAlerts"))
        ),
        p(
            "EstimationTime",
            None
            if state is None
            else datetime.fromtimestamp(time.time(), UTC).isoformat(timespec="seconds"),
            model.datatypes.String,
        ),
    ]
    return model.Submodel(
        f"{base}:sm:PredictiveMaintenance",
        elements,
        id_short="PredictiveMaintenance",
        semantic_id=global_ref(sem.PDM),
    )


def _shell(
    aas_id: str,
    short: str,
    asset_id: str,
    asset_type: str,
    submodels: list[model.Submodel],
    **kw: Any,
) -> model.AssetAdministrationShell:
    info = model.AssetInformation(
        model.AssetKind.INSTANCE, global_asset_id=asset_id, asset_type=asset_type, **kw
    )
    return model.AssetAdministrationShell(
        info,
        aas_id,
        id_short=short,
        submodel={model.ModelReference.from_referable(s) for s in submodels},
    )


def build_store(
    plant: PlantConfig,
    *,
    twin: Any = None,
    modules: list[dict[str, Any]] | None = None,
    api_url: str | None = None,
) -> tuple[model.DictIdentifiableStore, list[str]]:
    """All shells and submodels of the plant in a basyx store; returns (store, shell ids)."""
    store: model.DictIdentifiableStore = model.DictIdentifiableStore()
    ids: list[str] = []
    root = f"{sem.PREFIX}:{slug(plant.name)}"
    url = api_url or f"http://{plant.server.host}:{plant.server.http_port}/"
    taken: set[str] = set()
    for asset in plant.assets:
        base = f"{root}:asset:{asset.path}"
        subs = [
            nameplate_submodel(base, asset),
            technical_data_submodel(base, asset),
            time_series_submodel(base, asset, url),
            pdm_submodel(base, asset, twin),
        ]
        desc = model.MultiLanguageTextType({"en": asset.description}) if asset.description else None
        shell = _shell(
            f"{base}:aas",
            id_short(asset.path.replace("/", "_"), taken),
            f"{root}:asset:{asset.path}",
            asset.type,
            subs,
            specific_asset_id=[model.SpecificAssetId(sem.ASSET_PATH_KEY, asset.path)],
        )
        shell.description = desc
        for s in subs:
            store.add(s)
        store.add(shell)
        ids.append(shell.id)
    config = plant.model_dump(mode="json", exclude={"assets"})
    config["asset_order"] = [a.path for a in plant.assets]
    cfg_sm = model.Submodel(
        f"{root}:sm:PlantConfiguration",
        encode_dict(config),
        id_short="PlantConfiguration",
        semantic_id=global_ref(sem.PLANT_CONFIG),
    )
    plant_shell = _shell(
        f"{root}:aas:plant",
        id_short(f"Plant_{plant.name}", taken),
        f"{root}:plant",
        sem.PLANT_ASSET_TYPE,
        [cfg_sm],
    )
    if plant.description:
        plant_shell.description = model.MultiLanguageTextType({"en": plant.description})
    store.add(cfg_sm)
    store.add(plant_shell)
    ids.append(plant_shell.id)
    for manifest in modules or []:
        shell_id = _add_module(store, manifest, taken)
        if shell_id:
            ids.append(shell_id)
    return store, ids


def _add_module(
    store: model.DictIdentifiableStore, manifest: dict[str, Any], taken: set[str]
) -> str | None:
    """AI Model Nameplate (02060) and AI Deployment (02059) from the edge room's mapping."""
    from edgetwin.edge.aas import manifest_to_aas_submodels
    from edgetwin.edge.manifest import Manifest

    m = Manifest.model_validate(manifest)
    subs = [
        json.loads(json.dumps(sm), cls=StrictAASFromJsonDecoder)
        for sm in manifest_to_aas_submodels(m).values()
    ]
    for sm in subs:
        if sm.id in store:
            return None  # same module twice (two files, same name and version)
        store.add(sm)
    base = f"{sem.PREFIX}:module:{m.name}:{m.version}"
    shell = _shell(
        f"{base}:aas", id_short(f"Module_{m.name}", taken), base, sem.MODULE_ASSET_TYPE, subs
    )
    store.add(shell)
    return str(shell.id)


def export_aasx_bytes(
    plant: PlantConfig,
    *,
    twin: Any = None,
    modules: list[dict[str, Any]] | None = None,
    api_url: str | None = None,
) -> bytes:
    """The AASX package as bytes (XML inside, the form most AAS tools read)."""
    store, ids = build_store(plant, twin=twin, modules=modules, api_url=api_url)
    buf = io.BytesIO()
    with aasx.AASXWriter(buf) as writer:
        writer.write_aas(ids, store, aasx.DictSupplementaryFileContainer())
    return buf.getvalue()


def export_aasx(path: str | Path, plant: PlantConfig, **kw: Any) -> Path:
    p = Path(path)
    p.write_bytes(export_aasx_bytes(plant, **kw))
    return p
