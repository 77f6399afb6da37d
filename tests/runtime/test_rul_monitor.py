"""The RUL edge module on replayed C-MAPSS engines: every cycle gets an RUL with its interval,
in the store and in the twin, equal to what the module says on the same history."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pytest

from edgetwin.core.config import load_plant
from edgetwin.runtime.build import build_monitor, build_source
from edgetwin.runtime.pipeline import Pipeline
from edgetwin.store import open_store
from edgetwin.twin import Twin

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "turbofan"


def _replay_module():
    spec = importlib.util.spec_from_file_location("make_replay", EXAMPLE / "make_replay.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def tiny_rul(tmp_path_factory: pytest.TempPathFactory, shared_data_dir: Path) -> tuple[Path, Path]:
    root = shared_data_dir / "cmapss"
    if not (root / "train_FD001.txt").is_file():
        pytest.skip(f"C-MAPSS not found at {root} (set EDGETWIN_DATA)")
    from edgetwin.pdm.datasets.cmapss import load_runs
    from edgetwin.pdm.rul.estimator import CnnRulRegressor
    from edgetwin.pdm.rul.module import export_module

    runs = load_runs(root / "train_FD001.txt")
    # a 20-cycle window, shorter than the replayed engines (31 and 49 cycles), so the monitor's
    # kept rows and cycle numbering (the default model reads the engine's age) are exercised
    est = CnnRulRegressor(
        window=20,
        n_folds=2,
        max_epochs=1,
        patience=1,
        samples_per_epoch=1024,
        max_engines=20,
        n_threads=1,
    ).fit(runs)
    assert est.age_scale_ is not None
    out = tmp_path_factory.mktemp("rul") / "rul.zip"
    return export_module(est, runs, out, calibration_samples=64), root / "test_FD001.txt"


def test_rul_published_per_cycle_into_store_and_twin(
    tiny_rul: tuple[Path, Path], tmp_path: Path
) -> None:
    from edgetwin.edge import EdgeModule
    from edgetwin.pdm.datasets.cmapss import load_runs
    from edgetwin.pdm.rul.module import predict_last

    module_path, test_file = tiny_rul
    replay = _replay_module()
    csv = tmp_path / "replay.csv"
    pacsv.write_csv(replay.replay_table(test_file, 2), csv)
    text = (EXAMPLE / "plant.yaml").read_text()
    text = text.replace("examples/turbofan/replay.csv", str(csv)).replace("speed: 600", "speed: 0")
    text = text.replace("artifacts/rul_fd001.zip", str(module_path))
    (tmp_path / "plant.yaml").write_text(text)
    plant = load_plant(tmp_path / "plant.yaml")

    store = open_store(tmp_path / "t.duckdb")
    twin = Twin.from_config(plant)
    pipe = Pipeline(
        [build_source(s, plant) for s in plant.sources],
        store,
        monitors=[build_monitor(m, plant) for m in plant.monitors],
        twin=twin,
    )

    async def main() -> None:
        await pipe.start()
        await pipe.wait_sources()
        await pipe.stop()

    asyncio.run(main())
    module = EdgeModule.load(module_path)
    histories = load_runs(test_file).histories()[:2]
    for n, history in enumerate(histories, start=1):
        path = f"fleet/hangar1/line1/engine{n}"
        rul = store.read_samples(f"{path}/rul").column("value").to_numpy()
        lo = store.read_samples(f"{path}/rul_lo").column("value").to_numpy()
        hi = store.read_samples(f"{path}/rul_hi").column("value").to_numpy()
        assert len(rul) == len(history)  # one estimate per cycle
        assert np.all(lo <= rul) and np.all(rul <= hi)
        # every cycle's estimate is the module's on the history up to that cycle
        per_cycle = [predict_last(module, history[:c])[0] for c in range(1, len(history) + 1)]
        np.testing.assert_allclose(rul, per_cycle, atol=1e-3)
        expected = predict_last(module, history)
        assert rul[-1] == pytest.approx(expected[0], abs=1e-3)
        assert (lo[-1], hi[-1]) == pytest.approx(expected[1:], abs=1e-3)
        state = twin.asset(path)
        assert state.rul == pytest.approx(expected[0], abs=1e-3)
        assert state.rul_lo is not None and state.rul_hi is not None
    store.close()
