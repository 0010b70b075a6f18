"""Baselines for drift detection: reference data through the served model, written next to it."""
