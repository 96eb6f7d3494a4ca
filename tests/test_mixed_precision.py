"""`--mixed-precision`: the policy choice, and models that train with finite
loss under it while the delicate parts stay float32."""

import keras
import numpy as np
import pytest

from keras_avl.losses.gram_triplet_loss import normalized_gram
from keras_avl.models import PaperConfig, build_model, inference_model
from keras_avl.numerics import safe_l2_normalize, signed_sqrt
from keras_avl.precision import mixed_precision_policy_name, precision_policy

TINY = dict(num_classes=3, segments=4, grid=(2, 2), visual_dim=8, audio_dim=6,
            embed_dim=8, mfb_factor=2, mfb_output_dim=4, hidden=4, swab_units=4)


def _data(regime, rng):
    x = {"visual": rng.random((8, 4, 2, 2, 8), dtype="float32"),
         "audio": rng.random((8, 4, 6), dtype="float32")}
    if regime == "unsupervised":
        x["audio_negative"] = rng.random((8, 4, 6), dtype="float32")
        return x, np.zeros(8, "float32")
    if regime == "weak":
        return x, np.eye(3, dtype="float32")[rng.integers(0, 3, 8)]
    return x, np.eye(3, dtype="float32")[rng.integers(0, 3, (8, 4))]


@pytest.mark.multibackend
def test_policy_is_float16_on_gpu_and_bfloat16_on_cpu_and_is_restored():
    assert mixed_precision_policy_name(gpu=True) == "mixed_float16"
    assert mixed_precision_policy_name(gpu=False) == "mixed_bfloat16"
    with precision_policy(False) as name:
        assert name == "float32"
    with precision_policy(True, gpu=False) as name:
        assert keras.mixed_precision.dtype_policy().name == name == "mixed_bfloat16"
    assert keras.mixed_precision.dtype_policy().name == "float32"


@pytest.mark.multibackend
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_delicate_numerics_compute_in_float32(dtype):
    x = keras.ops.cast(np.array([[[0.0, 3e-5], [-2e-5, 1e-6]]], "float32"), dtype)
    for result in (signed_sqrt(x), safe_l2_normalize(x), normalized_gram(x)):
        assert keras.backend.standardize_dtype(result.dtype) == "float32"
        assert np.isfinite(keras.ops.convert_to_numpy(result)).all()


@pytest.mark.usefixtures("tf_functions_eagerly")
@pytest.mark.parametrize("regime, gpu", [
    pytest.param("supervised", False, marks=pytest.mark.multibackend),
    ("unsupervised", False),
    ("supervised", True),
])
def test_trains_with_finite_loss_under_the_policy(regime, gpu):
    rng = np.random.default_rng(0)
    x, y = _data(regime, rng)
    with precision_policy(True, gpu=gpu) as name:
        model = build_model(PaperConfig(**TINY), regime)
    compute_dtype = name.removeprefix("mixed_")
    assert model.get_layer("avfb").compute_dtype == compute_dtype
    assert model.get_layer("avfb").variable_dtype == "float32"
    if name == "mixed_float16":  # Keras scales the loss against float16 underflow
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    history = model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert all(np.isfinite(keras.ops.convert_to_numpy(w)).all() for w in model.weights)


@pytest.mark.multibackend
@pytest.mark.usefixtures("tf_functions_eagerly")
def test_mixed_outputs_match_float32_with_the_same_weights():
    rng = np.random.default_rng(1)
    x, _ = _data("supervised", rng)
    reference = build_model(PaperConfig(**TINY), "supervised")
    with precision_policy(True, gpu=False):
        mixed = build_model(PaperConfig(**TINY), "supervised")
    mixed.set_weights(reference.get_weights())
    expected = inference_model(reference)(x)
    outputs = inference_model(mixed)(x)
    probabilities = keras.ops.convert_to_numpy(outputs["segment_probabilities"])
    # The classifier's softmax is float32 under the policy.
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)
    # bfloat16 keeps 8 bits of mantissa: agreement to a few 1e-2.
    for key in ("segment_probabilities", "spatial_attention", "segment_attention"):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(keras.ops.cast(outputs[key], "float32")),
            keras.ops.convert_to_numpy(expected[key]),
            atol=3e-2,
        )


