import numpy as np
import pytest
from keras import ops

from keras_avl.layers import MFBPooling
from tests.conftest import weights_by_name
from tests.layer_test_case import run_layer_test
from tests.numpy_reference import mfb_segment

pytestmark = pytest.mark.multibackend

B, S, DV, DA, Q, P = 3, 12, 6, 5, 3, 4


def _inputs(rng, zero_regions=()):
    visual = rng.normal(size=(B, S, DV)).astype("float32")
    visual[:, list(zero_regions)] = 0.0
    audio = rng.normal(size=(B, DA)).astype("float32")
    return visual, audio


def _call(layer, visual, audio):
    attended, attention = layer([visual, audio])
    return ops.convert_to_numpy(attended), ops.convert_to_numpy(attention)


def test_layer_contract(rng, tmp_path):
    run_layer_test(
        MFBPooling,
        {"factor": Q, "output_dim": P},
        list(_inputs(rng)),
        [(B, DV), (B, S)],
        tmp_path,
        expected_num_trainable_weights=4,
    )


def test_weights_carry_the_paper_names(rng):
    layer = MFBPooling(factor=Q, output_dim=P, use_bias=True)
    layer(list(_inputs(rng)))
    shapes = {name: w.shape for name, w in weights_by_name(layer).items()}
    assert shapes == {
        "U": (DV, Q * P),
        "V": (DA, Q * P),
        "U_bias": (Q * P,),
        "V_bias": (Q * P,),
        "W_z": (P, 1),
        "b_z": (1,),
    }


@pytest.mark.parametrize("fused", [False, True])
def test_equations_3_to_6_against_numpy(rng, fused):
    visual, audio = _inputs(rng, zero_regions=(2,))
    layer = MFBPooling(factor=Q, output_dim=P, fused=fused)
    layer.build([visual.shape, audio.shape])
    layer.b_z.assign(np.array([0.3], "float32"))
    w = weights_by_name(layer)
    attended, attention = _call(layer, visual, audio)
    for b in range(B):
        ref_attended, ref_lambda = mfb_segment(
            visual[b], audio[b], w["U"], w["V"], w["W_z"], w["b_z"], Q
        )
        np.testing.assert_allclose(attention[b], ref_lambda, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(attended[b], ref_attended, rtol=1e-5, atol=1e-5)


def test_leading_dimensions_are_kept(rng):
    visual = rng.normal(size=(2, 4, S, DV)).astype("float32")
    audio = rng.normal(size=(2, 4, DA)).astype("float32")
    attended, attention = MFBPooling(factor=Q, output_dim=P)([visual, audio])
    assert tuple(attended.shape) == (2, 4, DV)
    assert tuple(attention.shape) == (2, 4, S)


def test_attention_sums_to_one(rng):
    _, attention = _call(MFBPooling(factor=Q, output_dim=P), *_inputs(rng))
    np.testing.assert_allclose(attention.sum(-1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("scaled", ["audio", "visual"])
def test_attention_unchanged_by_positive_scaling(rng, scaled):
    visual, audio = _inputs(rng)
    layer = MFBPooling(factor=Q, output_dim=P)
    _, attention = _call(layer, visual, audio)
    if scaled == "audio":
        _, scaled_attention = _call(layer, visual, 7.5 * audio)
    else:
        _, scaled_attention = _call(layer, 0.2 * visual, audio)
    np.testing.assert_allclose(scaled_attention, attention, rtol=1e-5, atol=1e-7)


def test_permuting_regions_permutes_attention(rng):
    visual, audio = _inputs(rng)
    layer = MFBPooling(factor=Q, output_dim=P)
    attended, attention = _call(layer, visual, audio)
    permutation = rng.permutation(S)
    permuted_attended, permuted_attention = _call(layer, visual[:, permutation], audio)
    np.testing.assert_allclose(permuted_attention, attention[:, permutation], rtol=1e-5)
    np.testing.assert_allclose(permuted_attended, attended, rtol=1e-5, atol=1e-6)


def test_all_zero_regions_have_finite_gradients(rng):
    import keras

    visual, audio = _inputs(rng, zero_regions=range(S // 2))
    visual[0] = 0.0  # a whole segment without any visual signal
    visual_in, audio_in = keras.Input((S, DV)), keras.Input((DA,))
    attended, attention = MFBPooling(factor=Q, output_dim=P)([visual_in, audio_in])
    model = keras.Model([visual_in, audio_in], [attended, attention])
    model.compile(optimizer="sgd", loss=["mse", "mse"])
    target = [np.ones((B, DV), "float32"), np.full((B, S), 1.0 / S, "float32")]
    model.fit([visual, audio], target, epochs=1, verbose=0)
    for weight in model.weights:
        assert np.all(np.isfinite(ops.convert_to_numpy(weight))), weight.name
    gradients = _input_gradients(model, visual, audio)
    for gradient in gradients:
        assert np.all(np.isfinite(gradient))


def _input_gradients(model, visual, audio):
    """d(sum of outputs)/d(inputs), through the backend's autodiff."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        v, a = tf.constant(visual), tf.constant(audio)
        with tf.GradientTape() as tape:
            tape.watch([v, a])
            total = sum(tf.reduce_sum(y) for y in model([v, a]))
        return [g.numpy() for g in tape.gradient(total, [v, a])]
    if backend == "jax":
        import jax

        def total(v, a):
            return sum(y.sum() for y in model([v, a]))

        return [np.asarray(g) for g in jax.grad(total, argnums=(0, 1))(visual, audio)]
    pytest.skip(f"no gradient helper for backend {backend}")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"factor": 0}, "factor"),
        ({"factor": 2.5}, "factor"),
        ({"factor": "5"}, "factor"),
        ({"output_dim": -1}, "output_dim"),
        ({"dropout": 1.5}, "dropout"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MFBPooling(**kwargs)


def test_mismatched_leading_dimensions_are_rejected(rng):
    visual = rng.normal(size=(2, 4, S, DV)).astype("float32")
    audio = rng.normal(size=(2, 5, DA)).astype("float32")
    with pytest.raises(ValueError, match="leading dimensions"):
        MFBPooling(factor=Q, output_dim=P)([visual, audio])


def test_wrong_rank_is_rejected(rng):
    with pytest.raises(ValueError, match="visual shape"):
        MFBPooling(factor=Q, output_dim=P)(
            [rng.normal(size=(B, S, DV)), rng.normal(size=(B, 2, DA))]
        )
