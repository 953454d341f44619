"""Evaluation: metrics and reports, calibration, the untrained baseline."""
