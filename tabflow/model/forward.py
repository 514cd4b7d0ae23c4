"""The served network's forward pass in numpy, for small requests: a single row through TensorFlow pays its
per-op dispatch on every layer of every fold network, which numpy does not (benchmarks/RESULTS.md, section 6).

Each network's weights are read once into a plan, its constant factors folded in (the NTK 1/sqrt(fan_in), the
lr_factors, the front scale) and the skip path set beside the first layer, so a pass is one matmul per layer.
Fold networks of one shape are stacked along a leading axis and computed together: a single row costs numpy's
per-call overhead once per layer, not once per layer and fold. The networks are found by the layer names
tabflow.model.network gives them; anything else (a batch ensemble, an older model) has no numpy pass, and
serving stays on TensorFlow. `checked` compares the pass with the Keras model before it is used."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tabflow.features.preprocessor import Layout
from tabflow.model.layers import parametric_np, sigmoid_np, softmax_np

Forward = Callable[[np.ndarray], np.ndarray]

SUPPORTED = frozenset(
    {
        "InputLayer",
        "PeriodicEmbedding",
        "CategoryEncoding",
        "Embedding",
        "Flatten",
        "Concatenate",
        "FrontScale",
        "NTKDense",
        "ParametricActivation",
        "Dropout",
        "Add",
        "Activation",
        "Rescaling",
    }
)


@dataclass(frozen=True)
class Plan:
    """One network's arithmetic (or k stacked networks', along a leading axis of every array)."""

    periodic: tuple[np.ndarray, ...]  # w1, b1, w2, b2: cos(x * w1 + b1) @ w2 + b2 per number; () when off
    table: tuple[np.ndarray, ...]  # the embedded columns' shared table; () when there are none
    dense: tuple[tuple[np.ndarray, np.ndarray], ...]  # (W, b) per layer; the first also holds the skip columns
    kinds: tuple[str, ...]  # the activation after each layer but the last
    alphas: tuple[np.ndarray, ...]
    units: int  # the stack's columns of the first layer's output (the rest are the skip path's)
    final: str | None  # "sigmoid", "softmax" or None
    rescale: tuple[np.ndarray, ...]  # regression: scale and offset; () otherwise

    def key(self) -> tuple:
        shapes = [a.shape for a in (*self.periodic, *self.table)] + [w.shape for w, _ in self.dense]
        return (
            tuple(shapes),
            len(self.periodic),
            len(self.table),
            self.kinds,
            self.units,
            self.final,
            self.rescale != (),
        )


class NumpyForward:
    """The served model's output in numpy: the mean over its fold networks (or the one network's output)."""

    def __init__(self, plans: list[Plan], layout: Layout):
        groups: dict[tuple, list[Plan]] = {}
        for plan in plans:
            groups.setdefault(plan.key(), []).append(plan)
        self.groups = [_stack(group) for group in groups.values()]
        self.count, self.layout = len(plans), layout

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype="float32")
        hot = _one_hot(x, self.layout)
        total = sum(_run(plan, x, hot, self.layout).sum(axis=0) for plan in self.groups)
        return total / np.float32(self.count) if self.count > 1 else total


def numpy_forward(model, layout: Layout) -> NumpyForward | None:
    """The served model's forward pass in numpy, or None when one of its layers has no twin."""
    nets = [layer for layer in model.layers if hasattr(layer, "layers")] or [model]
    plans = [_plan(net) for net in nets]
    ready = [p for p in plans if p is not None]
    return NumpyForward(ready, layout) if ready and len(ready) == len(plans) else None


def checked(fast: Forward, keras_forward: Forward, x: np.ndarray, tolerance: float = 1e-4) -> bool:
    """Whether the numpy pass gives the Keras model's output on these rows."""
    try:
        ours = np.asarray(fast(x), dtype="float64")
    except Exception:  # a model whose numpy pass fails is served by TensorFlow
        return False
    theirs = np.asarray(keras_forward(x), dtype="float64")
    return ours.shape == theirs.shape and bool(np.allclose(ours, theirs, rtol=tolerance, atol=tolerance))


