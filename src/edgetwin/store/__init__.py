"""History of samples, waveforms and events behind one `Store` protocol.

DuckDB is the embedded default; PostgreSQL/TimescaleDB serves sites that outgrow one box.
"""

from edgetwin.store.base import Store, open_store

__all__ = ["Store", "open_store"]
