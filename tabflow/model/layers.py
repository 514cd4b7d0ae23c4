"""Keras layers for RealMLP- and TabM-style networks, each with a numpy twin of its inference pass.

RealMLP (pytabkit): smooth clipping, the PBLD periodic embedding of numbers, a per-feature front scale, NTK-scaled
dense layers with a data-dependent init, and parametric activations. TabM (yandex-research/tabm): the ensemble view,
BatchEnsemble linears with shared weights, the per-member output head and the mean over members. Also RealMLP's
`coslog4` learning-rate schedule and the list of variables AdamW must not decay.

Every layer uses `keras.ops` only, so that each has an exact `numpy_call`: the same inference pass in plain numpy
from the layer's variables, for single-row serving without a Keras call and for checking one against the other.
Every layer is registered under the "tabflow" package with a full `get_config`, so a model saved to `.keras` loads
back with `keras.saving.load_model`, in a process that has imported this module first: Keras 3.15 imports the module
named in a saved config only for its own packages, so the registration must already have run.

Learning-rate factors (RealMLP gives PBLD, biases and the activations' alpha a tenth of the step, the front scale six
times it) are reparametrisations: a weight p is stored as θ = p / c and used as c·θ. Adam's steps do not depend on
the gradient's scale, so the step on p becomes c times the optimiser's. A factor of 1 (the default) is the plain
weight. Weight decay then shrinks p at the same relative rate as any other weight, not at pytabkit's rate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from tabflow.features.encoders import CLIP_INPUT

__all__ = [
    "BatchEnsembleDense",
    "CosLog",
    "EnsembleHead",
    "EnsembleMean",
    "EnsembleView",
    "FrontScale",
    "NTKDense",
    "ParametricActivation",
    "PeriodicEmbedding",
    "SmoothClip",
    "data_init",
    "no_decay_variables",
]

SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805
ACTIVATIONS = ("selu", "mish", "relu")
SCALING_INITS = ("ones", "normal", "random-signs")
TASKS = ("binary", "multiclass", "regression")

register = keras.saving.register_keras_serializable(package="tabflow")


def _np(variable) -> np.ndarray:
    return np.asarray(ops.convert_to_numpy(variable))


def _seed(seed: int | None, offset: int) -> int | None:
    """A distinct seed per weight of a layer: one seed for all would draw correlated values."""
    return None if seed is None else seed + offset


def _stored(initializer, factor: float) -> Callable:
    """The initializer of θ = p / factor, for a weight p used as factor·θ."""
    init = keras.initializers.get(initializer)
    if factor == 1.0:
        return init
    return lambda shape, dtype=None: ops.multiply(init(shape, dtype=dtype), 1.0 / factor)


@register
class SmoothClip(keras.layers.Layer):
    """x / sqrt(1 + (x / m)²), m = 3: near identity for small x, bounded by ±m. RealMLP applies it after robust
    scaling, so outliers keep their order but no longer dominate the first layer."""

    def __init__(self, max_abs: float = 3.0, **kwargs):
        super().__init__(**kwargs)
        self.max_abs = float(max_abs)

    def call(self, x):
        x = ops.clip(x, -CLIP_INPUT, CLIP_INPUT)  # the square would overflow float32, and x / inf be 0
        return x / ops.sqrt(1.0 + ops.square(x / self.max_abs))

    def numpy_call(self, x: np.ndarray) -> np.ndarray:
        x = np.clip(x, -CLIP_INPUT, CLIP_INPUT)
        return x / np.sqrt(1.0 + np.square(x / self.max_abs))

    def get_config(self) -> dict:
        return {**super().get_config(), "max_abs": self.max_abs}


@register
class PeriodicEmbedding(keras.layers.Layer):
    """RealMLP's PBLD embedding of the numeric columns: (B, n) → (B, n·(d_out + 1)).

    Per feature j: h = cos(2π·x_j·w1_j + b1_j) with n_frequencies frequencies w1 ~ sigma·N(0, 1) and phases
    b1 ~ U(-π, π), then a per-feature linear e_j = h @ W2_j + b2_j (W2, b2 ~ U(±1/sqrt(n_frequencies))), no
    activation. The output is [e_1 … e_n, x_1 … x_n]: the raw value is kept beside its embedding ("densenet"), so
    the network can still use it linearly. RealMLP trains all four tensors at lr_factor 0.1.
    """

    def __init__(
        self,
        n_frequencies: int = 16,
        d_out: int = 3,
        sigma: float = 0.1,
        lr_factor: float = 1.0,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.n_frequencies, self.d_out, self.sigma = int(n_frequencies), int(d_out), float(sigma)
        self.lr_factor, self.seed = float(lr_factor), seed

    def build(self, input_shape):
        n, f, c = int(input_shape[-1]), self.n_frequencies, self.lr_factor
        bound = 1.0 / math.sqrt(f)
        uniform = keras.initializers.RandomUniform
        self.frequencies = self.add_weight(
            name="frequencies",
            shape=(n, f),
            initializer=_stored(keras.initializers.RandomNormal(0.0, self.sigma, seed=_seed(self.seed, 0)), c),
        )
        self.phases = self.add_weight(
            name="phases", shape=(n, f), initializer=_stored(uniform(-math.pi, math.pi, seed=_seed(self.seed, 1)), c)
        )
        self.kernel = self.add_weight(
            name="kernel", shape=(n, f, self.d_out), initializer=_stored(uniform(-bound, bound, _seed(self.seed, 2)), c)
        )
        self.bias = self.add_weight(
            name="bias", shape=(n, self.d_out), initializer=_stored(uniform(-bound, bound, _seed(self.seed, 3)), c)
        )

    def call(self, x):
        c, n = self.lr_factor, self.frequencies.shape[0]
        h = ops.cos(2.0 * math.pi * ops.expand_dims(x, -1) * (c * self.frequencies) + c * self.phases)
        e = ops.einsum("bnf,nfd->bnd", h, c * self.kernel) + c * self.bias
        return ops.concatenate([ops.reshape(e, (-1, n * self.d_out)), x], axis=-1)

    def numpy_call(self, x: np.ndarray) -> np.ndarray:
        c = self.lr_factor
        w1, b1, w2, b2 = (c * _np(v) for v in (self.frequencies, self.phases, self.kernel, self.bias))
        h = np.cos(2.0 * math.pi * x[..., None] * w1 + b1)
        e = np.einsum("bnf,nfd->bnd", h, w2) + b2
        return np.concatenate([e.reshape(len(x), -1), x], axis=-1)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "n_frequencies": self.n_frequencies,
            "d_out": self.d_out,
            "sigma": self.sigma,
            "lr_factor": self.lr_factor,
            "seed": self.seed,
        }


@register
class FrontScale(keras.layers.Layer):
    """One trainable scale per input feature, init 1: a cheap learned feature selection in front of the first
    dense layer. RealMLP trains it at lr_factor 6."""

    def __init__(self, lr_factor: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.lr_factor = float(lr_factor)

    def build(self, input_shape):
        self.scale = self.add_weight(
            name="scale", shape=(int(input_shape[-1]),), initializer=_stored("ones", self.lr_factor)
        )

    def call(self, x):
        return x * (self.lr_factor * self.scale)

    def numpy_call(self, x: np.ndarray) -> np.ndarray:
        return x * (self.lr_factor * _np(self.scale))

    def get_config(self) -> dict:
        return {**super().get_config(), "lr_factor": self.lr_factor}


@register
class NTKDense(keras.layers.Layer):
    """y = x @ W / sqrt(fan_in) + b with W ~ N(0, 1): the NTK parametrisation. The 1/sqrt(fan_in) factor lives in
    the forward pass, so Adam's fan-in-free steps on W move the output by the same amount whatever the width.

    The bias starts at 0; `init_from_data` then sets W's column scales and b from training rows (RealMLP's 'std'
    and 'he+5' inits). RealMLP trains the bias at lr_factor 0.1 (`bias_lr_factor`).
    """

    def __init__(
        self,
        units: int,
        bias_lr_factor: float = 1.0,
        seed: int | None = None,
        kernel_initializer: str = "normal",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units, self.bias_lr_factor, self.seed = int(units), float(bias_lr_factor), seed
        self.kernel_initializer = kernel_initializer  # "normal" (N(0, 1)), or "zeros" for a path that starts shut

    def build(self, input_shape):
        fan_in = int(input_shape[-1])
        init = "zeros" if self.kernel_initializer == "zeros" else keras.initializers.RandomNormal(0.0, 1.0, self.seed)
        self.kernel = self.add_weight(name="kernel", shape=(fan_in, self.units), initializer=init)
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")

    def call(self, x):
        return ops.matmul(x, self.kernel) * (1.0 / math.sqrt(self.kernel.shape[0])) + self.bias_lr_factor * self.bias

    def numpy_call(self, x: np.ndarray) -> np.ndarray:
        w = _np(self.kernel)
        return x @ w * (1.0 / math.sqrt(w.shape[0])) + self.bias_lr_factor * _np(self.bias)

    def init_from_data(self, h: np.ndarray, rng: np.random.Generator, n_rows: int = 5) -> np.ndarray:
        """RealMLP's data-dependent init on the rows h that reach this layer; returns this layer's output on h.

        1. Each column of W is divided by the std (ddof 0) of its pre-activation z = h @ W / sqrt(fan_in), so every
           unit starts with unit spread on the data (a unit whose z is constant keeps its scale).
        2. Each unit's bias is minus a random convex combination (Exp(1) weights, normalised) of its z on n_rows
           random rows, which puts the unit's kink inside the data rather than off to one side.
        """
        w = _np(self.kernel).astype("float64")
        h = np.asarray(h, dtype="float64")
        z = h @ w / math.sqrt(w.shape[0])
        std = z.std(axis=0)
        w /= np.where(std > 1e-12, std, 1.0)
        z = h @ w / math.sqrt(w.shape[0])
        rows = rng.integers(0, len(h), size=(self.units, n_rows))
        weights = rng.exponential(size=(self.units, n_rows))
        weights /= weights.sum(axis=1, keepdims=True)
        bias = -(weights * z[rows, np.arange(self.units)[:, None]]).sum(axis=1)
        self.set_weights([w.astype(self.kernel.dtype), (bias / self.bias_lr_factor).astype(self.bias.dtype)])
        return self.numpy_call(h)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "units": self.units,
            "bias_lr_factor": self.bias_lr_factor,
            "seed": self.seed,
            "kernel_initializer": self.kernel_initializer,
        }


def _selu(x, xp):
    return SELU_SCALE * xp.where(x > 0, x, SELU_ALPHA * xp.expm1(xp.minimum(x, 0.0)))


def parametric_np(kind: str, alpha: np.ndarray, x: np.ndarray) -> np.ndarray:
    """ParametricActivation in numpy, alpha with its lr_factor applied (tabflow.model.forward folds it in once)."""
    if kind == "selu":
        f = _selu(x, np)
    elif kind == "mish":
        f = x * np.tanh(np.logaddexp(0.0, x))
    else:
        f = np.maximum(x, 0.0)
    return x + alpha * (f - x)


@register
class ParametricActivation(keras.layers.Layer):
    """y = x + alpha ⊙ (f(x) - x), one alpha per unit, init 1 (so f at init). Each unit can learn how non-linear
    to be, down to the identity. f is "selu" (RealMLP, classification), "mish" (RealMLP, regression) or "relu"; the
    formulas are written out, so the numpy twin computes the same thing. RealMLP trains alpha at lr_factor 0.1."""

    def __init__(self, kind: str = "selu", lr_factor: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        if kind not in ACTIVATIONS:
            raise ValueError(f"activation kind must be one of {ACTIVATIONS}, not {kind!r}")
        self.kind, self.lr_factor = kind, float(lr_factor)

    def build(self, input_shape):
        self.alpha = self.add_weight(
            name="alpha", shape=(int(input_shape[-1]),), initializer=_stored("ones", self.lr_factor)
        )

    def _f(self, x):
        if self.kind == "selu":
            return _selu(x, ops)
        if self.kind == "mish":
            return x * ops.tanh(ops.logaddexp(ops.zeros_like(x), x))
        return ops.maximum(x, 0.0)

    def call(self, x):
        return x + (self.lr_factor * self.alpha) * (self._f(x) - x)

    def numpy_call(self, x: np.ndarray) -> np.ndarray:
        return parametric_np(self.kind, self.lr_factor * _np(self.alpha), x)

    def get_config(self) -> dict:
        return {**super().get_config(), "kind": self.kind, "lr_factor": self.lr_factor}


@register
class EnsembleView(keras.layers.Layer):
    """(B, D) → (B, k, D): the same row for each of the k members. A (B, k, D) input (each member fed its own
    batch) passes through unchanged, as in TabM."""

    def __init__(self, k: int, **kwargs):
        super().__init__(**kwargs)
        self.k = int(k)

    def call(self, x):
        if len(x.shape) == 3:
            return x
        return ops.repeat(ops.expand_dims(x, 1), self.k, axis=1)

    def numpy_call(self, x: np.ndarray) -> np.ndarray:
        return x if x.ndim == 3 else np.repeat(x[:, None, :], self.k, axis=1)

    def get_config(self) -> dict:
        return {**super().get_config(), "k": self.k}


@register
class BatchEnsembleDense(keras.layers.Layer):
    """TabM's LinearBatchEnsemble: (B, k, D) → (B, k, units), y = ((x ⊙ r) @ W) ⊙ s + b.

    W (D, units) ~ U(±1/sqrt(D)) is shared by the k members; each member has its own input scaling r (k, D),
    output scaling s (k, units, init 1) and bias (k, units), whose k rows start as one U(±1/sqrt(D)) vector. So
    k members cost little more than one. In a TabM only the first layer draws r at random ("random-signs" ±1, or
    "normal" when numbers are embedded); later layers use "ones", so at init the members differ only there and in
    the head. `chunks` (sizes summing to D, e.g. one per feature's representation) draws one value per chunk and
    member instead of one per input column.
    """

    def __init__(
        self,
        units: int,
        k: int,
        scaling_init: str = "ones",
        chunks: Sequence[int] | None = None,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if scaling_init not in SCALING_INITS:
            raise ValueError(f"scaling_init must be one of {SCALING_INITS}, not {scaling_init!r}")
        self.units, self.k, self.scaling_init, self.seed = int(units), int(k), scaling_init, seed
        self.chunks = None if chunks is None else [int(c) for c in chunks]

    def build(self, input_shape):
        d = int(input_shape[-1])
        if self.chunks is not None and sum(self.chunks) != d:
            raise ValueError(f"chunks sum to {sum(self.chunks)}, but the input has {d} columns")
        bound = 1.0 / math.sqrt(d)
        self.kernel = self.add_weight(
            name="kernel",
            shape=(d, self.units),
            initializer=keras.initializers.RandomUniform(-bound, bound, _seed(self.seed, 0)),
        )
        self.r = self.add_weight(name="r", shape=(self.k, d), initializer=self._scaling)
        self.s = self.add_weight(name="s", shape=(self.k, self.units), initializer="ones")

        def same_bias_per_member(shape, dtype=None):
            row = keras.random.uniform((1, shape[1]), -bound, bound, dtype=dtype, seed=_seed(self.seed, 2))
            return ops.tile(row, (shape[0], 1))

        self.bias = self.add_weight(name="bias", shape=(self.k, self.units), initializer=same_bias_per_member)

    def _scaling(self, shape, dtype=None):
        if self.scaling_init == "ones":
            return ops.ones(shape, dtype=dtype)
        n = shape[1] if self.chunks is None else len(self.chunks)
        seed = _seed(self.seed, 1)
        if self.scaling_init == "normal":
            values = keras.random.normal((shape[0], n), dtype=dtype, seed=seed)
        else:
            values = 2.0 * ops.cast(keras.random.uniform((shape[0], n), seed=seed) < 0.5, dtype or "float32") - 1.0
        return values if self.chunks is None else ops.repeat(values, self.chunks, axis=1)

    def call(self, x):
        return ops.matmul(x * self.r, self.kernel) * self.s + self.bias

    def numpy_call(self, x: np.ndarray) -> np.ndarray:
        return ((x * _np(self.r)) @ _np(self.kernel)) * _np(self.s) + _np(self.bias)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "units": self.units,
            "k": self.k,
            "scaling_init": self.scaling_init,
            "chunks": self.chunks,
            "seed": self.seed,
        }


@register
class EnsembleHead(keras.layers.Layer):
    """TabM's LinearEnsemble, the output head: k independent linears, (B, k, D) → (B, k, units). W (k, D, units)
    and b (k, units) are drawn U(±1/sqrt(D)) for each member separately, so the members' outputs differ from the
    start even where the backbone's do not."""

    def __init__(self, units: int, k: int, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.units, self.k, self.seed = int(units), int(k), seed

    def build(self, input_shape):
        d = int(input_shape[-1])
        bound = 1.0 / math.sqrt(d)
        uniform = keras.initializers.RandomUniform
        self.kernel = self.add_weight(
            name="kernel", shape=(self.k, d, self.units), initializer=uniform(-bound, bound, _seed(self.seed, 0))
        )
        self.bias = self.add_weight(
            name="bias", shape=(self.k, self.units), initializer=uniform(-bound, bound, _seed(self.seed, 1))
        )

    def call(self, x):
        return ops.einsum("bkd,kdu->bku", x, self.kernel) + self.bias

    def numpy_call(self, x: np.ndarray) -> np.ndarray:
        return np.einsum("bkd,kdu->bku", x, _np(self.kernel)) + _np(self.bias)

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "k": self.k, "seed": self.seed}


def sigmoid_np(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow for large |x|, unlike 1 / (1 + exp(-x))


def softmax_np(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@register
class EnsembleMean(keras.layers.Layer):
    """The serving output of k members' raw outputs (B, k, C). TabM averages probabilities, not logits: "binary"
    (C = 1 logit each) → mean sigmoid (B, 1); "multiclass" → mean softmax (B, C); "regression" → mean (B, C).
    Training scores each member's own output instead: the mean of the members' losses, not the loss of the mean."""

    def __init__(self, task: str, **kwargs):
        super().__init__(**kwargs)
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, not {task!r}")
        self.task = task

    def call(self, x):
        if self.task == "binary":
            x = ops.sigmoid(x)
        elif self.task == "multiclass":
            x = ops.softmax(x, axis=-1)
        return ops.mean(x, axis=1)

    def numpy_call(self, x: np.ndarray) -> np.ndarray:
        if self.task == "binary":
            x = sigmoid_np(x)
        elif self.task == "multiclass":
            x = softmax_np(x)
        return x.mean(axis=1)

    def get_config(self) -> dict:
        return {**super().get_config(), "task": self.task}


@register
class CosLog(keras.optimizers.schedules.LearningRateSchedule):
    """RealMLP's `coslog4`: lr(t) = base_lr · ½(1 - cos(2π·log2(1 + (2^n - 1)·t))), t = step / total_steps in
    [0, 1]. n = 4 cycles, each twice as long as the one before; 0 at the first step, at each cycle's end and at
    t = 1, peaking at base_lr first near t = 0.028. `total_steps` counts optimiser updates of the whole fit."""

    def __init__(self, base_lr: float, total_steps: int, n_cycles: int = 4):
        self.base_lr, self.total_steps, self.n_cycles = float(base_lr), max(1, int(total_steps)), int(n_cycles)

    def __call__(self, step):
        t = ops.clip(ops.cast(step, "float32") / float(self.total_steps), 0.0, 1.0)
        cycles = ops.log2(1.0 + (2.0**self.n_cycles - 1.0) * t)
        return self.base_lr * 0.5 * (1.0 - ops.cos(2.0 * math.pi * cycles))

    def get_config(self) -> dict:
        return {"base_lr": self.base_lr, "total_steps": self.total_steps, "n_cycles": self.n_cycles}


def _leaf_layers(model) -> Iterator[Any]:
    for layer in model.layers:
        if hasattr(layer, "layers"):  # a nested model
            yield from _leaf_layers(layer)
        else:
            yield layer


_NO_DECAY_LAYERS = (PeriodicEmbedding, FrontScale, ParametricActivation, keras.layers.Embedding)


def no_decay_variables(model) -> list:
    """The variables AdamW must leave alone, for `optimizer.exclude_from_weight_decay(var_list=...)` (one call,
    before the optimiser is built): every bias, and all of FrontScale, PeriodicEmbedding, ParametricActivation and
    Embedding. Decaying these pulls them towards 0, which is not "simpler": a scale or alpha of 0 switches a
    feature or a non-linearity off. Kernels and BatchEnsemble's r and s are decayed, as in TabM."""
    picked: dict[int, Any] = {}
    for layer in _leaf_layers(model):
        if isinstance(layer, _NO_DECAY_LAYERS):
            chosen = list(layer.trainable_variables)
        else:
            bias = getattr(layer, "bias", None)
            chosen = [bias] if isinstance(bias, keras.Variable) and bias.trainable else []
        picked.update((id(v), v) for v in chosen)
    return list(picked.values())


def data_init(layers: Sequence[Any], x: np.ndarray, seed: int = 0, max_rows: int = 10_000) -> np.ndarray:
    """RealMLP's data-dependent init of a stack of built layers, in order, on (a subsample of) the training rows x
    as they reach the first of them. Each NTKDense is initialised on what reaches it (`NTKDense.init_from_data`);
    the other layers pass the rows on through their numpy twins, Dropout as the identity. Returns the last output."""
    rng = np.random.default_rng(seed)
    h = np.asarray(x, dtype="float64")
    if len(h) > max_rows:
        h = h[rng.choice(len(h), max_rows, replace=False)]
    for layer in layers:
        if isinstance(layer, NTKDense):
            h = layer.init_from_data(h, rng)
        elif hasattr(layer, "numpy_call"):
            h = layer.numpy_call(h)
        elif not isinstance(layer, keras.layers.Dropout):
            raise TypeError(f"data_init cannot pass rows through {type(layer).__name__} ({layer.name})")
    return h
