"""The RealMLP and TabM layers: each numpy twin computes what Keras computes, the inits the two papers' code
prescribes, the data-dependent init, the schedule, the weight-decay exclusions, and a model of all of them saved
and loaded back in a fresh process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from tabflow.model.layers import (
    BatchEnsembleDense,
    CosLog,
    EnsembleHead,
    EnsembleMean,
    EnsembleView,
    FrontScale,
    NTKDense,
    ParametricActivation,
    PeriodicEmbedding,
    SmoothClip,
    data_init,
    no_decay_variables,
)

ROOT = Path(__file__).resolve().parents[3]

CASES = {  # layer, input shape, output shape
    "smooth_clip": (lambda: SmoothClip(), (5, 4), (5, 4)),
    "periodic": (lambda: PeriodicEmbedding(seed=0), (5, 4), (5, 16)),
    "periodic_lr_factor": (lambda: PeriodicEmbedding(8, 2, lr_factor=0.1, seed=1), (5, 3), (5, 9)),
    "front_scale": (lambda: FrontScale(lr_factor=6.0), (5, 4), (5, 4)),
    "ntk_dense": (lambda: NTKDense(6, bias_lr_factor=0.1, seed=0), (5, 4), (5, 6)),
    "selu": (lambda: ParametricActivation("selu", lr_factor=0.1), (5, 6), (5, 6)),
    "mish": (lambda: ParametricActivation("mish"), (5, 6), (5, 6)),
    "relu_members": (lambda: ParametricActivation("relu"), (5, 3, 6), (5, 3, 6)),
    "view": (lambda: EnsembleView(3), (5, 4), (5, 3, 4)),
    "batch_ensemble": (lambda: BatchEnsembleDense(6, 3, "random-signs", seed=0), (5, 3, 4), (5, 3, 6)),
    "batch_ensemble_chunks": (lambda: BatchEnsembleDense(6, 3, "normal", chunks=[1, 3]), (5, 3, 4), (5, 3, 6)),
    "head": (lambda: EnsembleHead(2, 3, seed=0), (5, 3, 4), (5, 3, 2)),
    "mean_binary": (lambda: EnsembleMean("binary"), (5, 3, 1), (5, 1)),
    "mean_multiclass": (lambda: EnsembleMean("multiclass"), (5, 3, 4), (5, 4)),
    "mean_regression": (lambda: EnsembleMean("regression"), (5, 3, 1), (5, 1)),
}


@pytest.mark.parametrize("case", CASES)
def test_numpy_twin_computes_the_keras_output(case):
    make, in_shape, out_shape = CASES[case]
    rng = np.random.default_rng(0)
    x = (3 * rng.normal(size=in_shape)).astype("float32")  # reaches the clip, SELU's and ReLU's both sides
    layer = make()
    layer(x)
    # Perturbed weights: a transposed or misplaced weight would hide behind an init of ones or of equal rows.
    layer.set_weights([w + rng.normal(scale=0.5, size=w.shape).astype(w.dtype) for w in layer.get_weights()])
    expected = np.asarray(layer(x, training=False))
    got = layer.numpy_call(x)
    assert expected.shape == out_shape, f"{case}: output shape {expected.shape}, expected {out_shape}"
    assert got.shape == out_shape, f"{case}: numpy output shape {got.shape}, expected {out_shape}"
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5, err_msg=f"{case}: numpy twin != Keras")


def test_smooth_clip_is_near_identity_at_zero_and_bounded_by_three():
    x = np.array([[-1e6, -3.0, 0.0, 0.1, 3.0, 1e6]], dtype="float32")
    y = np.asarray(SmoothClip()(x))
    np.testing.assert_allclose(y[0, 1:5], [-3 / np.sqrt(2), 0.0, 0.1 / np.sqrt(1 + 0.01 / 9), 3 / np.sqrt(2)], 1e-6)
    assert np.all(np.abs(y) <= 3.0) and abs(y[0, -1] - 3.0) < 1e-4, "x / sqrt(1 + (x/3)^2) tends to ±3"
    huge = np.array([[1e20, -1e30, 3e38]], dtype="float32")  # (x/3)^2 overflows float32 here: x / inf was 0
    for got in (np.asarray(SmoothClip()(huge)), SmoothClip().numpy_call(huge)):
        np.testing.assert_allclose(got, [[3.0, -3.0, 3.0]], rtol=1e-6, err_msg="huge values clip to ±3, not 0")


def test_periodic_embedding_init_and_layout():
    n, f, sigma = 40, 16, 0.1
    x = np.random.default_rng(1).normal(size=(7, n)).astype("float32")
    layer = PeriodicEmbedding(f, 3, sigma, seed=0)
    out = np.asarray(layer(x))
    assert out.shape == (7, 4 * n) and np.array_equal(out[:, -n:], x), "the raw values follow the n·3 embeddings"
    assert 0.8 * sigma < layer.frequencies.numpy().std() < 1.2 * sigma, "frequencies ~ sigma·N(0, 1)"
    assert np.abs(layer.phases.numpy()).max() <= np.pi and layer.phases.numpy().std() > 1.5, "phases ~ U(-π, π)"
    for w in (layer.kernel.numpy(), layer.bias.numpy()):
        assert np.abs(w).max() <= 0.25 and w.std() > 0.1, "the per-feature linear ~ U(±1/sqrt(16))"
    scaled = PeriodicEmbedding(f, 3, sigma, lr_factor=0.1, seed=0)
    scaled(x)
    np.testing.assert_allclose(
        0.1 * scaled.frequencies.numpy(), layer.frequencies.numpy(), rtol=1e-6, err_msg="lr_factor keeps the init"
    )


@pytest.mark.parametrize("factor", [1.0, 6.0])
def test_lr_factor_multiplies_the_first_adam_step(factor):
    layer = FrontScale(lr_factor=factor)
    x = np.ones((2, 3), dtype="float32")
    layer(x)
    np.testing.assert_allclose(factor * layer.scale.numpy(), 1.0, rtol=1e-6, err_msg="the scale starts at 1")
    with tf.GradientTape() as tape:
        loss = keras.ops.sum(layer(x))
    grads = tape.gradient(loss, layer.trainable_variables)
    keras.optimizers.Adam(0.01).apply_gradients(zip(grads, layer.trainable_variables, strict=True))
    np.testing.assert_allclose(
        factor * layer.scale.numpy(), 1.0 - 0.01 * factor, rtol=1e-4, err_msg="Adam's first step is lr·factor"
    )


def test_parametric_activation_starts_as_its_function_and_can_become_the_identity():
    x = np.linspace(-6, 6, 25, dtype="float32").reshape(5, 5)
    for kind, f in [("selu", keras.activations.selu), ("mish", keras.activations.mish), ("relu", keras.ops.relu)]:
        layer = ParametricActivation(kind)
        np.testing.assert_allclose(layer(x), f(x), rtol=1e-5, atol=1e-6, err_msg=f"alpha = 1 at init gives {kind}")
        layer.set_weights([np.zeros(5, dtype="float32")])
        np.testing.assert_allclose(layer(x), x, atol=1e-7, err_msg=f"{kind} with alpha = 0 is the identity")
    with pytest.raises(ValueError, match="activation kind"):
        ParametricActivation("gelu")


def test_ensemble_view_copies_rows_and_passes_member_batches_through():
    x = np.arange(6, dtype="float32").reshape(2, 3)
    view = EnsembleView(4)
    out = np.asarray(view(x))
    assert out.shape == (2, 4, 3) and all(np.array_equal(out[:, i], x) for i in range(4)), "k copies of each row"
    members = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    assert np.array_equal(np.asarray(view(members)), members), "a (B, k, D) input is already one batch per member"


def test_batch_ensemble_init_follows_tabm():
    d, k, units = 8, 4, 5
    x = np.ones((2, k, d), dtype="float32")
    signs = BatchEnsembleDense(units, k, "random-signs", seed=3)
    signs(x)
    r, bias = signs.r.numpy(), signs.bias.numpy()
    assert set(np.unique(r)) == {-1.0, 1.0}, "random-signs draws r from ±1, both signs present"
    assert np.array_equal(signs.s.numpy(), np.ones((k, units))), "s starts at 1"
    assert np.all(bias == bias[0]) and np.ptp(bias[0]) > 0, "the k bias rows start as one random vector"
    bound = 1 / np.sqrt(d)
    assert np.abs(signs.kernel.numpy()).max() <= bound and np.abs(bias).max() <= bound, "U(±1/sqrt(D)) inits"

    later = BatchEnsembleDense(units, k)
    later(x)
    assert np.array_equal(later.r.numpy(), np.ones((k, d))), "layers after the first start with r = 1"
    out = np.asarray(later(x))
    assert np.allclose(out, out[:, :1]), "with r = s = 1 and equal biases every member computes the same thing"

    chunked = BatchEnsembleDense(units, k, "normal", chunks=[2, 6], seed=0)
    chunked(x)
    r = chunked.r.numpy()
    assert np.all(r[:, :2] == r[:, :1]) and np.all(r[:, 2:] == r[:, 2:3]), "one value per chunk and member"
    assert np.ptp(r[:, 0]) > 0 and not np.allclose(r, 1), "chunks are drawn, per member"
    with pytest.raises(ValueError, match="chunks sum to 7"):
        BatchEnsembleDense(units, k, "normal", chunks=[1, 6])(x)


def test_ensemble_head_members_start_different():
    k, d = 3, 6
    head = EnsembleHead(2, k, seed=0)
    out = np.asarray(head(np.ones((4, k, d), dtype="float32")))
    w, b = head.kernel.numpy(), head.bias.numpy()
    assert not np.allclose(w[0], w[1]) and not np.allclose(b[0], b[1]), "each member draws its own W and b"
    assert not np.allclose(out[:, 0], out[:, 1]), "so the same input gives different member outputs"
    assert np.abs(w).max() <= 1 / np.sqrt(d), "U(±1/sqrt(D))"


def test_ensemble_mean_averages_probabilities_not_logits():
    binary = np.array([[[4.0], [0.0]]], dtype="float32")  # members say p = .982 and .5
    p = np.asarray(EnsembleMean("binary")(binary))
    sigmoid = 1 / (1 + np.exp(-np.array([4.0, 0.0])))
    assert p.shape == (1, 1) and abs(p[0, 0] - sigmoid.mean()) < 1e-6, "the mean of the members' sigmoids"
    logits = np.random.default_rng(0).normal(size=(3, 5, 4)).astype("float32")
    probs = np.asarray(EnsembleMean("multiclass")(logits))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6, err_msg="mean probabilities still sum to 1")
    softmax = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(probs, softmax.mean(axis=1), rtol=1e-5, err_msg="the mean of the members' softmaxes")
    np.testing.assert_allclose(EnsembleMean("regression")(logits[..., :1]), logits[..., :1].mean(axis=1), rtol=1e-6)
    with pytest.raises(ValueError, match="task must be"):
        EnsembleMean("ranking")


def test_data_init_gives_unit_spread_and_kinks_inside_the_data():
    rng = np.random.default_rng(0)
    x = rng.lognormal(size=(300, 5)).astype("float32")  # skewed, off-centre: a plain N(0, 1) init is far off
    first, second = NTKDense(16, bias_lr_factor=0.1, seed=0), NTKDense(8, seed=1)
    act = ParametricActivation("selu")
    layers = [first, act, keras.layers.Dropout(0.5), second]
    h = x
    for layer in layers:
        h = layer(h)
    out = data_init(layers, x, seed=0)
    for name, z in [("first", np.asarray(first(x))), ("second", np.asarray(second(act(first(x)))))]:
        np.testing.assert_allclose(z.std(axis=0), 1.0, atol=1e-4, err_msg=f"{name} layer: unit std per unit")
        assert np.all(z.min(axis=0) <= 0) and np.all(z.max(axis=0) >= 0), f"{name} layer: each kink inside the data"
    np.testing.assert_allclose(out, np.asarray(second(act(first(x)))), rtol=1e-4, atol=1e-4, err_msg="last output")
    with pytest.raises(TypeError, match="cannot pass rows through BatchNormalization"):
        data_init([keras.layers.BatchNormalization()], x)


def test_cos_log_schedule():
    schedule = CosLog(0.04, 1000)
    lr = np.asarray(schedule(np.arange(0, 1201)))
    assert lr[0] == 0.0, "the first step has lr 0"
    assert abs(np.argmax(lr[:100]) / 1000 - 0.028) < 0.002, "the first peak is near t = 0.028"
    assert abs(lr.max() - 0.04) < 1e-4 and lr.min() >= 0, "it peaks at the base lr and never goes negative"
    assert np.all(np.abs(lr[1000:]) < 1e-7), "0 at t = 1 and after it"
    assert abs(lr[round(1000 / 15)]) < 1e-5, "0 at the end of the first cycle, t = 1/15"
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert isinstance(again, CosLog) and again.get_config() == schedule.get_config(), "serializable"


def tiny_model() -> keras.Model:
    """Four numeric columns and two category codes (< 5) through every layer, ending in three members' mean."""
    inputs = keras.Input(shape=(6,), name="features")
    numbers = PeriodicEmbedding(seed=0, name="pbld")(SmoothClip(name="clip")(inputs[:, :4]))
    codes = keras.ops.cast(inputs[:, 4:], "int32")
    embedded = keras.layers.Flatten()(keras.layers.Embedding(5, 2, name="embedding")(codes))
    x = FrontScale(lr_factor=6.0, name="scale")(keras.layers.Concatenate()([numbers, embedded]))
    x = ParametricActivation("selu", 0.1, name="act0")(NTKDense(8, 0.1, seed=1, name="dense0")(x))
    x = keras.layers.Dropout(0.1)(x)
    x = ParametricActivation("mish", name="act1")(NTKDense(8, seed=2, name="dense1")(x))
    x = EnsembleView(3, name="view")(x)
    x = ParametricActivation("relu", name="act2")(BatchEnsembleDense(8, 3, "random-signs", seed=3, name="be0")(x))
    x = BatchEnsembleDense(8, 3, name="be1")(x)
    out = EnsembleMean("multiclass", name="mean")(EnsembleHead(4, 3, seed=4, name="head")(x))
    return keras.Model(inputs, out)


