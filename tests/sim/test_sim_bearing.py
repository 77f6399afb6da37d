"""Defect frequencies from geometry: the CWRU bearing's published multiples of shaft speed."""

from __future__ import annotations

import pytest

from edgetwin.core.errors import ConfigError
from edgetwin.sim import SKF_6205_2RS, BearingGeometry, defect_frequencies, defect_multiples

# CWRU Bearing Data Center, drive-end bearing 6205-2RS JEM SKF, multiples of running speed.
CWRU = {"bpfi": 5.4152, "bpfo": 3.5848, "ftf": 0.39828, "bsf": 4.7135}


@pytest.mark.parametrize("key", sorted(CWRU))
def test_cwru_multiples_within_half_percent(key: str) -> None:
    got = defect_multiples(SKF_6205_2RS)[key]
    assert got == pytest.approx(CWRU[key], rel=0.005)


def test_frequencies_scale_with_shaft_speed() -> None:
    f = defect_frequencies(SKF_6205_2RS, 1797 / 60)
    assert f.shaft == pytest.approx(29.95)
    assert f.bpfo == pytest.approx(3.5848 * 29.95, rel=0.005)
    assert f.bpfi == pytest.approx(5.4152 * 29.95, rel=0.005)
    # the classic identities: bpfo + bpfi = n_balls * shaft, ftf = bpfo / n_balls
    assert f.bpfo + f.bpfi == pytest.approx(9 * f.shaft)
    assert f.ftf == pytest.approx(f.bpfo / 9)
    assert f.for_mode("inner_race") == f.bpfi


def test_contact_angle_moves_frequencies_toward_half_orders() -> None:
    angular = BearingGeometry(n_balls=9, ball_d=0.3126, pitch_d=1.537, contact_deg=40.0)
    assert defect_multiples(angular)["bpfo"] > defect_multiples(SKF_6205_2RS)["bpfo"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_balls": 0}, "n_balls"),
        ({"ball_d": 2.0, "pitch_d": 1.0}, "ball_d"),
        ({"contact_deg": 95.0}, "contact_deg"),
    ],
)
def test_bad_geometry_names_the_field(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        BearingGeometry(**kwargs)  # type: ignore[arg-type]


def test_bad_speed_rejected() -> None:
    with pytest.raises(ConfigError, match="shaft_hz"):
        defect_frequencies(SKF_6205_2RS, 0.0)
