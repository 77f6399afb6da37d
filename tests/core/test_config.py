"""plant.yaml validation: every mistake names the file, the field and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgetwin.core.config import load_plant, parse_plant
from edgetwin.core.errors import ConfigError

GOOD = {
    "name": "t",
    "assets": [
        {
            "path": "acme/site1/line1/pump1",
            "signals": [
                {"name": "flow", "unit": "m3/h"},
                {
                    "name": "vib_de",
                    "unit": "g",
                    "kind": "waveform",
                    "rate_hz": 12000,
                    "burst_s": 1,
                    "every_s": 60,
                },
            ],
        }
    ],
    "sources": [{"name": "sim", "kind": "sim", "seed": 3}],
    "monitors": [{"name": "a", "kind": "anomaly", "assets": ["acme/site1/line1/pump1"]}],
    "alarms": [{"signal": "acme/site1/line1/pump1/anomaly_score", "high": 1.0}],
}


def _with(path: tuple, value: object) -> dict:
    import copy

    doc = copy.deepcopy(GOOD)
    node: object = doc
    for key in path[:-1]:
        node = node[key]  # type: ignore[index]
    node[path[-1]] = value  # type: ignore[index]
    return doc


def test_good_config_loads_and_keeps_source_options() -> None:
    plant = parse_plant(GOOD)
    assert plant.signal_ids() == {"acme/site1/line1/pump1/flow", "acme/site1/line1/pump1/vib_de"}
    assert plant.sources[0].options == {"seed": 3}
    assert plant.signal("acme/site1/line1/pump1/vib_de").rate_hz == 12000


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            ("assets", 0, "signals", 0, "unit"),
            "degc",
            "assets[0 = acme/site1/line1/pump1].signals[0 = flow].unit: unknown unit 'degc' (did you mean 'degC'?)",
        ),
        (("assets", 0, "signals", 0, "rate_hz"), 0, "rate_hz must be > 0"),
        (
            ("assets", 0, "signals", 1, "name"),
            "flow",
            "duplicate signal id 'acme/site1/line1/pump1/flow'",
        ),
        (
            ("monitors", 0, "assets"),
            ["acme/site1/line1/pump9"],
            "references unknown asset 'acme/site1/line1/pump9'",
        ),
        (("alarms", 0, "signal"), "acme/site1/line1/pump1/nope", "alarm references unknown signal"),
        (("assets", 0, "path"), "a/b/c/d/e/f/g", "has 7 levels; ISA-95 allows 1 to 6"),
        (
            ("assets", 0, "colour"),
            "red",
            "assets[0 = acme/site1/line1/pump1].colour: unknown field",
        ),
        (("sources", 0, "kind"), "kafka", "sources[0 = sim].kind"),
    ],
)
def test_bad_config_names_field(path: tuple, value: object, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_plant(_with(path, value), "plant.yaml")
    text = str(info.value)
    assert text.startswith("plant.yaml: invalid plant config")
    assert expected in text


def test_waveform_needs_burst_length() -> None:
    doc = _with(("assets", 0, "signals", 1, "burst_s"), None)
    with pytest.raises(ConfigError, match="burst_s > 0"):
        parse_plant(doc)


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    bad = tmp_path / "plant.yaml"
    bad.write_text("name: x\nassets:\n  - path: [unclosed\n")
    with pytest.raises(ConfigError, match=r"plant.yaml: line \d+, column \d+: not valid YAML"):
        load_plant(bad)


def test_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read plant config"):
        load_plant(tmp_path / "nope.yaml")
