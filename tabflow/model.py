"""The network and its preprocessing. Keras is imported inside functions: `tabflow --help` must not pay for it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline

if TYPE_CHECKING:
    import keras

    from tabflow.splitting import Splits


@dataclass(frozen=True)
class MLPParams:
    n_layers: int = 2
    units: int = 64
    dropout: float = 0.1
    l2: float = 1e-4
    learning_rate: float = 1e-3
    batch_size: int = 32
    activation: str = "relu"

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Head:
    """The output layer and loss for the task. A regression network ends in a fixed rescaling by the training
    target's mean and spread: it learns on a standardised scale and answers in the target's own units."""

    task: str = "binary"
    n_classes: int = 2
    mean: float = 0.0
    std: float = 1.0

    @property
    def objective(self) -> str:
        """The validation metric trials minimise and early stopping watches (plain loss, no L2 penalty)."""
        return "val_rmse" if self.task == "regression" else "val_log_loss"


@dataclass(frozen=True)
class Prepared:
    """The splits as float32 matrices, transformed by a preprocessor fitted on train only."""

    preprocessor: Pipeline
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    head: Head = Head()
    class_weight: dict[int, float] | None = None  # per class index, for an imbalanced classification target


def fit_preprocessor(train_x: pd.DataFrame, roles: dict[str, str], max_categories: int = 32) -> Pipeline:
    """Raw rows in, one float matrix out, every statistic fitted on the training split alone.

    numeric: median imputation with missing-value indicators, robust scaling (median and IQR: a few outliers
    do not squash the rest); categorical: one-hot over the `max_categories - 1` most frequent values plus one
    bucket for rare ones, where unseen values at serving land too (or all zeros if train had no rare value);
    missing is a category of its own; datetime: year, month, day, weekday and hour, then as numeric.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, RobustScaler

    from tabflow.columns import DateParts, coerce

    def numbers():
        return [SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True), RobustScaler()]

    by_role = {role: [c for c, r in roles.items() if r == role] for role in ("numeric", "categorical", "datetime")}
    parts = []
    if by_role["numeric"]:
        parts.append(("numeric", make_pipeline(*numbers()), by_role["numeric"]))
    if by_role["categorical"]:
        onehot = OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=max_categories,
                               sparse_output=False, dtype=np.float32)
        parts.append(("categorical", make_pipeline(SimpleImputer(strategy="constant", fill_value="(missing)"),
                                                   onehot), by_role["categorical"]))
    if by_role["datetime"]:
        parts.append(("datetime", make_pipeline(DateParts(), *numbers()), by_role["datetime"]))
    pipe = Pipeline([("coerce", FunctionTransformer(coerce, kw_args={"roles": dict(roles)})),
                     ("columns", ColumnTransformer(parts, remainder="drop", sparse_threshold=0))])
    return pipe.fit(train_x)


def prepare(splits: Splits, max_categories: int = 32, class_weight: str = "auto") -> Prepared:
    pre = fit_preprocessor(splits.x("train"), splits.roles, max_categories)
    y_train = splits.y("train")
    head = Head(splits.task, max(len(splits.classes), 1),
                *((float(y_train.mean()), float(y_train.std()) or 1.0) if splits.task == "regression" else ()))
    weights = class_weights(y_train, len(splits.classes), class_weight) if splits.task != "regression" else None
    return Prepared(preprocessor=pre, x_train=transform(pre, splits.x("train")), y_train=_column(y_train, head),
                    x_val=transform(pre, splits.x("val")), y_val=_column(splits.y("val"), head), head=head,
                    class_weight=weights)


IMBALANCED = 0.5  # "auto" weights classes when the rarest has under half the rows of the most common


def class_weights(y: np.ndarray, n_classes: int, mode: str) -> dict[int, float] | None:
    """sklearn's "balanced" weights (n / (k * count)), so each class carries the same total weight in the loss."""
    counts = np.bincount(y, minlength=n_classes)
    if mode == "none" or (mode == "auto" and counts[counts > 0].min() >= IMBALANCED * counts.max()):
        return None
    return {i: float(len(y) / (n_classes * c)) for i, c in enumerate(counts) if c > 0}