def sample_rows(n: int = 7) -> np.ndarray:
    rng = np.random.default_rng(5)
    return np.hstack([rng.normal(size=(n, 4)), rng.integers(0, 5, size=(n, 2))]).astype("float32")


LOAD_AND_PREDICT = """
import json, sys
import keras, numpy as np
import tabflow.model.layers  # registers the classes: Keras imports no module outside its own from a saved config
model = keras.saving.load_model(sys.argv[1], compile=False)
np.save(sys.argv[3], np.asarray(model(np.load(sys.argv[2]), training=False)))
print(json.dumps(sorted({type(layer).__module__ for layer in model.layers if "tabflow" in type(layer).__module__})))
"""


def test_model_of_every_layer_reloads_in_a_fresh_process(tmp_path):
    model, x = tiny_model(), sample_rows()
    expected = np.asarray(model(x, training=False))
    assert expected.shape == (7, 4) and np.allclose(expected.sum(axis=1), 1, atol=1e-5), "mean class probabilities"
    model.save(tmp_path / "model.keras")
    np.save(tmp_path / "x.npy", x)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-c", LOAD_AND_PREDICT, *(str(tmp_path / f) for f in ("model.keras", "x.npy", "y.npy"))],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"a fresh process loads the saved model:\n{done.stderr}"
    assert json.loads(done.stdout.splitlines()[-1]) == ["tabflow.model.layers"], "the layers come back as tabflow's"
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, rtol=1e-6, atol=1e-7, err_msg="same outputs")


