"""The logged model: an MLflow pyfunc that takes raw rows and carries its own preprocessing."""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

import tabflow

PROBABILITY, LABEL = "probability", "label"


class TabflowModel(mlflow.pyfunc.PythonModel):
    """Raw DataFrame in (original column names; extra columns ignored), probability and label out."""

    def load_context(self, context) -> None:
        import joblib
        import keras

        self.network = keras.saving.load_model(context.artifacts["network"], compile=False)
        self.preprocessor = joblib.load(context.artifacts["preprocessor"])
        meta = json.loads(Path(context.artifacts["meta"]).read_text())
        self.features, self.classes = meta["features"], meta["classes"]
        self.threshold = meta["threshold"]

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        from tabflow.model import predict_proba, transform

        x = transform(self.preprocessor, model_input[self.features].astype("float64"))
        proba = predict_proba(self.network, x)
        labels = np.where(proba >= self.threshold, self.classes[1], self.classes[0])
        return pd.DataFrame({PROBABILITY: proba, LABEL: labels})


def pip_requirements() -> list[str]:
    """Pinned to what trained the model; inferring them instead costs 10-18 s a model."""
    from tabflow.tracking import package_versions

    versions = package_versions()
    tf = "tensorflow-cpu" if "tensorflow-cpu" in versions else "tensorflow"
    names = [tf, "keras", "scikit-learn", "pandas", "numpy", "mlflow", "cloudpickle", "joblib"]
    out = []
    for name in names:
        try:
            out.append(f"{name}=={versions.get(name) or _version(name)}")
        except Exception:  # a package missing here is not needed to describe the model
            continue
    return out


def _version(name: str) -> str:
    from importlib import metadata

    return metadata.version(name)


def log_model(network, preprocessor, features: tuple[str, ...], classes: tuple, example: pd.DataFrame,
              run_id: str, threshold: float = 0.5):
    """Log the pyfunc under the run; returns MLflow's ModelInfo (its model_uri is `models:/m-<id>`)."""
    import joblib
    from mlflow.models import infer_signature

    meta = {"features": list(features), "classes": [_plain(c) for c in classes], "threshold": threshold}
    with tempfile.TemporaryDirectory() as tmp:
        paths = {"network": f"{tmp}/network.keras", "preprocessor": f"{tmp}/preprocessor.joblib",
                 "meta": f"{tmp}/meta.json"}
        network.save(paths["network"])
        joblib.dump(preprocessor, paths["preprocessor"])
        Path(paths["meta"]).write_text(json.dumps(meta))
        probe = TabflowModel()  # loaded from the very files that are logged, to derive the signature
        probe.load_context(type("Context", (), {"artifacts": paths})())
        with warnings.catch_warnings():  # integer *output* labels are fine; the hint is about inputs
            warnings.filterwarnings("ignore", message=".*Inferred schema contains integer column")
            signature = infer_signature(example, probe.predict(None, example))
        package = Path(tabflow.__file__).parent
        with mlflow.start_run(run_id=run_id):
            return mlflow.pyfunc.log_model(
                name="model", python_model=str(package / "pyfunc_model.py"), artifacts=paths,
                signature=signature, input_example=example, pip_requirements=pip_requirements(),
                code_paths=[str(package)])


def _plain(value):
    return value.item() if hasattr(value, "item") else value
