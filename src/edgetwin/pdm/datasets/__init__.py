"""Loaders for the public predictive-maintenance data sets; each takes any path."""
