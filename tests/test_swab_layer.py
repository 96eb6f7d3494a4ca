import numpy as np
import pytest
from keras import ops

from keras_avl.layers import SWABLayer
from tests.conftest import weights_by_name
from tests.layer_test_case import run_layer_test
from tests.numpy_reference import swab_sequence

pytestmark = pytest.mark.multibackend

B, T, D, UNITS = 3, 6, 5, 4


def _h(rng):
    return rng.normal(size=(B, T, D)).astype("float32")


@pytest.mark.parametrize("rescale", [False, True])
def test_layer_contract(rng, tmp_path, rescale):
    run_layer_test(
        SWABLayer,
        {"units": UNITS, "rescale": rescale},
        _h(rng),
        [(B, T, D), (B, T)],
        tmp_path,
        expected_num_trainable_weights=6,
    )


def test_weights_carry_the_paper_names(rng):
    layer = SWABLayer(units=UNITS)
    layer(_h(rng))
    shapes = {name: w.shape for name, w in weights_by_name(layer).items()}
    assert shapes == {
        "W_g": (D, UNITS),
        "b_g": (UNITS,),
        "W_gbar": (D, UNITS),
        "b_gbar": (UNITS,),
        "W_alpha": (UNITS, 1),
        "b_alpha": (1,),
    }


def _randomize_biases(layer, rng):
    for name in ("b_g", "b_gbar", "b_alpha"):
        variable = getattr(layer, name)
        variable.assign(rng.normal(size=variable.shape).astype("float32"))


@pytest.mark.parametrize("pooling", ["mean", "max", "mean+max"])
def test_equations_9_to_11_against_numpy(rng, pooling):
    h = _h(rng)
    layer = SWABLayer(units=UNITS, pooling=pooling)
    layer.build(h.shape)
    _randomize_biases(layer, rng)
    w = weights_by_name(layer)
    s, alpha = (ops.convert_to_numpy(x) for x in layer(h))
    for b in range(B):
        ref_s, ref_alpha = swab_sequence(
            h[b], w["W_g"], w["b_g"], w["W_gbar"], w["b_gbar"], w["W_alpha"],
            w["b_alpha"], pooling,
        )
        np.testing.assert_allclose(alpha[b], ref_alpha, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(s[b], ref_s, rtol=1e-5, atol=1e-6)


def test_pooling_variants_differ(rng):
    """The three Table-3 variants are different functions of the same weights."""
    h = _h(rng)
    layers = {p: SWABLayer(units=UNITS, pooling=p) for p in ("mean", "max", "mean+max")}
    for layer in layers.values():
        layer.build(h.shape)
        layer.set_weights(layers["mean"].get_weights())
    alphas = {p: ops.convert_to_numpy(layer(h)[1]) for p, layer in layers.items()}
    assert not np.allclose(alphas["mean"], alphas["max"])
    assert not np.allclose(alphas["mean+max"], alphas["mean"])


@pytest.mark.parametrize("pooling", ["mean", "max", "mean+max"])
def test_padding_mask_is_honoured(rng, pooling):
    h = _h(rng)
    mask = np.ones((B, T), bool)
    mask[0, 4:] = False
    mask[1, 1:] = False
    h[0, 4:] = 100.0  # padded segments must not leak into mean or max
    layer = SWABLayer(units=UNITS, pooling=pooling)
    layer.build(h.shape)
    _randomize_biases(layer, rng)
    w = weights_by_name(layer)
    s, alpha = (ops.convert_to_numpy(x) for x in layer(h, mask=mask))
    assert np.all(alpha[~mask] == 0.0)
    np.testing.assert_allclose(alpha.sum(-1), 1.0, rtol=1e-6)
    for b in range(B):
        ref_s, ref_alpha = swab_sequence(
            h[b], w["W_g"], w["b_g"], w["W_gbar"], w["b_gbar"], w["W_alpha"],
            w["b_alpha"], pooling, mask=mask[b],
        )
        np.testing.assert_allclose(alpha[b], ref_alpha, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(s[b], ref_s, rtol=1e-5, atol=1e-5)


def test_keras_mask_propagates_from_masking_layer(rng):
    import keras

    h = _h(rng)
    h[2, 3:] = 0.0
    inputs = keras.Input((T, D))
    _, alpha = SWABLayer(units=UNITS)(keras.layers.Masking(0.0)(inputs))
    alpha = ops.convert_to_numpy(keras.Model(inputs, alpha)(h))
    assert np.all(alpha[2, 3:] == 0.0)
    np.testing.assert_allclose(alpha.sum(-1), 1.0, rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"pooling": "median"}, "pooling"), ({"units": 0}, "units")],
)
def test_bad_arguments_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SWABLayer(**kwargs)


def test_wrong_rank_is_rejected(rng):
    with pytest.raises(ValueError, match=r"\(B, T, D\)"):
        SWABLayer(units=UNITS)(rng.normal(size=(B, D)).astype("float32"))


def test_rescale_multiplies_s_by_the_real_segments(rng):
    """rescale=True: s_t = n_real * alpha_t h_t, alpha unchanged (NumPy eq. 9-11)."""
    h = _h(rng)
    mask = np.ones((B, T), bool)
    mask[1, 3:] = False
    layer = SWABLayer(units=UNITS, rescale=True)
    layer.build(h.shape)
    _randomize_biases(layer, rng)
    w = weights_by_name(layer)
    s, alpha = (ops.convert_to_numpy(x) for x in layer(h, mask=mask))
    for b in range(B):
        ref_s, ref_alpha = swab_sequence(
            h[b], w["W_g"], w["b_g"], w["W_gbar"], w["b_gbar"], w["W_alpha"],
            w["b_alpha"], "mean+max", mask=mask[b],
        )
        np.testing.assert_allclose(alpha[b], ref_alpha, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(s[b], mask[b].sum() * ref_s, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="rescale"):
        SWABLayer(units=UNITS, rescale="yes")