def test_no_decay_variables_spare_biases_scales_and_embeddings_not_kernels():
    model = tiny_model()
    picked = {id(v) for v in no_decay_variables(model)}
    layer = model.get_layer
    spared = [layer(name).bias for name in ("dense0", "dense1", "be0", "be1", "head")]
    spared += [layer("scale").scale, layer("act0").alpha, layer("act1").alpha, layer("embedding").embeddings]
    spared += layer("pbld").trainable_variables
    decayed = [layer(name).kernel for name in ("dense0", "dense1", "be0", "be1", "head")]
    decayed += [layer("be0").r, layer("be0").s]
    assert all(id(v) in picked for v in spared), "every bias, scale, alpha, embedding table and PBLD weight is spared"
    assert not any(id(v) in picked for v in decayed), "kernels and BatchEnsemble's r and s are decayed"
    # With zero gradients Adam's step is 0: what changes is AdamW's decay alone.
    optimizer = keras.optimizers.AdamW(learning_rate=0.1, weight_decay=0.5)
    optimizer.exclude_from_weight_decay(var_list=no_decay_variables(model))
    variables = model.trainable_variables
    before = [v.numpy().copy() for v in variables]
    optimizer.apply_gradients([(tf.zeros_like(v), v) for v in variables])
    kept = {id(v) for v, b in zip(variables, before, strict=True) if np.array_equal(v.numpy(), b)}
    assert kept == picked, "AdamW leaves exactly the spared variables undecayed"
