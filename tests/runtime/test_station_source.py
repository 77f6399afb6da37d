"""The demo's inspection station through the pipeline: every part becomes an `inspection`
event on the station asset, with its overlay written, and the defective ones are rejected."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from edgetwin.core.config import parse_plant
from edgetwin.runtime.pipeline import Pipeline
from edgetwin.runtime.station_source import StationSource
from edgetwin.store import open_store
from edgetwin.twin import Twin

STATION = "acme/line1/inspect1"


@pytest.fixture(scope="module")
def module_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    from edgetwin.vision.datasets import load_mvtec
    from edgetwin.vision.synthetic import InspectionStation, write_mvtec_layout
    from edgetwin.vision.train import train_inspection

    root = tmp_path_factory.mktemp("station")
    layout = write_mvtec_layout(
        InspectionStation(size=(128, 128), seed=1), root / "parts", n_train=24
    )
    out = root / "inspection.zip"
    train_inspection(load_mvtec(layout), out, image_size=(128, 128), bank_size=512, int8=False)
    return out


def test_station_parts_become_inspection_events(module_path: Path, tmp_path: Path) -> None:
    from edgetwin.vision.inspect import Inspector
    from edgetwin.vision.synthetic import InspectionStation

    plant = parse_plant({"name": "t", "assets": [{"path": STATION, "type": "inspection_station"}]})
    station = InspectionStation(size=(128, 128), seed=7, defect_rate=0.2)
    inspector = Inspector(module_path, source=STATION, overlay_dir=tmp_path / "overlays")
    source = StationSource(station, inspector, speed=0, takt_s=60, duration_s=20 * 60, start_ns=0)
    store = open_store(tmp_path / "s.duckdb")
    pipe = Pipeline([source], store, twin=Twin.from_config(plant))

    async def main() -> None:
        await pipe.start()
        await pipe.wait_sources()
        await pipe.stop()

    asyncio.run(main())
    events = store.read_events(kind="inspection")
    payloads = [json.loads(p) for p in events.column("payload").to_pylist()]
    assert len(payloads) == 20 and set(events.column("source").to_pylist()) == {STATION}
    assert all(Path(p["overlay_path"]).is_file() for p in payloads)
    truth = [station.part(i).label for i in range(20)]
    decided = [p["decision"] == "reject" for p in payloads]
    assert sum(truth) == source.defective_truth > 0
    caught = sum(1 for t, d in zip(truth, decided, strict=True) if t and d)
    assert caught >= 0.75 * sum(truth)  # most defective parts are rejected
    store.close()
