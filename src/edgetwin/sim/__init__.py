"""Physics-based simulated plant: seeded, faster than real time, and it knows its ground truth.

`PlantSimulator(plant, seed).step(dt_s)` returns samples and waveforms tables of the core
schemas; `ground_truth()` says which asset fails, how and when. Motor-pump sets and fans with
rolling-element bearings (true defect frequencies), load-coupled process signals, and faults
that grow to failure (outer/inner race and ball spalls, imbalance, misalignment, cavitation).
"""

from edgetwin.sim.bearing import (
    SKF_6205_2RS,
    BearingGeometry,
    DefectFrequencies,
    defect_frequencies,
    defect_multiples,
)
from edgetwin.sim.degradation import Degradation, GroundTruth
from edgetwin.sim.motor_pump import MotorPump
from edgetwin.sim.params import MotorPumpParams, parse_model_params
from edgetwin.sim.plant import PlantSimulator
from edgetwin.sim.whatif import simulate_time_to_failure

__all__ = [
    "SKF_6205_2RS",
    "BearingGeometry",
    "DefectFrequencies",
    "Degradation",
    "GroundTruth",
    "MotorPump",
    "MotorPumpParams",
    "PlantSimulator",
    "defect_frequencies",
    "defect_multiples",
    "parse_model_params",
    "simulate_time_to_failure",
]
