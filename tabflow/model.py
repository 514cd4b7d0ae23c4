"""The network and its preprocessing. Keras is imported inside functions: `tabflow --help` must not pay for it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
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
    layout: Layout | None = None  # None: every column dense

    def sample(self, max_rows: int, seed: int) -> Prepared:
        """At most `max_rows` rows of train and of val, drawn with a seed: trials on a large table."""
        rng = np.random.default_rng(seed)

        def take(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            if len(x) <= max_rows:
                return x, y
            rows = np.sort(rng.choice(len(x), max_rows, replace=False))
            return x[rows], y[rows]

        (x_train, y_train), (x_val, y_val) = take(self.x_train, self.y_train), take(self.x_val, self.y_val)
        return replace(self, x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val)


@dataclass(frozen=True)
class Layout:
    """What a row of the network's input holds: `dense` scaled numbers, then one integer code per categorical
    column, one-hot columns first (their code counts in `one_hot`), then embedded ones (`embedded`); each group's
    codes share one code space (see columns.Vocabulary)."""

    dense: int
    one_hot: tuple[int, ...] = ()
    embedded: tuple[int, ...] = ()

    @property
    def width(self) -> int:
        return self.dense + len(self.one_hot) + len(self.embedded)


ONE_HOT_MAX = 16  # a column with up to this many codes enters the network one-hot; a larger one is embedded
MIN_COUNT = 5  # a category seen fewer times in training shares the "other" code: too rare to learn from


def embedding_dim(tokens: int) -> int:
    """fastai's rule of thumb (1.6 * n ** 0.56), capped: a 1,000-value column gets 16 numbers, not 1,000."""
    return max(2, min(16, round(1.6 * tokens**0.56)))


def fit_preprocessor(train_x: pd.DataFrame, roles: dict[str, str], max_categories: int = 1000,
                     one_hot: bool = False) -> Pipeline:
    return make_preprocessor(roles, max_categories, one_hot).fit(train_x)


