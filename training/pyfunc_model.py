"""The MLflow pyfunc face of `ChurnRiskModel`, logged as code (no pickles).

MLflow copies this file into the logged model and runs it when the model is loaded;
`set_model` tells it which object serves. The churnlens model itself travels as a
directory artifact (booster text plus JSON), so `mlflow models serve` and
`mlflow.pyfunc.load_model` return the same calibrated probabilities as churnlens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.models import set_model
from mlflow.pyfunc import PythonModel

MODEL_ARTIFACT = "churnlens_model"
PROBABILITY = "churn_probability"


class ChurnRiskPyfunc(PythonModel):
    """Feature rows in, one calibrated non-renewal probability per row out."""

    def load_context(self, context: Any) -> None:
        from training.model import ChurnRiskModel

        self.model = ChurnRiskModel.load(Path(context.artifacts[MODEL_ARTIFACT]))

    def predict(self, context: Any, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> pd.DataFrame:
        return pd.DataFrame({PROBABILITY: self.model.predict_proba(model_input)})


set_model(ChurnRiskPyfunc())
