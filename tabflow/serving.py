"""The logged model: an MLflow pyfunc that takes raw rows and carries its own preprocessing."""

from __future__ import annotations

import json
import logging
import tempfile
import warnings
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

import tabflow

PROBABILITY, LABEL, PREDICTION = "probability", "label", "prediction"
SMALL_REQUEST = 100  # rows; above this sklearn's per-call cost is spread thin and its pipeline runs as trained
log = logging.getLogger("tabflow.serving")  # the CLI quiets it while a run scores its own test rows


class TabflowModel(mlflow.pyfunc.PythonModel):
    """Raw DataFrame in (original column names; extra columns ignored), the task's predictions out."""

    def load_context(self, context) -> None:
        import joblib
        import keras
        import tensorflow as tf

        self.network = keras.saving.load_model(context.artifacts["network"], compile=False)
        # One traced graph for any batch size: an eager call of the network took most of a single-row request.
        spec = tf.TensorSpec([None, self.network.input_shape[1]], tf.float32)
        self.forward = tf.function(lambda x: self.network(x, training=False), input_signature=[spec])
        self.preprocessor = joblib.load(context.artifacts["preprocessor"])
        meta = json.loads(Path(context.artifacts["meta"]).read_text())
        self.features, self.classes = meta["features"], meta["classes"]
        self.threshold, self.schema, self.task = meta["threshold"], meta["schema"], meta["task"]

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        """binary: probability and label; multiclass: probability_<class> for each class and label;
        regression: prediction (in the target's units)."""
        return self.predict_checked(check_input(model_input, self.schema))

    compiled = None  # tabflow.compiled.Compiled, set by `compile_for_rows`

    def compile_for_rows(self, example: pd.DataFrame) -> bool:
        """Replay the preprocessing in numpy for small requests (tabflow serve); False when it cannot."""
        from tabflow.compiled import for_rows

        self.compiled = for_rows(self.preprocessor, example)
        return self.compiled is not None

    def predict_checked(self, rows: pd.DataFrame) -> pd.DataFrame:
        """`predict` for rows that already passed check_input (tabflow serve checks them first, for a 422)."""
        from tabflow.model import as_output, transform

        if self.compiled is not None and len(rows) <= SMALL_REQUEST:
            matrix = self.compiled.transform(rows)
        else:
            matrix = transform(self.preprocessor, rows)
        out = as_output(self.forward(matrix))
        if self.task == "regression":
            return pd.DataFrame({PREDICTION: out})
        if self.task == "multiclass":
            frame = pd.DataFrame(out, columns=[f"{PROBABILITY}_{c}" for c in self.classes])
            frame[LABEL] = np.asarray(self.classes, dtype=object)[out.argmax(axis=1)]
            return frame
        labels = np.where(out >= self.threshold, self.classes[1], self.classes[0])
        return pd.DataFrame({PROBABILITY: out, LABEL: labels})


def network_output(frame: pd.DataFrame, task: str, classes: tuple) -> np.ndarray:
    """The served frame back to the array the metrics take (see tabflow.evaluation.scores)."""
    if task == "regression":
        return frame[PREDICTION].to_numpy(dtype="float64")
    if task == "multiclass":
        return frame[[f"{PROBABILITY}_{c}" for c in classes]].to_numpy(dtype="float64")
    return frame[PROBABILITY].to_numpy(dtype="float64")


def input_schema(train_x: pd.DataFrame, roles: dict[str, str]) -> dict:
    """The data contract saved with the model: each column's role and what training saw of it."""
    from tabflow.columns import coerce

    typed = coerce(train_x, roles)
    schema = {}
    for name, role in roles.items():
        col = typed[name]
        entry: dict = {"role": role}
        if role == "numeric":
            entry.update(min=_plain(col.min()), max=_plain(col.max()))
        elif role == "categorical":
            entry["categories"] = sorted(col.dropna().unique().tolist())[:1000]
        schema[name] = entry
    return schema


def check_input(frame: pd.DataFrame, schema: dict) -> pd.DataFrame:
    """Missing columns are an error that names them; extra ones are ignored; numbers outside the range seen in
    training are counted in the log (the model extrapolates there)."""
    from tabflow.columns import numbers

    missing = [c for c in schema if c not in frame.columns]
    if missing:
        raise ValueError(f"input lacks {len(missing)} column(s) the model needs: {', '.join(missing[:10])}")
    extra = [c for c in frame.columns if c not in schema]
    if extra:
        log.warning("ignoring %d column(s) the model does not use: %s", len(extra), ", ".join(map(str, extra[:10])))
    rows = frame if list(frame.columns) == list(schema) else frame[list(schema)]
    numeric = [c for c, e in schema.items() if e["role"] == "numeric"]
    outside = {}
    if numeric:  # one block, not a column at a time: this runs on every request
        values = numbers(rows, numeric)
        if not all(pd.api.types.is_numeric_dtype(t) for t in rows[numeric].dtypes):  # text parsed: count misses
            bad = (rows[numeric].notna().to_numpy() & np.isnan(values)).sum(axis=0)
            if bad.any():
                name = numeric[int(np.argmax(bad > 0))]
                raise ValueError(f"column {name!r} must be numeric; {int(bad[numeric.index(name)])} value(s) are "
                                 "not numbers")
        low = np.array([_bound(schema[c].get("min"), -np.inf) for c in numeric])
        high = np.array([_bound(schema[c].get("max"), np.inf) for c in numeric])
        infinite = np.isinf(values).sum(axis=0)
        if infinite.any():
            name = numeric[int(np.argmax(infinite > 0))]
            raise ValueError(f"column {name!r} has {int(infinite[numeric.index(name)])} infinite value(s); send "
                             "finite numbers or leave the cells empty")
        with np.errstate(invalid="ignore"):
            counts = ((values < low) | (values > high)).sum(axis=0)
        outside = {c: int(n) for c, n in zip(numeric, counts, strict=True) if n}
    if outside:
        log.warning("%d value(s) outside the range seen in training, in: %s", sum(outside.values()),
                    ", ".join(f"{c} ({n})" for c, n in outside.items()))
    return rows


def _bound(value, default: float) -> float:
    return default if value is None else float(value)


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


def log_model(network, preprocessor, train_x: pd.DataFrame, roles: dict[str, str], classes: tuple, run_id: str,
              task: str = "binary", threshold: float = 0.5):
    """Log the pyfunc under the run; returns MLflow's ModelInfo (its model_uri is `models:/m-<id>`)."""
    import joblib
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types.schema import AnyType, ColSpec, Schema

    example = train_x[list(roles)].head(5)
    meta = {"features": list(roles), "classes": [_plain(c) for c in classes], "threshold": threshold, "task": task,
            "schema": input_schema(train_x, roles)}
    with tempfile.TemporaryDirectory() as tmp:
        paths = {"network": f"{tmp}/network.keras", "preprocessor": f"{tmp}/preprocessor.joblib",
                 "meta": f"{tmp}/meta.json"}
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
                name="model", python_model=str(package / "pyfunc_model.py"), artifacts=paths,
                signature=signature, input_example=example, pip_requirements=pip_requirements(),
                code_paths=[str(package)])


def _plain(value):
    return value.item() if hasattr(value, "item") else value
