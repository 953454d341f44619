"""Experiments: comparison studies, Optuna tuning, MLflow tracking, linear probes."""
