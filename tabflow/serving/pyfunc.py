"""The logged model: an MLflow pyfunc that takes raw rows and carries its own preprocessing."""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

import tabflow
from tabflow import settings
from tabflow.model.calibrate import After, scale
from tabflow.serving.contract import _plain, check_input, input_schema

if TYPE_CHECKING:
    from tabflow.model.forward import NumpyForward
from tabflow.task_types import LABEL, LOWER, PREDICTION, PROBABILITY, UPPER, task_type


class TabflowModel(PythonModel):
    """Raw DataFrame in (original column names; extra columns ignored), the task's predictions out."""

    def load_context(self, context) -> None:
        import joblib
        import keras
        import tensorflow as tf

        import tabflow.model.layers  # noqa: F401  registers the network's own layers before the load

        self.network = keras.saving.load_model(context.artifacts["network"], compile=False)
        # One traced graph for any batch size: an eager call of the network took most of a single-row request.
        spec = tf.TensorSpec([None, self.network.input_shape[1]], tf.float32)
        self.forward = tf.function(lambda x: self.network(x, training=False), input_signature=[spec])
        self.preprocessor = joblib.load(context.artifacts["preprocessor"])
        meta = json.loads(Path(context.artifacts["meta"]).read_text())
        self.features, self.classes = meta["features"], meta["classes"]
        self.threshold, self.schema, self.task = meta["threshold"], meta["schema"], meta["task"]
        # Models logged before calibration and intervals hold neither.
        self.temperature, self.interval = meta.get("temperature", 1.0), meta.get("interval")

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        """binary: probability and label; multiclass: probability_<class> for each class and label;
        regression: prediction (in the target's units)."""
        return self.predict_checked(check_input(model_input, self.schema))

    replay = None  # tabflow.features.replay.Replay, set by `prepare_replay`
    fast: NumpyForward | None = None  # the network's numpy forward pass, set by `prepare_replay`

    def prepare_replay(self, example: pd.DataFrame) -> bool:
        """Replay the preprocessing and the network in numpy for small requests (tabflow serve), each checked
        against its original on the example rows; False when either cannot."""
        from tabflow.features.preprocessor import layout, transform
        from tabflow.features.replay import replay_for
        from tabflow.model.forward import checked, numpy_forward

        self.replay = replay_for(self.preprocessor, example)
        fast = numpy_forward(self.network, layout(self.preprocessor))
        matrix = transform(self.preprocessor, example)
        self.fast = fast if fast is not None and checked(fast, self.forward, matrix) else None
        return self.replay is not None and self.fast is not None

    def predict_checked(self, rows: pd.DataFrame) -> pd.DataFrame:
        """`predict` for rows that already passed check_input (tabflow serve checks them first, for a 422)."""
        return pd.DataFrame(self.predict_columns(rows))

    def predict_columns(self, rows: pd.DataFrame) -> dict[str, np.ndarray]:
        """predict_checked's output columns as arrays, in order: tabflow serve writes its JSON from them without
        building a frame."""
        from tabflow.features.preprocessor import transform
        from tabflow.model.network import as_output, in_chunks

        small = len(rows) <= settings.SMALL_REQUEST
        if self.replay is not None and small:
            matrix = self.replay.transform(rows)
        else:
            matrix = transform(self.preprocessor, rows)
        out = as_output(self.fast(matrix) if self.fast is not None and small else in_chunks(self.forward, matrix))
        spec = task_type(self.task)
        if not spec.classification:
            if self.interval is None:
                return {PREDICTION: out}
            return {PREDICTION: out, LOWER: out - self.interval, UPPER: out + self.interval}
        out = scale(self.task, out, self.temperature)
        if out.ndim == 2:  # one probability per class
            names = spec.probability_columns(tuple(self.classes))
            labels = np.asarray(self.classes, dtype=object)[out.argmax(axis=1)]
            return {**{name: out[:, i] for i, name in enumerate(names)}, LABEL: labels}
        return {PROBABILITY: out, LABEL: np.where(out >= self.threshold, self.classes[1], self.classes[0])}


def pip_requirements() -> list[str]:
    """Pinned to what trained the model: inferring them instead costs seconds a model."""
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


def synthetic_example(train_x: pd.DataFrame, roles: dict[str, str], rows: int = 3) -> pd.DataFrame:
    """The model's input example: each column's quartiles (numbers, times) or most common values (the rest), so
    that it shows the schema and scores like data without copying any training row into the artifacts, which
    every registry reader can download."""
    out = {}
    for name in roles:
        col = train_x[name]
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        if numeric or pd.api.types.is_datetime64_any_dtype(col):
            values = col.quantile([0.25, 0.5, 0.75][:rows]).reset_index(drop=True)
            if pd.api.types.is_integer_dtype(col):
                values = values.round()
            out[name] = values.astype(col.dtype) if values.notna().all() else values
        else:
            common = col.value_counts().index.tolist()[:rows] or [None]
            out[name] = pd.Series([common[i % len(common)] for i in range(rows)], dtype=col.dtype)
    return pd.DataFrame(out)


def log_model(
    network,
    preprocessor,
    train_x: pd.DataFrame,
    roles: dict[str, str],
    classes: tuple,
    run_id: str,
    task: str = "binary",
    after: After | None = None,
):
    """Log the pyfunc under the run; returns MLflow's ModelInfo (its model_uri is `models:/m-<id>`). `after`:
    the calibration, threshold and interval the model applies after the network."""
    import joblib
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types.schema import AnyType, ColSpec, Schema

    example = synthetic_example(train_x, roles)
    meta = {
        "features": list(roles),
        "classes": [_plain(c) for c in classes],
        "threshold": (after or After()).threshold,
        "temperature": (after or After()).temperature,
        "interval": (after or After()).half_width,
        "coverage": (after or After()).coverage,
        "task": task,
        "schema": input_schema(train_x, roles),
    }
    with tempfile.TemporaryDirectory() as tmp:
        paths = {
            "network": f"{tmp}/network.keras",
            "preprocessor": f"{tmp}/preprocessor.joblib",
            "meta": f"{tmp}/meta.json",
        }
        network.save(paths["network"])
        joblib.dump(preprocessor, paths["preprocessor"])
        Path(paths["meta"]).write_text(json.dumps(meta))
        probe = TabflowModel()  # loaded from the very files that are logged, to derive the signature
        probe.load_context(type("Context", (), {"artifacts": paths})())
        # Inputs are typed "any": MLflow's own enforcement would refuse int64 for a float column and text for a
        # number, with a message that dumps the data; check_input applies the saved contract instead.
        with warnings.catch_warnings():  # integer *output* labels are fine; the hint is about inputs
            warnings.filterwarnings("ignore", message=".*Inferred schema contains integer column")
            outputs = infer_signature(example, probe.predict(None, example)).outputs
        signature = ModelSignature(inputs=Schema([ColSpec(AnyType(), name) for name in roles]), outputs=outputs)
        package = Path(tabflow.__file__).parent
        with mlflow.start_run(run_id=run_id):
            return mlflow.pyfunc.log_model(
                name="model",
                python_model=str(package / "serving" / "models_from_code.py"),
                artifacts=paths,
                signature=signature,
                input_example=example,
                pip_requirements=pip_requirements(),
                code_paths=[str(package)],
            )
