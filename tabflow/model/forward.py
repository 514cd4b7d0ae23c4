"""The served network's forward pass in numpy, for small requests: a single row through TensorFlow pays its
per-op dispatch on every layer of every fold network, which numpy does not (benchmarks/RESULTS.md, section 6).

It is built from the network's own layers and their numpy twins (tabflow.model.layers), by the names
tabflow.model.network gives them; anything else (a batch ensemble, an older model) has no numpy pass, and serving
stays on TensorFlow. `checked` compares it with the Keras model before it is used."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tabflow.features.preprocessor import Layout
from tabflow.model.layers import sigmoid_np, softmax_np

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


class NumpyForward:
    """The served model's output in numpy: the mean over its fold networks' passes (or the one network's)."""

    def __init__(self, passes: list[Forward]):
        self.passes = passes

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if len(self.passes) == 1:
            return self.passes[0](x)
        return np.mean([p(x) for p in self.passes], axis=0)


def numpy_forward(model, layout: Layout) -> NumpyForward | None:
    """The served model's forward pass in numpy, or None when one of its layers has no twin."""
    nets = [layer for layer in model.layers if hasattr(layer, "layers")] or [model]
    passes = [_network(net, layout) for net in nets]
    ready = [p for p in passes if p is not None]
    return NumpyForward(ready) if len(ready) == len(passes) else None


def checked(fast: Forward, keras_forward: Forward, x: np.ndarray, tolerance: float = 1e-4) -> bool:
    """Whether the numpy pass gives the Keras model's output on these rows."""
    try:
        ours = np.asarray(fast(x), dtype="float64")
    except Exception:  # a model whose numpy pass fails is served by TensorFlow
        return False
    theirs = np.asarray(keras_forward(x), dtype="float64")
    return ours.shape == theirs.shape and bool(np.allclose(ours, theirs, rtol=tolerance, atol=tolerance))


class Frozen:
    """A layer's numpy twin with its weights read once: reading a variable into numpy on every call cost more
    than the arithmetic of a single row."""

    def __init__(self, layer):
        import keras

        self._layer = layer
        self._arrays = {k: np.asarray(v) for k, v in vars(layer).items() if isinstance(v, keras.Variable)}

    def __getattr__(self, name: str):
        arrays = self.__dict__["_arrays"]
        return arrays[name] if name in arrays else getattr(self.__dict__["_layer"], name)

    def numpy_call(self, x: np.ndarray) -> np.ndarray:
        return type(self._layer).numpy_call(self, x)


def _network(net, layout: Layout) -> Forward | None:
    if any(type(layer).__name__ not in SUPPORTED for layer in net.layers):
        return None
    named = {layer.name: Frozen(layer) if hasattr(layer, "numpy_call") else layer for layer in net.layers}
    depth = sum(name.startswith("dense_") for name in named)
    if "out" not in named or any(f"dense_{i}" not in named or f"act_{i}" not in named for i in range(depth)):
        return None
    periodic, front, skip = named.get("periodic"), named.get("front_scale"), named.get("skip")
    hidden = [(named[f"dense_{i}"], named[f"act_{i}"]) for i in range(depth)]
    out, rescale = named["out"], named.get("prediction")
    final = named["probability"].get_config()["activation"] if "probability" in named else None
    if final not in (None, "sigmoid", "softmax"):
        return None
    table = np.asarray(named["embedding"].embeddings.numpy()) if "embedding" in named else None
    n_hot = sum(layout.one_hot)

    def forward(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype="float32")
        parts, start = [], layout.dense
        if layout.dense:
            dense = x[:, : layout.dense]
            parts.append(periodic.numpy_call(dense) if periodic is not None else dense)
        if layout.one_hot:
            codes = x[:, start : start + len(layout.one_hot)].astype(np.int64)
            hot = np.zeros((len(x), n_hot), dtype="float32")
            np.put_along_axis(hot, codes, 1.0, axis=1)
            parts.append(hot)
            start += len(layout.one_hot)
        if table is not None:
            parts.append(table[x[:, start:].astype(np.int64)].reshape(len(x), -1))
        encoded = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
        h = front.numpy_call(encoded) if front is not None else encoded
        for dense_layer, activation in hidden:
            h = activation.numpy_call(dense_layer.numpy_call(h))
        h = out.numpy_call(h)
        if skip is not None:
            h = h + skip.numpy_call(encoded)
        if final == "sigmoid":
            h = sigmoid_np(h)
        elif final == "softmax":
            h = softmax_np(h)
        if rescale is not None:
            h = h * np.float32(rescale.scale) + np.float32(rescale.offset)
        return h

    return forward
