"""Envelope analysis of simulated bearing faults finds the kinematic defect frequency."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import signal as sps

from edgetwin.core.config import parse_plant
from edgetwin.sim import SKF_6205_2RS, PlantSimulator, defect_frequencies
from edgetwin.sim.vibration import resonator

FS = 12000.0
SHAFT_HZ = 1797 / 60


def _plant(mode: str | None, extra: dict[str, Any] | None = None) -> Any:
    model: dict[str, Any] = {"kind": "motor_pump", "load": {"levels": [1.0]}, **(extra or {})}
    if mode:
        model["fault"] = {"mode": mode, "onset_s": 0, "failure_s": 4000}
    return parse_plant(
        {
            "name": "t",
            "assets": [
                {
                    "path": "a/p1",
                    "model": model,
                    "signals": [
                        {"name": "speed", "unit": "rpm"},
                        {
                            "name": "vib_de",
                            "unit": "g",
                            "kind": "waveform",
                            "rate_hz": FS,
                            "burst_s": 10,
                            "every_s": 100,
                        },
                    ],
                }
            ],
        }
    )


def _burst(mode: str | None, t_end: float = 600.0, seed: int = 3, **extra: Any) -> np.ndarray:
    sim = PlantSimulator(_plant(mode, extra), seed=seed, start_ns=0)
    tables = sim.step(t_end)
    wave = next(t for t in tables if "values" in t.schema.names)
    return np.asarray(wave.column("values")[wave.num_rows - 1].values, dtype=float)


def _envelope_spectrum(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hilbert envelope of the resonance band (2-5 kHz), then its amplitude spectrum."""
    sos = sps.butter(4, [2000, 5000], btype="bandpass", fs=FS, output="sos")
    env = np.abs(sps.hilbert(sps.sosfilt(sos, x)))
    env -= env.mean()
    spec = np.abs(np.fft.rfft(env * np.hanning(len(env))))
    return np.fft.rfftfreq(len(env), 1 / FS), spec


def _peak(x: np.ndarray, lo: float = 20.0, hi: float = 500.0) -> tuple[float, float]:
    f, s = _envelope_spectrum(x)
    band = (f > lo) & (f < hi)
    i = int(np.argmax(s[band]))
    return float(f[band][i]), float(s[band][i] / np.median(s[band]))


@pytest.mark.parametrize(
    ("mode", "key"), [("outer_race", "bpfo"), ("inner_race", "bpfi"), ("ball", "bsf")]
)
def test_envelope_peak_at_defect_frequency(mode: str, key: str) -> None:
    expected = getattr(defect_frequencies(SKF_6205_2RS, SHAFT_HZ), key)
    freq, prominence = _peak(_burst(mode))
    assert freq == pytest.approx(expected, rel=0.01)
    assert prominence > 10.0


def test_healthy_envelope_has_no_bearing_line() -> None:
    f, s = _envelope_spectrum(_burst(None))
    d = defect_frequencies(SKF_6205_2RS, SHAFT_HZ)
    band = (f > 20) & (f < 500)
    near = np.abs(f - d.bpfo) < 0.01 * d.bpfo
    assert s[near].max() / np.median(s[band]) < 6.0


def test_fault_amplitude_grows_with_severity() -> None:
    early = _burst("outer_race", t_end=600.0)  # severity ~0.06
    late = _burst("outer_race", t_end=3700.0)  # close to failure
    assert np.std(late) > 3.0 * np.std(early)


def test_imbalance_raises_1x_and_misalignment_2x() -> None:
    def tone(x: np.ndarray, order: float) -> float:
        spec = np.abs(np.fft.rfft(x)) / len(x) * 2
        f = np.fft.rfftfreq(len(x), 1 / FS)
        return float(spec[np.abs(f - order * SHAFT_HZ) < 0.5].max())

    healthy = _burst(None, t_end=3700.0)
    imb = _burst("imbalance", t_end=3700.0)
    mis = _burst("misalignment", t_end=3700.0)
    assert tone(imb, 1) > 5 * tone(healthy, 1)
    assert tone(mis, 2) > 5 * tone(healthy, 2)
    assert tone(imb, 2) < 2 * tone(healthy, 2)


def test_cavitation_adds_high_frequency_energy() -> None:
    def hf_rms(x: np.ndarray) -> float:
        sos = sps.butter(4, 2000, btype="highpass", fs=FS, output="sos")
        return float(np.std(sps.sosfilt(sos, x)))

    assert hf_rms(_burst("cavitation", t_end=3700.0)) > 3 * hf_rms(_burst(None, t_end=3700.0))


def test_resonator_rings_at_its_frequency_with_unit_peak() -> None:
    b, a = resonator(3200.0, 0.05, FS)
    impulse = np.zeros(4096)
    impulse[0] = 1.0
    h = sps.lfilter(b, a, impulse)
    assert np.abs(h).max() == pytest.approx(1.0, abs=0.1)
    f = np.fft.rfftfreq(len(h), 1 / FS)
    assert f[np.argmax(np.abs(np.fft.rfft(h)))] == pytest.approx(3200.0, rel=0.02)
