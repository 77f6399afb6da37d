"""PlantSimulator: core-schema tables, row counts, seeding, chunking, failure, config errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import yaml

from edgetwin.core.config import load_plant, parse_plant
from edgetwin.core.errors import ConfigError
from edgetwin.core.schemas import SAMPLES_SCHEMA, WAVEFORMS_SCHEMA
from edgetwin.sim import PlantSimulator

DEMO = Path(__file__).resolve().parents[2] / "src" / "edgetwin" / "sim" / "plants" / "demo.yaml"
START = 1_700_000_000 * 10**9


def _asset(name: str, model: dict[str, Any], rate: float = 1.0) -> dict[str, Any]:
    return {
        "path": f"acme/s1/l1/{name}",
        "model": model,
        "signals": [
            {"name": "flow", "unit": "m3/h", "rate_hz": rate},
            {"name": "pressure_out", "unit": "bar", "rate_hz": rate},
            {"name": "motor_current", "unit": "A", "rate_hz": rate},
            {"name": "bearing_temp", "unit": "degC", "rate_hz": rate},
            {"name": "speed", "unit": "rpm", "rate_hz": 0.5},
            {
                "name": "vib_de",
                "unit": "g",
                "kind": "waveform",
                "rate_hz": 8000,
                "burst_s": 0.25,
                "every_s": 30,
            },
        ],
    }


def _plant(fault: dict[str, Any] | None = None, **extra: Any) -> Any:
    bad = {"kind": "motor_pump", **({"fault": fault} if fault else {}), **extra}
    return parse_plant(
        {
            "name": "t",
            "assets": [
                _asset("p1", {"kind": "motor_pump"}),
                _asset("p2", bad),
                {"path": "acme/s1/l1/cam", "signals": [{"name": "count", "unit": "count"}]},
            ],
        }
    )


def _split(tables: list[pa.Table]) -> tuple[pa.Table, pa.Table | None]:
    samples = [t for t in tables if t.schema.equals(SAMPLES_SCHEMA)]
    waves = [t for t in tables if t.schema.equals(WAVEFORMS_SCHEMA)]
    assert len(samples) + len(waves) == len(tables)
    return pa.concat_tables(samples), (pa.concat_tables(waves) if waves else None)


def _rows(table: pa.Table, signal_id: str) -> np.ndarray:
    mask = np.asarray(table["signal"].cast(pa.string()).to_pylist()) == signal_id
    return table["value"].to_numpy()[mask]


def test_step_returns_core_tables_with_right_row_counts() -> None:
    sim = PlantSimulator(_plant(), seed=1, start_ns=START)
    samples, waves = _split(sim.step(60.0))
    # 2 assets x (4 signals at 1 Hz x 60 s + speed at 0.5 Hz x 60 s); the camera is not simulated
    assert samples.num_rows == 2 * (4 * 60 + 30)
    assert sim.now_ns == START + 60 * 10**9
    ts = samples["ts"].cast(pa.int64()).to_numpy()
    assert ts.min() == START + 10**9 and ts.max() == START + 60 * 10**9
    assert (
        sorted(set(samples["signal"].cast(pa.string()).to_pylist()))[0]
        == "acme/s1/l1/p1/bearing_temp"
    )
    # bursts start at 30 s and 60 s; the one at 60 s ends at 60.5 s, so it arrives next step
    assert waves is not None and waves.num_rows == 2
    assert waves["rate_hz"].to_pylist() == [8000.0, 8000.0]
    assert {len(v) for v in waves["values"].to_pylist()} == {2000}
    assert waves["ts"].cast(pa.int64()).to_pylist() == [START + 30 * 10**9] * 2
    _, waves2 = _split(sim.step(1.0))
    assert waves2 is not None and waves2.num_rows == 2
    assert sim.assets == ["acme/s1/l1/p1", "acme/s1/l1/p2"]


def test_values_are_physical() -> None:
    sim = PlantSimulator(_plant(), seed=1, start_ns=0)
    samples, _ = _split(sim.step(600.0))
    speed = _rows(samples, "acme/s1/l1/p1/speed")
    flow = _rows(samples, "acme/s1/l1/p1/flow")
    assert np.all((speed > 0.75 * 1797) & (speed < 1.02 * 1797))
    assert np.all((flow > 0.7 * 120) & (flow < 1.05 * 120))
    current = _rows(samples, "acme/s1/l1/p1/motor_current")
    assert 10.0 < current.mean() < 30.0  # 15 kW at 400 V: ~27 A rated
    temp = _rows(samples, "acme/s1/l1/p1/bearing_temp")
    assert 35.0 < temp.mean() < 50.0


def test_same_seed_same_data_other_seed_other_data() -> None:
    def run(seed: int) -> list[pa.Table]:
        sim = PlantSimulator(_plant(), seed=seed, start_ns=START)
        return [t for _ in range(3) for t in sim.step(40.0)]

    a, b, c = run(4), run(4), run(5)
    assert all(x.equals(y) for x, y in zip(a, b, strict=True))
    assert not a[0].equals(c[0])


def test_output_does_not_depend_on_step_size() -> None:
    fine = PlantSimulator(_plant(), seed=2, start_ns=START)
    coarse = PlantSimulator(_plant(), seed=2, start_ns=START)
    s_fine, w_fine = _split([t for _ in range(120) for t in fine.step(1.0)])
    s_coarse, w_coarse = _split(coarse.step(120.0))
    for sid in ("acme/s1/l1/p2/bearing_temp", "acme/s1/l1/p2/flow", "acme/s1/l1/p1/speed"):
        np.testing.assert_allclose(_rows(s_fine, sid), _rows(s_coarse, sid), rtol=1e-12)
    assert w_fine is not None and w_coarse is not None

    def ordered(t: pa.Table) -> pa.Table:
        t = t.set_column(1, "signal", t["signal"].cast(pa.string()))
        return t.sort_by([("signal", "ascending"), ("ts", "ascending")])

    w_fine, w_coarse = ordered(w_fine), ordered(w_coarse)
    assert w_fine["ts"].equals(w_coarse["ts"]) and w_fine.num_rows == 6  # bursts at 30, 60, 90 s
    np.testing.assert_array_equal(
        np.asarray(w_fine["values"].to_pylist()), np.asarray(w_coarse["values"].to_pylist())
    )


def test_fault_ground_truth_and_trip_at_failure() -> None:
    fault = {"mode": "outer_race", "onset_s": 100, "failure_s": 3000}
    sim = PlantSimulator(_plant(fault), seed=3, start_ns=0)
    truth = sim.ground_truth()
    assert truth["acme/s1/l1/p1"].fault_mode == "none"
    gt = truth["acme/s1/l1/p2"]
    assert (gt.fault_mode, gt.onset_s, gt.failure_s) == ("outer_race", 100, 3000)
    assert gt.as_dict()["failure_s"] == 3000 and gt.rul_at(1000) == 2000
    assert gt.health_at(50) == 1.0 and gt.health_at(3000) == pytest.approx(0.0)
    samples, _ = _split(sim.step(2999.0))
    assert not sim.failed("acme/s1/l1/p2")
    samples2, waves2 = _split(sim.step(100.0))
    assert sim.failed("acme/s1/l1/p2") and not sim.failed("acme/s1/l1/p1")
    # vibration is acquired only while a machine turns: p1 still sends bursts, p2 no longer
    assert waves2 is not None
    assert set(waves2["signal"].cast(pa.string()).to_pylist()) == {"acme/s1/l1/p1/vib_de"}
    speed = _rows(samples2, "acme/s1/l1/p2/speed")
    assert speed[-1] < 5.0 and _rows(samples2, "acme/s1/l1/p1/speed")[-1] > 1000
    # friction from the spall heats the bearing before it fails
    temp = _rows(samples, "acme/s1/l1/p2/bearing_temp")
    healthy = _rows(samples, "acme/s1/l1/p1/bearing_temp")
    assert temp[-1] - healthy[-1] > 5.0


def test_cavitation_lowers_discharge_pressure() -> None:
    fault = {"mode": "cavitation", "onset_s": 0, "failure_s": 1000}
    sim = PlantSimulator(_plant(fault, load={"levels": [1.0]}), seed=3, start_ns=0)
    sim.step(900.0)
    samples, _ = _split(sim.step(60.0))
    p_cav = _rows(samples, "acme/s1/l1/p2/pressure_out").mean()
    speed = _rows(samples, "acme/s1/l1/p2/speed").mean()
    assert speed == pytest.approx(1797, rel=0.01)  # at rated speed ...
    rated_bar = 1.0 + 998 * 9.80665 * 40 / 1e5  # suction + rho g H
    assert p_cav < rated_bar - 0.5  # ... the head has collapsed
    noise = _rows(samples, "acme/s1/l1/p2/flow").std()
    assert noise > 3 * 0.006 * 120  # and flow is noisy


@pytest.mark.parametrize(
    ("model", "match"),
    [
        ({"kind": "turbine"}, r"acme/s1/l1/p2: model.kind='turbine'"),
        (
            {"kind": "motor_pump", "rated_flow": 3},
            r"acme/s1/l1/p2: model.rated_flow: unknown field",
        ),
        (
            {"kind": "motor_pump", "fault": {"mode": "outer_race", "onset_s": 9, "failure_s": 5}},
            r"acme/s1/l1/p2: model.fault: .*failure_s=5.0 must come after onset_s=9.0",
        ),
        (
            {"kind": "motor_pump", "fault": {"mode": "rust", "onset_s": 1, "failure_s": 5}},
            r"model.fault.mode",
        ),
        ({"kind": "motor_pump", "load": {"levels": [3.0]}}, r"model.load: .*levels"),
    ],
)
def test_bad_model_names_asset_and_field(model: dict[str, Any], match: str) -> None:
    plant = parse_plant(
        {"name": "t", "assets": [_asset("p1", {"kind": "motor_pump"}), _asset("p2", model)]}
    )
    with pytest.raises(ConfigError, match=match):
        PlantSimulator(plant)


def test_unknown_signal_and_unit_are_named() -> None:
    raw = _asset("p1", {"kind": "motor_pump"})
    raw["signals"].append({"name": "torque", "unit": "Nm"})
    with pytest.raises(ConfigError, match="acme/s1/l1/p1: scalar signal 'torque'"):
        PlantSimulator(parse_plant({"name": "t", "assets": [raw]}))
    raw = _asset("p1", {"kind": "motor_pump"})
    raw["signals"][0]["unit"] = "kg/s"
    with pytest.raises(ConfigError, match="signal 'flow' has unit 'kg/s'"):
        PlantSimulator(parse_plant({"name": "t", "assets": [raw]}))


def test_units_are_converted() -> None:
    raw = _asset("p1", {"kind": "motor_pump", "load": {"levels": [1.0]}})
    raw["signals"][1]["unit"] = "kPa"
    raw["signals"][3]["unit"] = "K"
    sim = PlantSimulator(parse_plant({"name": "t", "assets": [raw]}), seed=0, start_ns=0)
    samples, _ = _split(sim.step(30.0))
    assert 400.0 < _rows(samples, "acme/s1/l1/p1/pressure_out").mean() < 550.0  # ~4.9 bar
    assert _rows(samples, "acme/s1/l1/p1/bearing_temp").mean() > 300.0


def test_demo_config_loads_and_tells_its_story() -> None:
    plant = load_plant(DEMO)
    assert plant.name == "demo" and plant.sources[0].kind == "sim"
    assert len(plant.assets) >= 4
    sim = PlantSimulator.for_source(plant, "sim", start_ns=0)
    assert sim.seed == 7
    truth = sim.ground_truth()
    failing = [p for p, g in truth.items() if g.failure_s is not None and g.failure_s <= 36000]
    healthy = [p for p, g in truth.items() if g.fault_mode == "none"]
    assert failing == ["acme/site1/area1/line1/pump2"] and len(healthy) >= 2
    gt = truth[failing[0]]
    assert gt.fault_mode == "outer_race" and 3600 <= gt.onset_s <= 7200  # type: ignore[operator]
    samples, waves = _split(sim.step(120.0))
    machines = [a for a in plant.assets if a.model.get("kind")]  # not the camera station
    assert samples.num_rows == len(machines) * 6 * 120
    assert waves is not None and waves.num_rows == len(machines)
    assert len(waves["values"][0]) == 12000


def test_for_source_checks_the_source() -> None:
    plant = load_plant(DEMO)
    with pytest.raises(ConfigError, match="no source named 'opc'"):
        PlantSimulator.for_source(plant, "opc")
    raw = yaml.safe_load(DEMO.read_text())
    raw["sources"] = [{"name": "sim", "kind": "sim", "seed": "x"}]
    bad = parse_plant(raw)
    with pytest.raises(ConfigError, match=r"sources\[sim\].seed='x'"):
        PlantSimulator.for_source(bad, "sim")


def test_optional_signals_power_suction_and_nde_vibration() -> None:
    fault = {"mode": "outer_race", "onset_s": 0, "failure_s": 2000}
    raw = _asset("p1", {"kind": "motor_pump", "load": {"levels": [1.0]}, "fault": fault})
    raw["signals"] += [
        {"name": "power", "unit": "kW"},
        {"name": "pressure_in", "unit": "bar"},
        {
            "name": "vib_nde",
            "unit": "m/s2",
            "kind": "waveform",
            "rate_hz": 8000,
            "burst_s": 0.25,
            "every_s": 30,
        },
    ]
    sim = PlantSimulator(parse_plant({"name": "t", "assets": [raw]}), seed=0, start_ns=0)
    samples, waves = _split(sim.step(1900.0))
    power = _rows(samples, "acme/s1/l1/p1/power")
    assert power.mean() == pytest.approx(15.0 / 0.92, rel=0.05)  # shaft power / motor efficiency
    assert _rows(samples, "acme/s1/l1/p1/pressure_in").mean() == pytest.approx(0.98, abs=0.02)
    assert waves is not None
    sig = np.asarray(waves["signal"].cast(pa.string()).to_pylist())
    last_de = np.asarray(
        waves["values"][int(np.flatnonzero(sig == "acme/s1/l1/p1/vib_de")[-1])].values
    )
    last_nde = np.asarray(
        waves["values"][int(np.flatnonzero(sig == "acme/s1/l1/p1/vib_nde")[-1])].values
    )
    # the non-drive end is far from the spall: much less impact energy, and it is in m/s2
    assert np.abs(last_nde).max() / 9.80665 < 0.5 * np.abs(last_de).max()


def test_signals_of_other_sources_are_left_alone() -> None:
    raw = _asset("p1", {"kind": "motor_pump"})
    raw["signals"].append({"name": "oil_level", "unit": "%", "source": "plc"})
    raw["signals"][0]["source"] = "plc"  # flow comes from the real PLC, not the simulator
    plant = parse_plant(
        {
            "name": "t",
            "assets": [raw],
            "sources": [{"name": "sim", "kind": "sim"}, {"name": "plc", "kind": "opcua"}],
        }
    )
    sim = PlantSimulator.for_source(plant, "sim", start_ns=0)
    samples, _ = _split(sim.step(10.0))
    ids = set(samples["signal"].cast(pa.string()).to_pylist())
    assert "acme/s1/l1/p1/flow" not in ids and "acme/s1/l1/p1/oil_level" not in ids
    assert "acme/s1/l1/p1/motor_current" in ids
    # the same data for the simulated signals as when flow is simulated too
    full = PlantSimulator(
        parse_plant({"name": "t", "assets": [_asset("p1", {"kind": "motor_pump"})]}), start_ns=0
    )
    s_full, _ = _split(full.step(10.0))
    sid = "acme/s1/l1/p1/motor_current"
    np.testing.assert_array_equal(_rows(samples, sid), _rows(s_full, sid))


def test_stand_alone_model_can_skip_foreign_signals() -> None:
    from edgetwin.sim import MotorPump, parse_model_params

    raw = _asset("p1", {"kind": "motor_pump"})
    raw["signals"].append({"name": "oil_level", "unit": "%"})
    asset = parse_plant({"name": "t", "assets": [raw]}).assets[0]
    params = parse_model_params(asset.path, asset.model)
    with pytest.raises(ConfigError, match="'oil_level'"):
        MotorPump(asset, params, seed=0, asset_index=0)
    model = MotorPump(asset, params, seed=0, asset_index=0, strict=False)
    assert "oil_level" not in [s.name for s in model.signals] and len(model.signals) == 6
