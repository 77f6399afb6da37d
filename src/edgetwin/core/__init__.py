"""The shared vocabulary: assets, signals, the three batch tables, quality codes, errors, config.

`core` imports nothing else of edgetwin, so every other room can lean on it.
"""

from edgetwin.core.errors import (
    ConfigError,
    DataError,
    EdgetwinError,
    ModuleError,
    SignatureError,
    StoreError,
)
from edgetwin.core.quality import Quality
from edgetwin.core.schemas import (
    EVENTS_SCHEMA,
    SAMPLES_SCHEMA,
    WAVEFORMS_SCHEMA,
    make_events,
    make_samples,
    make_waveforms,
)

__all__ = [
    "EVENTS_SCHEMA",
    "SAMPLES_SCHEMA",
    "WAVEFORMS_SCHEMA",
    "ConfigError",
    "DataError",
    "EdgetwinError",
    "ModuleError",
    "Quality",
    "SignatureError",
    "StoreError",
    "make_events",
    "make_samples",
    "make_waveforms",
]
