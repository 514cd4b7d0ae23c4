"""A RealMLP-TD network (Holzmüller et al., 2024; pytabkit's defaults) from the layers in tabflow.model.layers.

Inputs are the preprocessor's matrix with `numeric="realmlp"` (numbers robust-scaled and smooth-clipped, missing
indicators included), then the category codes. Numbers get the PBLD periodic embedding; small categoricals are
one-hot, larger ones an 8-number embedding; a front scale per feature; three NTK-parametrised dense layers of 256
with parametric SELU (Mish for regression) and dropout; Adam with beta_2 = 0.95 on the coslog4 schedule.
Not yet the product's network: the benchmark (benchmarks/quality.py, `--network realmlp`) measures it first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tabflow.features.preprocessor import Layout
from tabflow.model.network import Head


@dataclass(frozen=True)
class RealMLPParams:
    width: int = 256
    depth: int = 3
    dropout: float = 0.15
    lr: float | None = None  # None: pytabkit's default, 0.04 for classes and 0.2 for regression
    epochs: int = 256
    batch_size: int = 256
    sigma: float = 0.1  # the periodic embedding's frequency scale


def build_realmlp(params: RealMLPParams, layout: Layout, head: Head, steps_per_epoch: int, seed: int = 0):
    """The compiled Keras model, and the layers from the front scale on (for the data-dependent init)."""
    import keras

    from tabflow.model import layers as tl

    classification = head.task != "regression"
    inputs = keras.Input(shape=(layout.width,), name="features")
    parts = []
    if layout.dense:
        parts.append(
            tl.PeriodicEmbedding(sigma=params.sigma, lr_factor=0.1, seed=seed, name="pbld")(inputs[:, : layout.dense])
        )
    start = layout.dense
    if layout.one_hot:
        codes = keras.ops.cast(inputs[:, start : start + len(layout.one_hot)], "int32")
        parts.append(keras.layers.CategoryEncoding(sum(layout.one_hot), output_mode="multi_hot", name="one_hot")(codes))
        start += len(layout.one_hot)
    if layout.embedded:
        codes = keras.ops.cast(inputs[:, start:], "int32")
        table = keras.layers.Embedding(
            sum(layout.embedded),
            8,
            embeddings_initializer=keras.initializers.RandomNormal(0.0, 1.0, seed),
            name="embedding",
        )
        parts.append(keras.layers.Flatten(name="embedded")(table(codes)))
    x = keras.layers.Concatenate(name="encoded")(parts) if len(parts) > 1 else parts[0]
    stack = [tl.FrontScale(lr_factor=6.0, name="front_scale")]
    for i in range(params.depth):
        stack += [
            tl.NTKDense(params.width, bias_lr_factor=0.1, seed=seed + 10 + i, name=f"dense_{i}"),
            tl.ParametricActivation("selu" if classification else "mish", lr_factor=0.1, name=f"act_{i}"),
            keras.layers.Dropout(params.dropout, name=f"dropout_{i}"),
        ]
    units = head.n_classes if head.task == "multiclass" else 1
    stack.append(tl.NTKDense(units, bias_lr_factor=0.1, seed=seed + 99, name="out"))
    h = x
    for layer in stack:
        h = layer(h)
    if head.task == "binary":
        out, loss = keras.layers.Activation("sigmoid", name="probability")(h), "binary_crossentropy"
        metrics = [keras.metrics.BinaryCrossentropy(name="log_loss")]
    elif head.task == "multiclass":
        out, loss = keras.layers.Activation("softmax", name="probability")(h), "sparse_categorical_crossentropy"
        metrics = [keras.metrics.SparseCategoricalCrossentropy(name="log_loss")]
    else:
        out, loss = keras.layers.Rescaling(head.std, offset=head.mean, name="prediction")(h), "mean_squared_error"
        metrics = [keras.metrics.RootMeanSquaredError(name="rmse")]
    model = keras.Model(inputs, out, name="realmlp")
    lr = params.lr if params.lr is not None else (0.04 if classification else 0.2)
    schedule = tl.CosLog(lr, max(params.epochs * steps_per_epoch, 1))
    optimizer = keras.optimizers.Adam(schedule, beta_1=0.9, beta_2=0.95, epsilon=1e-8)
    weight = 1.0 if classification else 1.0 / head.std**2
    model.compile(optimizer=optimizer, loss=loss, loss_weights=weight, metrics=metrics, jit_compile=False)
    front = keras.Model(inputs, x)
    return model, front, stack


def fit_realmlp(params: RealMLPParams, data, seed: int):
    """Train with the best validation epoch restored (no early stop: the schedule decides the length)."""
    import keras

    from tabflow.model import layers as tl
    from tabflow.model.network import _datasets, _metric_name

    keras.utils.set_random_seed(seed)
    steps = max(len(data.x_train) // params.batch_size, 1)
    model, front, stack = build_realmlp(params, data.layout, data.head, steps, seed)
    sample = data.x_train[
        np.random.default_rng(seed).choice(len(data.x_train), min(len(data.x_train), 4096), replace=False)
    ]
    tl.data_init(stack, np.asarray(front(sample, training=False)), seed=seed)
    train, val = _datasets(data, params.batch_size, seed)
    objective = data.head.objective
    best = keras.callbacks.EarlyStopping(
        monitor=objective, mode="min", patience=params.epochs, restore_best_weights=True
    )
    model.fit(train, validation_data=val, epochs=params.epochs, verbose=0, callbacks=[best], shuffle=False)
    history = {_metric_name(k): [float(v) for v in vals] for k, vals in model.history.history.items()}
    return model, history
