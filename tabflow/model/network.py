"""The network: its parameters, its head per task, building and fitting it. Keras is imported inside functions:
`tabflow --help` must not pay for it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from tabflow import settings
from tabflow.features.preprocessor import Layout
from tabflow.task_types import task_type

if TYPE_CHECKING:
    import keras

    from tabflow.model.inputs import Prepared


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
        return task_type(self.task).objective


def embedding_dim(tokens: int) -> int:
    """fastai's rule of thumb (1.6 * n ** 0.56), capped: a 1,000-value column gets 16 numbers, not 1,000."""
    return max(2, min(16, round(1.6 * tokens**0.56)))


def build_network(params: MLPParams, layout: Layout | int, head: Head = Head()) -> keras.Model:
    import keras

    layout = layout if isinstance(layout, Layout) else Layout(layout)
    inputs = keras.Input(shape=(layout.width,), name="features")
    x = _encoded(inputs, layout)
    reg = keras.regularizers.L2(params.l2)
    for i in range(params.n_layers):
        x = keras.layers.Dense(params.units, activation=params.activation, kernel_regularizer=reg, name=f"dense_{i}")(x)
        if params.dropout > 0:
            x = keras.layers.Dropout(params.dropout, name=f"dropout_{i}")(x)
    weight = 1.0
    if head.task == "binary":
        out = keras.layers.Dense(1, activation="sigmoid", name="probability")(x)
        loss = "binary_crossentropy"
        metrics = [keras.metrics.AUC(name="auc"), keras.metrics.BinaryCrossentropy(name="log_loss")]
    elif head.task == "multiclass":
        out = keras.layers.Dense(head.n_classes, activation="softmax", name="probability")(x)
        loss = "sparse_categorical_crossentropy"
        metrics = [
            keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
            keras.metrics.SparseCategoricalCrossentropy(name="log_loss"),
        ]
    else:
        out = keras.layers.Rescaling(head.std, offset=head.mean, name="prediction")(
            keras.layers.Dense(1, name="standardised")(x)
        )
        loss = "mean_squared_error"
        weight = 1.0 / head.std**2  # the loss on the standardised scale, so L2 means the same in any units
        metrics = [keras.metrics.RootMeanSquaredError(name="rmse"), keras.metrics.MeanAbsoluteError(name="mae")]
    model = keras.Model(inputs, out, name="mlp")
    # XLA would compile each trial's tiny graph anew: seconds of work for sub-second fits.
    model.compile(
        optimizer=keras.optimizers.Adam(params.learning_rate),
        loss=loss,
        loss_weights=weight,
        metrics=metrics,
        jit_compile=False,
    )
    return model


def _encoded(inputs, layout: Layout):
    """The dense block as it is; the one-hot group as one multi-hot vector (one slot per code of each column);
    the embedded group through one shared embedding table, a vector per column."""
    import keras

    if not (layout.one_hot or layout.embedded):
        return inputs
    parts = [inputs[:, : layout.dense]] if layout.dense else []
    start = layout.dense
    if layout.one_hot:
        codes = keras.ops.cast(inputs[:, start : start + len(layout.one_hot)], "int32")
        parts.append(keras.layers.CategoryEncoding(sum(layout.one_hot), output_mode="multi_hot", name="one_hot")(codes))
        start += len(layout.one_hot)
    if layout.embedded:
        codes = keras.ops.cast(inputs[:, start:], "int32")
        table = keras.layers.Embedding(sum(layout.embedded), embedding_dim(max(layout.embedded)), name="embedding")
        parts.append(keras.layers.Flatten(name="embedded")(table(codes)))
    return keras.layers.Concatenate(name="encoded")(parts) if len(parts) > 1 else parts[0]


def fit_network(params: MLPParams, data: Prepared, max_epochs: int, seed: int, callbacks=()) -> tuple:
    """Train a fresh network; returns it with its per-epoch history (train_loss, val_auc, ...)."""
    import keras

    keras.utils.set_random_seed(seed)
    model = build_network(params, data.layout or data.x_train.shape[1], data.head)
    train, val = _datasets(data, params.batch_size, seed)
    model.fit(
        train,
        validation_data=val,
        epochs=max_epochs,
        verbose=0,
        callbacks=list(callbacks),
        shuffle=False,
        class_weight=data.class_weight,
    )  # the dataset shuffles itself, seeded
    history = {_metric_name(k): [float(v) for v in vals] for k, vals in model.history.history.items()}
    return model, history


def _datasets(data: Prepared, batch_size: int, seed: int):
    """tf.data pipelines, shuffled afresh each epoch with a seed.

    Small tables: rows cached as tensors and shuffled (numpy arrays were several times slower an epoch: Keras
    re-wraps them every epoch). Large ones: shuffled row numbers, each batch gathered from one copy of the
    matrix: the cache and the shuffle buffer would hold two more copies, with per-row overhead, and were slower an
    epoch on large tables, while on small ones gathering was the slower (benchmarks/RESULTS.md, section 4).
    """
    import tensorflow as tf

    n = len(data.x_train)
    if n < settings.GATHER_ROWS:
        train = (
            tf.data.Dataset.from_tensor_slices((data.x_train, data.y_train))
            .cache()
            .shuffle(n, seed=seed, reshuffle_each_iteration=True)
            .batch(batch_size)
        )
    else:
        x, y = tf.constant(data.x_train), tf.constant(data.y_train)
        train = (
            tf.data.Dataset.range(n)
            .shuffle(n, seed=seed, reshuffle_each_iteration=True)
            .batch(batch_size)
            .map(
                lambda rows: (tf.gather(x, rows), tf.gather(y, rows)),
                num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=True,
            )
        )
    val = tf.data.Dataset.from_tensor_slices((data.x_val, data.y_val)).batch(4096)
    return train.prefetch(tf.data.AUTOTUNE), val


def _metric_name(keras_name: str) -> str:
    """Keras says `loss` / `val_loss`; tabflow says `train_loss` / `val_loss` everywhere."""
    return keras_name if keras_name.startswith("val_") else f"train_{keras_name}"


def predict_proba(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """The network's output: P(positive class) for binary, a (n, k) probability matrix for multiclass, the
    prediction for regression. A direct call, not model.predict: no progress bar, no per-call graph set-up."""
    return as_output(model(x, training=False))


def as_output(out) -> np.ndarray:
    out = np.asarray(out).astype("float64")
    return out if out.shape[1] > 1 else out.reshape(-1)