def _column(y: np.ndarray, head: Head) -> np.ndarray:
    dtype = "int32" if head.task == "multiclass" else "float32"  # class indices for the sparse loss
    return y.astype(dtype).reshape(-1, 1)  # Keras wants targets shaped (n, 1)


def transform(pre: Pipeline, x: pd.DataFrame) -> np.ndarray:
    return np.asarray(pre.transform(x), dtype="float32")


def build_network(params: MLPParams, n_inputs: int, head: Head = Head()) -> keras.Model:
    import keras

    reg = keras.regularizers.L2(params.l2)
    layers: list = [keras.Input(shape=(n_inputs,), name="features")]
    for i in range(params.n_layers):
        layers.append(keras.layers.Dense(params.units, activation=params.activation, kernel_regularizer=reg,
                                         name=f"dense_{i}"))
        if params.dropout > 0:
            layers.append(keras.layers.Dropout(params.dropout, name=f"dropout_{i}"))
    weight = 1.0
    if head.task == "binary":
        layers.append(keras.layers.Dense(1, activation="sigmoid", name="probability"))
        loss = "binary_crossentropy"
        metrics = [keras.metrics.AUC(name="auc"), keras.metrics.BinaryCrossentropy(name="log_loss")]
    elif head.task == "multiclass":
        layers.append(keras.layers.Dense(head.n_classes, activation="softmax", name="probability"))
        loss = "sparse_categorical_crossentropy"
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
                   keras.metrics.SparseCategoricalCrossentropy(name="log_loss")]
    else:
        layers += [keras.layers.Dense(1, name="standardised"),
                   keras.layers.Rescaling(head.std, offset=head.mean, name="prediction")]
        loss = "mean_squared_error"
        weight = 1.0 / head.std**2  # the loss on the standardised scale, so L2 means the same in any units
        metrics = [keras.metrics.RootMeanSquaredError(name="rmse"), keras.metrics.MeanAbsoluteError(name="mae")]
    model = keras.Sequential(layers, name="mlp")
    # XLA would compile each trial's tiny graph anew: seconds of work for sub-second fits.
    model.compile(optimizer=keras.optimizers.Adam(params.learning_rate), loss=loss, loss_weights=weight,
                  metrics=metrics, jit_compile=False)
    return model


def fit_network(params: MLPParams, data: Prepared, max_epochs: int, seed: int, callbacks=()) -> tuple:
    """Train a fresh network; returns it with its per-epoch history (train_loss, val_auc, ...)."""
    import keras

    keras.utils.set_random_seed(seed)
    model = build_network(params, data.x_train.shape[1], data.head)
    train, val = _datasets(data, params.batch_size, seed)
    model.fit(train, validation_data=val, epochs=max_epochs, verbose=0, callbacks=list(callbacks),
              shuffle=False, class_weight=data.class_weight)  # the dataset shuffles itself, seeded
    history = {_metric_name(k): [float(v) for v in vals] for k, vals in model.history.history.items()}
    return model, history


def _datasets(data: Prepared, batch_size: int, seed: int):
    """Cached tf.data pipelines: ~35 ms an epoch on the demo table, against ~130 ms for numpy arrays,
    which Keras wraps in a new adapter every epoch."""
    import tensorflow as tf

    train = (tf.data.Dataset.from_tensor_slices((data.x_train, data.y_train)).cache()
             .shuffle(len(data.x_train), seed=seed, reshuffle_each_iteration=True)
             .batch(batch_size).prefetch(tf.data.AUTOTUNE))
    val = tf.data.Dataset.from_tensor_slices((data.x_val, data.y_val)).batch(1024).cache()
    return train, val


def _metric_name(keras_name: str) -> str:
    """Keras says `loss` / `val_loss`; tabflow says `train_loss` / `val_loss` everywhere."""
    return keras_name if keras_name.startswith("val_") else f"train_{keras_name}"


def predict_proba(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """The network's output: P(positive class) for binary, a (n, k) probability matrix for multiclass, the
    prediction for regression. A direct call, not model.predict: no progress bar, no per-call graph set-up."""
    out = np.asarray(model(x, training=False)).astype("float64")
    return out if out.shape[1] > 1 else out.reshape(-1)
