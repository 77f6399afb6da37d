"""Streaming analytics that fit themselves on the plant's own healthy start-up stretch."""

from edgetwin.pdm.online.monitor import AnomalyMonitor
from edgetwin.pdm.online.pca import PCAT2Q

__all__ = ["AnomalyMonitor", "PCAT2Q"]
