"""The network: its parameters, its head per task, building and fitting it. Keras is imported inside functions:
`tabflow --help` must not pay for it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from tabflow.features.preprocessor import Layout
from tabflow.task_types import task_type

if TYPE_CHECKING:
    import keras

    from tabflow.model.inputs import Prepared


@dataclass(frozen=True)
class MLPParams:
    """One network: RealMLP-TD's defaults (Holzmüller et al., 2024, pytabkit), and TabM's batch ensemble as an
    option (`ensemble` members; 1 is a plain MLP), and a linear skip path of our own. Every part can be switched
    off: `embedding`, `front_scale`, `skip`, `skip_init="zeros"`, `weight_decay=0`, `label_smoothing=0`,
    `schedule="constant"`, `ensemble=1`."""

    width: int = 256
    depth: int = 3
    dropout: float = 0.15
    learning_rate: float = 0.04  # pytabkit's: 0.04 for classes, 0.2 for regression (default_params)
    weight_decay: float = 0.02  # AdamW's, decoupled; never on biases, scales, embeddings or activations
    activation: str = "selu"  # selu, mish or relu, each parametric (tabflow.model.layers.ParametricActivation)
    embedding: bool = True  # the PBLD periodic embedding of each number
    sigma: float = 0.1  # the periodic embedding's frequency scale
    front_scale: bool = True
    label_smoothing: float = 0.0
    ensemble: int = 1
    skip: bool = True  # a linear layer from the encoded inputs straight to the output, beside the hidden layers
    skip_init: str = "linear"  # the network starts as a ridge or logistic fit (start_linear), or "zeros"
    batch_size: int = 256
    schedule: str = "coslog"  # RealMLP's coslog4 over the fit's epochs, or "constant"

    def as_dict(self) -> dict:
        return asdict(self)


def default_params(task: str) -> MLPParams:
    """RealMLP-TD's defaults for the task: regression takes a larger step and Mish. A multiclass network starts
    with its skip path at 0: starting it as multinomial logistic regression lost AUC (benchmarks/RESULTS.md,
    section 3c)."""
    if task == "regression":
        return MLPParams(learning_rate=0.2, activation="mish")
    return MLPParams(skip_init="zeros") if task == "multiclass" else MLPParams()


def params_for(task: str, values: dict) -> MLPParams:
    """A trial's or a run's parameters over the task's defaults (a trial records only what it sampled)."""
    return replace(default_params(task), **values)


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
        """The validation metric trials minimise and the best epoch is chosen by (plain loss, no weight decay)."""
        return task_type(self.task).objective


