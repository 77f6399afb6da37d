"""A signed edge module on live batches: CWRU windows in, a traced diagnosis event out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edgetwin.cli.main import _app
from edgetwin.core import make_samples, make_waveforms
from edgetwin.core.config import MonitorConfig, parse_plant
from edgetwin.core.errors import ConfigError
from edgetwin.runtime.module_monitor import ModuleMonitor

T0 = 1_700_000_040 * 10**9
PLANT = parse_plant(
    {
        "name": "rig",
        "assets": [
            {
                "path": "cwru/rig/motor",
                "signals": [
                    {"name": "speed", "unit": "rpm"},
                    {
                        "name": "vib_de",
                        "unit": "g",
                        "kind": "waveform",
                        "rate_hz": 12000,
                        "burst_s": 1,
                        "every_s": 1,
                    },
                ],
            }
        ],
    }
)


@pytest.fixture(scope="module")
def diag_module(
    tmp_path_factory: pytest.TempPathFactory, shared_data_dir: Path
) -> tuple[Path, Path]:
    cwru = shared_data_dir / "cwru"
    if not cwru.is_dir():
        pytest.skip(f"CWRU data not found at {cwru}")
    files = [
        cwru / n
        for n in (
            "normal_0_97.mat",
            "12k_Drive_End_IR007_1_106.mat",
            "12k_Drive_End_B007_1_119.mat",
            "12k_Drive_End_OR007@6_1_131.mat",
        )
    ]
    out = tmp_path_factory.mktemp("diag") / "diag.zip"
    args = ["pdm", "train-diagnosis", "--out", str(out), "--no-protocols"]
    for f in files:
        args += ["--data", str(f)]
    result = CliRunner().invoke(_app, args)
    assert result.exit_code == 0, result.output
    return out, cwru / "12k_Drive_End_OR007@6_2_132.mat"  # a motor load it never saw


def test_diagnosis_event_names_module_and_window(diag_module: tuple[Path, Path]) -> None:
    from edgetwin.pdm.datasets.cwru import load_file

    module_path, test_file = diag_module
    record = load_file(test_file)
    monitor = ModuleMonitor.from_config(
        MonitorConfig(
            name="diag",
            kind="diagnosis",
            module=str(module_path),
            signals=["vib_de"],
            vote_window=3,
        ),
        PLANT,
    )
    # no speed yet: nothing can be diagnosed
    burst = np.asarray(record.signal[:12000], dtype=np.float32)[None, :]
    assert (
        monitor.process(make_waveforms(np.array([T0]), "cwru/rig/motor/vib_de", 12000.0, burst))
        == []
    )
    monitor.process(make_samples(np.array([T0]), "cwru/rig/motor/speed", [record.rpm]))
    events = []
    probs = []
    for k in range(4):
        burst = np.asarray(record.signal[k * 12000 : (k + 1) * 12000], dtype=np.float32)[None, :]
        out = monitor.process(
            make_waveforms(
                np.array([T0 + (k + 1) * 10**9]), "cwru/rig/motor/vib_de", 12000.0, burst
            )
        )
        for t in out:
            if "kind" in t.column_names:
                events.extend(t.to_pylist())
            else:
                probs.extend(t.column("value").to_pylist())
    assert len(probs) == 4 and min(probs) > 0.5  # probability of a fault
    assert len(events) == 1  # announced once, when 3 of 3 bursts agree
    payload = json.loads(events[0]["payload"])
    assert payload["label"] == "outer_race"
    assert payload["module"] == "bearing-envelope-diagnosis"
    assert payload["votes"] == {"count": 3, "of": 3}
    assert (
        payload["input"]["signal"] == "cwru/rig/motor/vib_de"
        and payload["input"]["samples"] == 12000
    )
    assert monitor.metrics()["calls"] == 4


def test_missing_module_file_says_how_to_build_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="train-diagnosis"):
        ModuleMonitor.from_config(
            MonitorConfig(name="d", kind="diagnosis", module=str(tmp_path / "nope.zip")), PLANT
        )
