"""Signal features for predictive maintenance.

`bearing` turns bearing geometry and shaft speed into defect frequencies, `timedomain` gives
scale-free waveform statistics, `spectral` band-limits a waveform into its analytic envelope and
picks the most impulsive band (spectral kurtosis), and `envelope` measures the energy at the
defect frequencies in the envelope spectrum: the physics-informed features of fault diagnosis.
"""

from edgetwin.pdm.features.bearing import SKF_6205_2RS, BearingGeometry, defect_frequencies
from edgetwin.pdm.features.envelope import envelope_features, feature_names

__all__ = [
    "SKF_6205_2RS",
    "BearingGeometry",
    "defect_frequencies",
    "envelope_features",
    "feature_names",
]