def build_network(
    params: MLPParams, layout: Layout | int, head: Head = Head(), seed: int = 0, name: str = "mlp"
) -> Network:
    """The trained part (ending in logits, or the standardised prediction) and the served model on top of it."""
    import keras

    from tabflow.model import layers as tl

    layout = layout if isinstance(layout, Layout) else Layout(layout)
    k = params.ensemble
    inputs = keras.Input(shape=(layout.width,), name="features")
    x = _encoded(inputs, layout, params, seed)
    stack: list = [tl.FrontScale(lr_factor=6.0, name="front_scale")] if params.front_scale else []
    if k > 1:
        stack.append(tl.EnsembleView(k, name="members"))
    for i in range(params.depth):
        if k > 1:
            init = ("normal" if params.embedding else "random-signs") if i == 0 else "ones"
            stack.append(tl.BatchEnsembleDense(params.width, k, init, seed=seed + 10 + i, name=f"dense_{i}"))
        else:
            stack.append(tl.NTKDense(params.width, bias_lr_factor=0.1, seed=seed + 10 + i, name=f"dense_{i}"))
        stack.append(tl.ParametricActivation(params.activation, lr_factor=0.1, name=f"act_{i}"))
        if params.dropout > 0:
            stack.append(keras.layers.Dropout(params.dropout, name=f"dropout_{i}"))
    units = head.n_classes if head.task == "multiclass" else 1
    if k > 1:
        stack.append(tl.EnsembleHead(units, k, seed=seed + 99, name="out"))
    else:
        stack.append(tl.NTKDense(units, bias_lr_factor=0.1, seed=seed + 99, name="out"))
    h = x
    for layer in stack:
        h = layer(h)
    skip = None
    if params.skip:  # a linear path from the encoded inputs to the output: wide and deep
        skip = tl.NTKDense(units, bias_lr_factor=0.1, kernel_initializer="zeros", name="skip")
        linear = skip(x)
        h = keras.layers.Add(name="with_skip")([h, keras.ops.expand_dims(linear, 1) if k > 1 else linear])
    trained = keras.Model(inputs, h, name="trained")
    if k > 1:
        out = tl.EnsembleMean(head.task, name="ensemble_mean")(h)
    elif head.task == "binary":
        out = keras.layers.Activation("sigmoid", name="probability")(h)
    elif head.task == "multiclass":
        out = keras.layers.Activation("softmax", name="probability")(h)
    else:
        out = h
    if head.task == "regression":
        out = keras.layers.Rescaling(head.std, offset=head.mean, name="prediction")(out)
    served = keras.Model(inputs, out, name=name)
    return Network(trained, served, keras.Model(inputs, x, name="encoded"), stack, skip, _fixed(layout, params))


@dataclass
class Network:
    trained: keras.Model  # what the loss sees: logits (per member with an ensemble), or the standardised value
    served: keras.Model  # probabilities or the prediction in the target's units: what is logged and served
    encoder: keras.Model  # inputs to the first layer of `stack`, for the data-dependent init
    stack: list
    skip: keras.layers.Layer | None = None
    fixed: np.ndarray | None = None  # the encoded columns that training does not change: raw numbers and one-hots


PERIODIC_OUT = 3  # numbers per column out of the periodic embedding, before the raw value (RealMLP's)


def _fixed(layout: Layout, params: MLPParams) -> np.ndarray:
    """Where the encoded inputs hold the scaled numbers themselves and the one-hot slots: the columns a linear
    model can be fitted on before training, since no trainable weight sits in front of them."""
    start = layout.dense * PERIODIC_OUT if params.embedding else 0
    numbers = np.arange(start, start + layout.dense)
    one_hot = np.arange(0, sum(layout.one_hot)) + (start + layout.dense)
    return np.concatenate([numbers, one_hot]).astype(int)


def start_linear(net: Network, encoded: np.ndarray, y: np.ndarray, head: Head, seed: int) -> None:
    """Start the network as a linear model: the skip path set to a ridge (regression, on the standardised target)
    or logistic regression fitted on the fixed encoded columns of training rows, and the output layer of the
    hidden stack at 0 (RealMLP-TD-S's zero init of the last layer), so the hidden layers learn only what the
    linear fit misses and an early best epoch is close to it. Leaves the network as it is when a class is
    missing from the rows. Without an ensemble only (a batch ensemble keeps its own init)."""
    from sklearn.linear_model import LogisticRegression, Ridge

    skip, fixed = net.skip, net.fixed
    if skip is None or fixed is None:
        return
    z = np.asarray(encoded, dtype="float64")[:, fixed]
    if head.task == "regression":
        model = Ridge(alpha=1.0).fit(z, (y[:, 0] - head.mean) / head.std)
        coef, intercept = model.coef_.reshape(1, -1), np.atleast_1d(model.intercept_)
    else:
        labels = y[:, 0].astype(int)
        if len(np.unique(labels)) != max(head.n_classes, 2):
            return
        model = LogisticRegression(max_iter=1000, random_state=seed).fit(z, labels)
        coef, intercept = model.coef_, model.intercept_
    fan_in, units = (int(d) for d in skip.kernel.shape)
    kernel = np.zeros((fan_in, units), dtype="float64")
    kernel[fixed] = coef.T * np.sqrt(fan_in)  # NTKDense divides by sqrt(fan_in) in its forward pass
    skip.set_weights([kernel.astype("float32"), (intercept / skip.bias_lr_factor).astype("float32")])
    out = net.stack[-1]
    out.set_weights([np.zeros_like(w) for w in out.get_weights()])


