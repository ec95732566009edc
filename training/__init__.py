"""Time-based splits, model fitting, calibration, baselines, evaluation and the MLflow registry.

MLflow reads its logging level and telemetry switch when it is first imported, which may
be through any module here, so the package asks for quiet, offline MLflow up front
(only where the user has not set these variables).
"""

from training.tracking import quiet_mlflow

quiet_mlflow()
