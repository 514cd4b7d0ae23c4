"""The network and its preprocessing. Keras is imported inside functions: `tabflow --help` must not pay for it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

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
class Prepared:
    """The splits as float32 matrices, transformed by a preprocessor fitted on train only."""

    preprocessor: Pipeline
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


def fit_preprocessor(train_x: pd.DataFrame) -> Pipeline:
    """Median imputation (with missing-value indicators) and scaling, fitted on the training split alone."""
    pipe = make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler())
    pipe.set_output(transform="default")
    return pipe.fit(train_x)


def prepare(splits: Splits) -> Prepared:
    pre = fit_preprocessor(splits.x("train"))
    return Prepared(preprocessor=pre, x_train=transform(pre, splits.x("train")), y_train=_column(splits.y("train")),
                    x_val=transform(pre, splits.x("val")), y_val=_column(splits.y("val")))


def _column(y: np.ndarray) -> np.ndarray:
    return y.astype("float32").reshape(-1, 1)  # Keras wants targets shaped like the (n, 1) output


def transform(pre: Pipeline, x: pd.DataFrame) -> np.ndarray:
    return np.asarray(pre.transform(x), dtype="float32")


def build_network(params: MLPParams, n_inputs: int) -> keras.Model:
    import keras

    reg = keras.regularizers.L2(params.l2)
    layers: list = [keras.Input(shape=(n_inputs,), name="features")]
    for i in range(params.n_layers):
        layers.append(keras.layers.Dense(params.units, activation=params.activation, kernel_regularizer=reg,
                                         name=f"dense_{i}"))
        if params.dropout > 0:
            layers.append(keras.layers.Dropout(params.dropout, name=f"dropout_{i}"))
    layers.append(keras.layers.Dense(1, activation="sigmoid", name="probability"))
    model = keras.Sequential(layers, name="mlp")
    # XLA would compile each trial's tiny graph anew: seconds of work for sub-second fits.
    model.compile(optimizer=keras.optimizers.Adam(params.learning_rate), loss="binary_crossentropy",
                  metrics=[keras.metrics.AUC(name="auc"), keras.metrics.BinaryCrossentropy(name="log_loss")],
                  jit_compile=False)
    return model


def fit_network(params: MLPParams, data: Prepared, max_epochs: int, seed: int, callbacks=()) -> tuple:
    """Train a fresh network; returns it with its per-epoch history (train_loss, val_auc, ...)."""
    import keras

    keras.utils.set_random_seed(seed)
    model = build_network(params, data.x_train.shape[1])
    train, val = _datasets(data, params.batch_size, seed)
    model.fit(train, validation_data=val, epochs=max_epochs, verbose=0, callbacks=list(callbacks),
              shuffle=False)  # the dataset shuffles itself, seeded
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
    """A direct call, not model.predict: no progress bar, no per-call graph set-up (~8 ms a request)."""
    return np.asarray(model(x, training=False)).reshape(-1).astype("float64")