def _encoded(inputs, layout: Layout, params: MLPParams, seed: int):
    """Numbers through the periodic embedding (or as they are); the one-hot group as one multi-hot vector (one
    slot per code of each column); the embedded group through one shared table, 8 numbers per column (RealMLP's)."""
    import keras

    from tabflow.model import layers as tl

    parts = []
    if layout.dense:
        dense = inputs[:, : layout.dense]
        if params.embedding:
            periodic = tl.PeriodicEmbedding(
                d_out=PERIODIC_OUT, sigma=params.sigma, lr_factor=0.1, seed=seed, name="periodic"
            )
            dense = periodic(dense)
        parts.append(dense)
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
            embeddings_initializer=keras.initializers.RandomNormal(0.0, 1.0, seed + 1),
            name="embedding",
        )
        parts.append(keras.layers.Flatten(name="embedded")(table(codes)))
    return keras.layers.Concatenate(name="encoded")(parts) if len(parts) > 1 else parts[0]


OnEpoch = Callable[[int, dict[str, float]], bool]  # (epoch, metrics) -> stop now


def fit_network(
    params: MLPParams, data: Prepared, epochs: int, seed: int, on_epoch: OnEpoch | None = None, name: str = "mlp"
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Train a fresh network for `epochs` (the schedule spans them) and restore its best validation epoch, as
    RealMLP does; returns the served model and the per-epoch history (train_loss and the validation objective).

    The loop is one compiled function per epoch over batches gathered from one copy of the rows: Keras' `fit`
    spends more per epoch on its own machinery than a small table's epoch of training takes
    (benchmarks/RESULTS.md, section 1)."""
    import keras
    import tensorflow as tf

    from tabflow.model import layers as tl

    keras.utils.set_random_seed(seed)
    net = build_network(params, data.layout or data.x_train.shape[1], data.head, seed, name)
    rng = np.random.default_rng(seed)
    n = len(data.x_train)
    rows = rng.choice(n, min(n, 4096), replace=False)
    encoded = np.asarray(net.encoder(data.x_train[rows], training=False))
    tl.data_init(net.stack, encoded, seed=seed)
    if net.skip is not None and params.skip_init == "linear" and params.ensemble == 1:
        start_linear(net, encoded, data.y_train[rows], data.head, seed)
    batch = min(params.batch_size, n)
    steps = n // batch  # the last, partial batch is dropped each epoch, as RealMLP and TabM do
    lr = tl.CosLog(params.learning_rate, epochs * steps) if params.schedule == "coslog" else params.learning_rate
    if params.weight_decay > 0:
        optimizer = keras.optimizers.AdamW(lr, weight_decay=params.weight_decay, beta_2=0.95, epsilon=1e-8)
        optimizer.exclude_from_weight_decay(var_list=tl.no_decay_variables(net.trained))
    else:
        optimizer = keras.optimizers.Adam(lr, beta_2=0.95, epsilon=1e-8)
    variables = net.trained.trainable_variables
    optimizer.build(variables)
    loss_of = _loss(data.head, params.label_smoothing, params.ensemble, data.class_weight)
    x, y = tf.constant(data.x_train), tf.constant(data.y_train)

    def step(i, total, order):
        rows = order[i * batch : (i + 1) * batch]
        with tf.GradientTape() as tape:
            loss = loss_of(tf.gather(y, rows), net.trained(tf.gather(x, rows), training=True))
        optimizer.apply(tape.gradient(loss, variables), variables)
        return i + 1, total + loss, order

    # A plain while_loop, not AutoGraph: AutoGraph re-reads this file's source, which fails where there is none.
    @tf.function(autograph=False, jit_compile=False, reduce_retracing=True)
    def train_epoch(order):
        start = (tf.constant(0), tf.constant(0.0), order)
        _, total, _ = tf.while_loop(lambda i, total, order: i < steps, step, start)
        return total / float(steps)

    forward = tf.function(lambda rows: net.served(rows, training=False), reduce_retracing=True)
    objective = data.head.objective
    history: dict[str, list[float]] = {"train_loss": [], objective: []}
    best, kept = np.inf, None
    for epoch in range(epochs):
        history["train_loss"].append(float(train_epoch(tf.constant(rng.permutation(n), "int32"))))
        value = _objective(data.head, data.y_val, in_chunks(forward, data.x_val))
        history[objective].append(value)
        if value <= best:  # ties go to the later epoch, as in pytabkit
            best, kept = value, net.served.get_weights()
        if on_epoch is not None and on_epoch(epoch, {objective: value}):
            break
    if kept is not None:
        net.served.set_weights(kept)
    return net.served, history


def fit_final(
    members: Sequence[tuple[MLPParams, int]], data: Prepared, epochs: int, folds: int, fold_rows: int
) -> tuple[keras.Model, dict[str, list[float]], list[int]]:
    """The served network (train.folds). `members` are (parameters, seed) of the best trials, best first. On a
    table of at most `fold_rows` train and val rows, fold networks (tabflow's small-table ensemble); else one
    network of the best. Returns it, its history (with folds, the members' mean per epoch) and each fold
    network's best epoch."""
    if folds > 1 and len(data.x_train) + len(data.x_val) <= fold_rows:
        network, histories = fit_folds(members, data, epochs, folds)
        history = {k: np.mean([h[k] for h in histories], axis=0).tolist() for k in histories[0]}
        return network, history, [int(np.argmin(h[data.head.objective])) for h in histories]
    params, seed = members[0]
    network, history = fit_network(params, data, epochs, seed)
    return network, history, []


def held_out(network, data: Prepared, seed: int, folds: int) -> tuple[np.ndarray, np.ndarray]:
    """Targets and the served network's output on rows it did not train on: with fold networks (folds > 1),
    every row of train and val from the member that held it out (the folds fit_folds drew from the same seed);
    else the validation rows. What calibration, the threshold and the intervals are fitted on."""
    from sklearn.model_selection import KFold, StratifiedKFold

    if folds <= 1:
        return data.y_val[:, 0], as_output(in_chunks(lambda b: network(b, training=False), data.x_val))
    x, y = np.concatenate([data.x_train, data.x_val]), np.concatenate([data.y_train, data.y_val])
    split = StratifiedKFold if data.head.task != "regression" else KFold
    parts = []
    for i, (_, held) in enumerate(split(folds, shuffle=True, random_state=seed).split(x, y[:, 0])):
        member = network.get_layer(f"fold_{i}")
        parts.append((held, as_output(in_chunks(lambda b, m=member: m(b, training=False), x[held]))))
    out = np.empty((len(x), *parts[0][1].shape[1:]))
    for held, values in parts:
        out[held] = values
    return y[:, 0], out


def fit_folds(
    members: Sequence[tuple[MLPParams, int]], data: Prepared, epochs: int, folds: int
) -> tuple[keras.Model, list]:
    """`folds` networks on train and val pooled, each keeping its best epoch on its own held-out fold, served as
    the mean of their outputs. Fold i trains the i-th best trial's parameters (cycling when there are fewer), so
    the ensemble averages over both rows and configurations: on a small table, every row trains most members and
    no single noisy choice of trial or epoch decides (RealMLP's and AutoGluon's bagging, with TabM's lesson that
    a mean of members beats the best member). Returns the served model and each member's history."""
    import keras
    from sklearn.model_selection import KFold, StratifiedKFold

    x, y = np.concatenate([data.x_train, data.x_val]), np.concatenate([data.y_train, data.y_val])
    split = StratifiedKFold if data.head.task != "regression" else KFold
    seed = members[0][1]
    networks, histories = [], []
    for i, (fit_rows, held) in enumerate(split(folds, shuffle=True, random_state=seed).split(x, y[:, 0])):
        params, member_seed = members[i % len(members)]
        fold = replace(data, x_train=x[fit_rows], y_train=y[fit_rows], x_val=x[held], y_val=y[held])
        model, history = fit_network(params, fold, epochs, member_seed + 1000 * i, name=f"fold_{i}")
        networks.append(model)
        histories.append(history)
    inputs = keras.Input(shape=(x.shape[1],), name="features")
    out = keras.layers.Average(name="mean_of_folds")([m(inputs) for m in networks])
    return keras.Model(inputs, out, name="folds"), histories


def _loss(head: Head, smoothing: float, members: int, class_weight: dict[int, float] | None) -> Callable:
    """Training loss from logits (or the standardised value): with an ensemble, the mean of the members' losses,
    not the loss of their mean (TabM). Label smoothing mixes the uniform distribution into the targets; class
    weights (train.class_weight) weight each row by its class."""
    import tensorflow as tf

    weights = None
    if class_weight:
        weights = tf.constant([class_weight.get(i, 0.0) for i in range(max(head.n_classes, 2))], "float32")

    def loss(y, out):
        if members > 1:  # out is (B, k, C): every member learns from the same row
            y = tf.reshape(tf.repeat(y, members, axis=1), (-1, 1))
            out = tf.reshape(out, (-1, out.shape[-1]))
        if head.task == "binary":
            each = tf.nn.sigmoid_cross_entropy_with_logits(y * (1.0 - smoothing) + 0.5 * smoothing, out)[:, 0]
        elif head.task == "multiclass":
            logp = tf.nn.log_softmax(out)
            picked = tf.gather(logp, tf.cast(y[:, 0], "int32"), axis=1, batch_dims=1)
            each = -((1.0 - smoothing) * picked + smoothing * tf.reduce_mean(logp, axis=1))
        else:
            return tf.reduce_mean(tf.square(out - (y - head.mean) / head.std))
        if weights is None:
            return tf.reduce_mean(each)
        w = tf.gather(weights, tf.cast(y[:, 0], "int32"))
        return tf.reduce_sum(w * each) / tf.reduce_sum(w)

    return loss


def in_chunks(forward, x: np.ndarray, rows: int = 16384) -> np.ndarray:
    """forward(x) a block of rows at a time: the periodic embedding's intermediates of a whole batch file's chunk
    held gigabytes at once."""
    return np.concatenate([np.asarray(forward(x[i : i + rows])) for i in range(0, len(x), rows)])


def _objective(head: Head, y: np.ndarray, out: np.ndarray) -> float:
    """The validation objective of the served output: log loss (Keras' clipping at 1e-7) or RMSE."""
    if head.task == "regression":
        return float(np.sqrt(np.mean((out[:, 0].astype("float64") - y[:, 0]) ** 2)))
    p = np.clip(out.astype("float64"), 1e-7, 1 - 1e-7)
    if head.task == "binary":
        return float(-np.mean(np.where(y[:, 0] == 1, np.log(p[:, 0]), np.log(1 - p[:, 0]))))
    return float(-np.mean(np.log(p[np.arange(len(y)), y[:, 0]])))


def predict_proba(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """The network's output: P(positive class) for binary, a (n, k) probability matrix for multiclass, the
    prediction for regression. A direct call, not model.predict: no progress bar, no per-call graph set-up."""
    return as_output(model(x, training=False))


def as_output(out) -> np.ndarray:
    out = np.asarray(out).astype("float64")
    return out if out.shape[1] > 1 else out.reshape(-1)
