"""Predictive maintenance: features, anomaly detection, fault diagnosis and remaining useful life.

Sub-packages: `datasets/` (loaders that take any path), `rul/` (remaining useful life with
prediction intervals), `features/`, `detect/`, `diagnose/`; `metrics` holds the scores that make
our figures comparable with published ones. torch is imported only inside training code.
"""
