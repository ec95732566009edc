"""Time-based splits, model fitting, calibration, baselines, evaluation and the MLflow registry."""