@pytest.mark.usefixtures("tf_functions_eagerly")
def test_train_mixed_precision_records_and_saves_the_policy(tmp_path, monkeypatch):
    import json

    from keras_avl.cli.main import main
    from keras_avl.runs import load_run

    monkeypatch.setenv("KERAS_AVL_HOME", str(tmp_path / "home"))
    run_dir = tmp_path / "run"
    argv = ["train", "--regime", "unsupervised", "--embedded-size", "tiny", "--epochs", "1",
            "--batch-size", "8", "--mixed-precision", "--run-dir", str(run_dir),
            "--verbose", "0"]
    argv += [f"--set={name}={value}" for name, value in
             dict(hidden=4, embed_dim=8, mfb_output_dim=4, swab_units=4).items()]
    assert main(argv) == 0
    assert keras.mixed_precision.dtype_policy().name == "float32"  # restored
    run = load_run(run_dir)
    assert run.training.mixed_precision is True
    expected = mixed_precision_policy_name()
    assert run.load_model().get_layer("avfb").dtype_policy.name == expected
    history = json.loads((run_dir / "metrics.json").read_text())["history"]
    assert np.isfinite([epoch["loss"] for epoch in history]).all()


def _gradients(model, x):
    """Gradients of the sum of the model's float32-cast outputs w.r.t. its
    trainable weights, on the active backend."""
    def total(outputs):
        return sum(keras.ops.sum(keras.ops.cast(o, "float32")) for o in keras.tree.flatten(outputs))

    if keras.backend.backend() == "jax":
        import jax

        trainable = [v.value for v in model.trainable_variables]
        fixed = [v.value for v in model.non_trainable_variables]

        def loss(weights):
            outputs, _ = model.stateless_call(weights, fixed, x, training=True)
            return total(outputs)

        return [np.asarray(g) for g in jax.grad(loss)(trainable)]
    import tensorflow as tf

    with tf.GradientTape() as tape:
        value = total(model(x, training=True))
    return [g.numpy() for g in tape.gradient(value, model.trainable_variables) if g is not None]


@pytest.mark.multibackend
@pytest.mark.notorch  # the gradient through JAX or TensorFlow's tape
@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_swab_of_a_fully_masked_video_is_finite(policy):
    """SWAB's -1e9 fill of the max pooling is -inf in float16: a video without
    a real segment must still give finite outputs and gradients."""
    from keras_avl.layers import SWABLayer

    h = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    mask = np.ones((2, 5), bool)
    mask[1] = False
    inputs = keras.Input((5, 3))
    mask_input = keras.Input((5,), dtype="bool")
    layer = SWABLayer(units=4, dtype=policy)
    model = keras.Model([inputs, mask_input], layer(inputs, mask=mask_input))
    s, alpha = (keras.ops.convert_to_numpy(keras.ops.cast(o, "float32")) for o in model([h, mask]))
    assert np.isfinite(s).all() and np.isfinite(alpha).all()
    assert (alpha[1] == 0).all() and (s[1] == 0).all()
    assert all(np.isfinite(g).all() for g in _gradients(model, [h, mask]))


@pytest.mark.slow  # long end to end; `bash scripts/test.sh --all` runs it
@pytest.mark.multibackend
@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("regime", ["supervised", "weak", "unsupervised"])
def test_models_with_a_fully_masked_video_are_finite(policy, regime):
    rng = np.random.default_rng(2)
    x, _ = _data(regime, rng)
    x = {key: value[:2] for key, value in x.items()}
    x["segment_mask"] = np.array([[1, 1, 0, 0], [0, 0, 0, 0]], "float32")
    if regime == "unsupervised":
        x["segment_mask_negative"] = x["segment_mask"][::-1].copy()
    keras.mixed_precision.set_global_policy(policy)
    model = build_model(PaperConfig(**TINY), regime, compile=False)
    outputs = inference_model(model)(x, training=True)
    for key, value in {**outputs, "output": model(x)}.items():
        assert np.isfinite(keras.ops.convert_to_numpy(keras.ops.cast(value, "float32"))).all(), key
    assert all(np.isfinite(g).all() for g in _gradients(model, x))