def _plan(net) -> Plan | None:
    if any(type(layer).__name__ not in SUPPORTED for layer in net.layers):
        return None
    named = {layer.name: layer for layer in net.layers}
    depth = sum(name.startswith("dense_") for name in named)
    if "out" not in named or any(f"dense_{i}" not in named or f"act_{i}" not in named for i in range(depth)):
        return None
    final = named["probability"].get_config()["activation"] if "probability" in named else None
    if final not in (None, "sigmoid", "softmax"):
        return None
    dense = [_ntk(named[f"dense_{i}"]) for i in range(depth)] + [_ntk(named["out"])]
    if "front_scale" in named:  # (x * s) @ W = x @ (s[:, None] * W)
        front = named["front_scale"]
        dense[0] = (front.lr_factor * _array(front.scale))[:, None] * dense[0][0], dense[0][1]
    units = dense[0][0].shape[1]
    if "skip" in named:  # from the encoded inputs, as the first layer: one matmul for both
        w, b = _ntk(named["skip"])
        dense[0] = np.concatenate([dense[0][0], w], axis=1), np.concatenate([dense[0][1], b])
    periodic: tuple[np.ndarray, ...] = ()
    if "periodic" in named:
        layer = named["periodic"]
        c = layer.lr_factor
        periodic = (2.0 * math.pi * c * _array(layer.frequencies), c * _array(layer.phases))
        periodic += (c * _array(layer.kernel), c * _array(layer.bias))
    acts = [named[f"act_{i}"] for i in range(depth)]
    rescale = named.get("prediction")
    return Plan(
        periodic=tuple(a.astype("float32") for a in periodic),
        table=(_array(named["embedding"].embeddings).astype("float32"),) if "embedding" in named else (),
        dense=tuple((w.astype("float32"), b.astype("float32")) for w, b in dense),
        kinds=tuple(a.kind for a in acts),
        alphas=tuple((a.lr_factor * _array(a.alpha)).astype("float32") for a in acts),
        units=units,
        final=final,
        rescale=(np.array(rescale.scale, "float32"), np.array(rescale.offset, "float32"))
        if rescale is not None
        else (),
    )


def _ntk(layer) -> tuple[np.ndarray, np.ndarray]:
    w = _array(layer.kernel)
    return w / math.sqrt(w.shape[0]), layer.bias_lr_factor * _array(layer.bias)


def _array(variable) -> np.ndarray:
    return np.asarray(variable, dtype="float64")


def _stack(plans: list[Plan]) -> Plan:
    """Plans of one shape as one, every array with a leading axis of len(plans)."""
    stack = np.stack
    first = plans[0]
    return Plan(
        periodic=tuple(stack([p.periodic[i] for p in plans]) for i in range(len(first.periodic))),
        table=tuple(stack([p.table[i] for p in plans]) for i in range(len(first.table))),
        dense=tuple(
            (stack([p.dense[i][0] for p in plans]), stack([p.dense[i][1] for p in plans])[:, None, :])
            for i in range(len(first.dense))
        ),
        kinds=first.kinds,
        alphas=tuple(stack([p.alphas[i] for p in plans])[:, None, :] for i in range(len(first.alphas))),
        units=first.units,
        final=first.final,
        rescale=tuple(stack([p.rescale[i] for p in plans]).reshape(-1, 1, 1) for i in range(len(first.rescale))),
    )


def _one_hot(x: np.ndarray, layout: Layout) -> np.ndarray | None:
    if not layout.one_hot:
        return None
    codes = x[:, layout.dense : layout.dense + len(layout.one_hot)].astype(np.int64)
    hot = np.zeros((len(x), sum(layout.one_hot)), dtype="float32")
    np.put_along_axis(hot, codes, 1.0, axis=1)
    return hot


def _run(plan: Plan, x: np.ndarray, hot: np.ndarray | None, layout: Layout) -> np.ndarray:
    """The stacked networks' outputs, (k, rows, units)."""
    k, rows = plan.dense[0][0].shape[0], len(x)
    parts = []
    if layout.dense:
        numbers = x[:, : layout.dense]
        if plan.periodic:
            w1, b1, w2, b2 = plan.periodic  # (k, n, f), (k, n, f), (k, n, f, d), (k, n, d)
            h = np.cos(numbers[None, :, :, None] * w1[:, None] + b1[:, None])  # (k, rows, n, f)
            e = np.matmul(h.transpose(0, 2, 1, 3), w2) + b2[:, :, None, :]  # (k, n, rows, d)
            parts.append(e.transpose(0, 2, 1, 3).reshape(k, rows, -1))
        parts.append(np.broadcast_to(numbers, (k, *numbers.shape)))
    if hot is not None:
        parts.append(np.broadcast_to(hot, (k, *hot.shape)))
    if plan.table:
        codes = x[:, layout.dense + len(layout.one_hot) :].astype(np.int64)
        parts.append(plan.table[0][:, codes].reshape(k, rows, -1))
    h = np.concatenate(parts, axis=-1) if len(parts) > 1 else parts[0]
    (w, b), *rest = plan.dense
    h = np.matmul(h, w) + b
    h, linear = h[..., : plan.units], h[..., plan.units :]
    for (w, b), kind, alpha in zip(rest, plan.kinds, plan.alphas, strict=True):
        h = np.matmul(parametric_np(kind, alpha, h), w) + b
    if linear.shape[-1]:
        h = h + linear
    if plan.final == "sigmoid":
        h = sigmoid_np(h)
    elif plan.final == "softmax":
        h = softmax_np(h)
    if plan.rescale:
        scale, offset = plan.rescale
        h = h * scale + offset
    return h