def make_preprocessor(roles: dict[str, str], max_categories: int = 1000, one_hot: bool = False) -> Pipeline:
    """Raw rows in, one float matrix out, every statistic fitted on the training split alone.

    numeric: median imputation with missing-value indicators, robust scaling (median and IQR: a few outliers
    do not squash the rest); datetime: year, month, day, weekday and hour, then as numeric; categorical, last:
    one integer code per column (columns.Vocabulary), which the network one-hot encodes or embeds. `one_hot`
    expands the codes here instead, as a sparse matrix, for the linear baselines.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, RobustScaler

    from tabflow.columns import DateParts, Vocabulary, as_float32, coerce

    def numbers():
        # float32, in place: the network reads float32 anyway, and float64 copies at each step held ~1 GB
        # at once while fitting on 700k rows
        return [FunctionTransformer(as_float32),
                SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True, copy=False),
                RobustScaler(copy=False)]

    by_role = {role: [c for c, r in roles.items() if r == role] for role in ("numeric", "categorical", "datetime")}
    parts = []
    if by_role["numeric"]:
        parts.append(("numeric", make_pipeline(*numbers()), by_role["numeric"]))
    if by_role["datetime"]:
        parts.append(("datetime", make_pipeline(DateParts(), *numbers()), by_role["datetime"]))
    if by_role["categorical"]:
        vocab = Vocabulary(max_categories, MIN_COUNT, ONE_HOT_MAX)
        # one-hot over the codes, not the strings: the same categories as the network's, and 3x faster at 700k rows
        encoded = make_pipeline(vocab, OneHotEncoder(handle_unknown="ignore", dtype=np.float32)) if one_hot else vocab
        parts.append(("categorical", encoded, by_role["categorical"]))
    return Pipeline([("coerce", FunctionTransformer(coerce, kw_args={"roles": dict(roles)})),
                     ("columns", ColumnTransformer(parts, remainder="drop", sparse_threshold=0.3 if one_hot else 0))])


def layout(pre: Pipeline) -> Layout:
    columns = pre.named_steps["columns"]
    vocab = columns.named_transformers_.get("categorical")
    dense = sum(columns.output_indices_[name].stop - columns.output_indices_[name].start
                for name in ("numeric", "datetime") if name in columns.output_indices_)
    if vocab is None or not hasattr(vocab, "groups_"):
        return Layout(int(dense))
    return Layout(int(dense), vocab.tokens(0), vocab.tokens(1))


def capped_categories(pre: Pipeline) -> dict[str, dict[str, int]]:
    """Per categorical column folded into "other" while fitting: how many distinct values, over how many rows."""
    vocab = pre.named_steps["columns"].named_transformers_.get("categorical")
    return dict(getattr(vocab, "folded_", {}))


def prepare(splits: Splits, max_categories: int = 1000, class_weight: str = "auto") -> Prepared:
    pre = make_preprocessor(splits.roles, max_categories)
    x_train = np.asarray(pre.fit_transform(splits.x("train")), dtype="float32")  # fitting computes it anyway
    y_train = splits.y("train")
    head = Head(splits.task, max(len(splits.classes), 1),
                *((float(y_train.mean()), float(y_train.std()) or 1.0) if splits.task == "regression" else ()))
    weights = class_weights(y_train, len(splits.classes), class_weight) if splits.task != "regression" else None
    return Prepared(preprocessor=pre, x_train=x_train, y_train=_column(y_train, head),
                    x_val=transform(pre, splits.x("val")), y_val=_column(splits.y("val"), head), head=head,
                    class_weight=weights, layout=layout(pre))


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


CHUNK_ROWS = 100_000


def transform(pre: Pipeline, x: pd.DataFrame) -> np.ndarray:
    """The preprocessed float32 matrix, built in chunks of rows: the transforms' float64 intermediates then
    stay a bounded size however long the table."""
    if len(x) <= CHUNK_ROWS:
        return np.asarray(pre.transform(x), dtype="float32")
    first = np.asarray(pre.transform(x.iloc[:CHUNK_ROWS]), dtype="float32")
    out = np.empty((len(x), first.shape[1]), dtype="float32")
    out[:CHUNK_ROWS] = first
    for start in range(CHUNK_ROWS, len(x), CHUNK_ROWS):
        out[start:start + CHUNK_ROWS] = pre.transform(x.iloc[start:start + CHUNK_ROWS])
    return out


def build_network(params: MLPParams, layout: Layout | int, head: Head = Head()) -> keras.Model:
    import keras

    layout = layout if isinstance(layout, Layout) else Layout(layout)
    inputs = keras.Input(shape=(layout.width,), name="features")
    x = _encoded(inputs, layout)
    reg = keras.regularizers.L2(params.l2)
    for i in range(params.n_layers):
        x = keras.layers.Dense(params.units, activation=params.activation, kernel_regularizer=reg,
                               name=f"dense_{i}")(x)
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
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
                   keras.metrics.SparseCategoricalCrossentropy(name="log_loss")]
    else:
        out = keras.layers.Rescaling(head.std, offset=head.mean, name="prediction")(
            keras.layers.Dense(1, name="standardised")(x))
        loss = "mean_squared_error"
        weight = 1.0 / head.std**2  # the loss on the standardised scale, so L2 means the same in any units
        metrics = [keras.metrics.RootMeanSquaredError(name="rmse"), keras.metrics.MeanAbsoluteError(name="mae")]
    model = keras.Model(inputs, out, name="mlp")
    # XLA would compile each trial's tiny graph anew: seconds of work for sub-second fits.
    model.compile(optimizer=keras.optimizers.Adam(params.learning_rate), loss=loss, loss_weights=weight,
                  metrics=metrics, jit_compile=False)
    return model


def _encoded(inputs, layout: Layout):
    """The dense block as it is; the one-hot group as one multi-hot vector (one slot per code of each column);
    the embedded group through one shared embedding table, a vector per column."""
    import keras

    if not (layout.one_hot or layout.embedded):
        return inputs
    parts = [inputs[:, :layout.dense]] if layout.dense else []
    start = layout.dense
    if layout.one_hot:
        codes = keras.ops.cast(inputs[:, start:start + len(layout.one_hot)], "int32")
        parts.append(keras.layers.CategoryEncoding(sum(layout.one_hot), output_mode="multi_hot",
                                                   name="one_hot")(codes))
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
    model.fit(train, validation_data=val, epochs=max_epochs, verbose=0, callbacks=list(callbacks),
              shuffle=False, class_weight=data.class_weight)  # the dataset shuffles itself, seeded
    history = {_metric_name(k): [float(v) for v in vals] for k, vals in model.history.history.items()}
    return model, history


GATHER_ROWS = 100_000  # from this many training rows up, batches are gathered from one copy of the matrix


def _datasets(data: Prepared, batch_size: int, seed: int):
    """tf.data pipelines, shuffled afresh each epoch with a seed.

    Small tables: rows cached as tensors and shuffled, ~35 ms an epoch on the demo table (numpy arrays took
    ~130 ms: Keras re-wraps them every epoch). Large ones: shuffled row numbers, each batch gathered from one
    copy of the matrix. The cache and the shuffle buffer would hold two more copies, with per-row overhead, and
    were 1.5x slower an epoch at 700k rows; on the demo table gathering was 10-20% slower.
    """
    import tensorflow as tf

    n = len(data.x_train)
    if n < GATHER_ROWS:
        train = (tf.data.Dataset.from_tensor_slices((data.x_train, data.y_train)).cache()
                 .shuffle(n, seed=seed, reshuffle_each_iteration=True).batch(batch_size))
    else:
        x, y = tf.constant(data.x_train), tf.constant(data.y_train)
        train = (tf.data.Dataset.range(n).shuffle(n, seed=seed, reshuffle_each_iteration=True).batch(batch_size)
                 .map(lambda rows: (tf.gather(x, rows), tf.gather(y, rows)), num_parallel_calls=tf.data.AUTOTUNE,
                      deterministic=True))
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
