import numpy as np
import pytest
from keras import ops

from keras_avl.layers import AVFBLayer
from tests.conftest import weights_by_name
from tests.layer_test_case import run_layer_test
from tests.numpy_reference import lstm_sequence, mfb_segment, relu

pytestmark = pytest.mark.multibackend

B, T, H, W, DV, DA = 2, 4, 3, 3, 6, 5
S = H * W
SMALL = {"embed_dim": 4, "mfb_factor": 2, "mfb_output_dim": 3}


def _inputs(rng):
    visual = rng.normal(size=(B, T, H, W, DV)).astype("float32")
    audio = rng.normal(size=(B, T, DA)).astype("float32")
    return visual, audio


def _numpy(x):
    return ops.convert_to_numpy(x)


@pytest.mark.parametrize(
    "fusion, mf_normalization",
    [(fusion, "none") for fusion in ("mul", "add", "concat", "lstm", "mfb", "avfb")]
    + [("avfb", "rms")],
)
def test_layer_contract(rng, tmp_path, fusion, mf_normalization):
    run_layer_test(
        AVFBLayer,
        dict(SMALL, fusion=fusion, mf_normalization=mf_normalization),
        list(_inputs(rng)),
        [(B, T, DV), (B, T, S)],
        tmp_path,
    )


def _lstm_branch(layer, visual, audio):
    """Eq. 1: LF_v from an LSTM over [l_v + l_a, l_a] (NumPy)."""
    pooled = visual.reshape(T, S, DV).mean(axis=1)  # global average pooling
    if layer.embed_dim != DV:
        dense = layer.visual_embedding
        pooled = pooled @ _numpy(dense.kernel) + _numpy(dense.bias)
    audio_dense = layer.audio_embedding
    l_a = relu(audio @ _numpy(audio_dense.kernel) + _numpy(audio_dense.bias))
    cell = layer.fusion_lstm.cell
    return lstm_sequence(
        np.concatenate([pooled + l_a, l_a], axis=-1),
        _numpy(cell.kernel),
        _numpy(cell.recurrent_kernel),
        _numpy(cell.bias),
    )


def _mfb_branch(layer, visual, audio):
    w = weights_by_name(layer.mfb)
    outputs = [
        mfb_segment(visual[t].reshape(S, DV), audio[t], w["U"], w["V"], w["W_z"], w["b_z"], 2)
        for t in range(T)
    ]
    return np.array([o[0] for o in outputs]), np.array([o[1] for o in outputs])


@pytest.mark.parametrize("embed_dim", [4, DV])
def test_equations_1_to_7_against_numpy(rng, embed_dim):
    visual, audio = _inputs(rng)
    layer = AVFBLayer(**dict(SMALL, embed_dim=embed_dim))
    fused, attention = (_numpy(x) for x in layer([visual, audio]))
    assert layer.fusion_lstm.units == DV  # so that LF_v + MF_v is defined
    for b in range(B):
        lstm_fused = _lstm_branch(layer, visual[b], audio[b])
        mfb_fused, ref_lambda = _mfb_branch(layer, visual[b], audio[b])
        np.testing.assert_allclose(attention[b], ref_lambda, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(fused[b], lstm_fused + mfb_fused, rtol=1e-4, atol=1e-5)  # eq. 7


def test_single_branch_fusions_against_numpy(rng):
    visual, audio = _inputs(rng)
    lstm_layer = AVFBLayer(**dict(SMALL, fusion="lstm"))
    mfb_layer = AVFBLayer(**dict(SMALL, fusion="mfb"))
    lstm_fused, lstm_attention = (_numpy(x) for x in lstm_layer([visual, audio]))
    mfb_fused, mfb_attention = (_numpy(x) for x in mfb_layer([visual, audio]))
    np.testing.assert_allclose(lstm_attention, 1.0 / S, rtol=1e-6)
    for b in range(B):
        np.testing.assert_allclose(
            lstm_fused[b], _lstm_branch(lstm_layer, visual[b], audio[b]), rtol=1e-4, atol=1e-5
        )
        ref_fused, ref_lambda = _mfb_branch(mfb_layer, visual[b], audio[b])
        np.testing.assert_allclose(mfb_fused[b], ref_fused, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(mfb_attention[b], ref_lambda, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fusion", ["mul", "add", "concat"])
def test_elementwise_fusions_against_numpy(rng, fusion):
    visual, audio = _inputs(rng)
    layer = AVFBLayer(**dict(SMALL, fusion=fusion))
    fused = _numpy(layer([visual, audio])[0])
    pooled = visual.reshape(B, T, S, DV).mean(axis=2)
    if fusion == "concat":
        dense = layer.concat_projection
        expected = relu(
            np.concatenate([pooled, audio], -1) @ _numpy(dense.kernel) + _numpy(dense.bias)
        )
    else:
        dense = layer.audio_projection
        projected = audio @ _numpy(dense.kernel) + _numpy(dense.bias)
        expected = pooled * projected if fusion == "mul" else pooled + projected
    np.testing.assert_allclose(fused, expected, rtol=1e-5, atol=1e-5)


def test_flat_regions_equal_grid_regions(rng):
    visual, audio = _inputs(rng)
    layer = AVFBLayer(**SMALL)
    grid = [_numpy(x) for x in layer([visual, audio])]
    flat = [_numpy(x) for x in layer([visual.reshape(B, T, S, DV), audio])]
    for a, b in zip(grid, flat):
        np.testing.assert_allclose(a, b, rtol=1e-6)


@pytest.mark.parametrize(
    "visual_shape, audio_shape, message",
    [
        ((B, T, DV), (B, T, DA), "visual"),
        ((B, T, S, DV), (B, DA), "audio"),
        ((B, T, S, DV), (B, T + 1, DA), "same number of segments"),
    ],
)
def test_bad_shapes_are_rejected(rng, visual_shape, audio_shape, message):
    with pytest.raises(ValueError, match=message):
        AVFBLayer(**SMALL)(
            [rng.normal(size=visual_shape).astype("float32"),
             rng.normal(size=audio_shape).astype("float32")]
        )


@pytest.mark.parametrize(
    "kwargs, message",
    [({"fusion": "sum"}, "fusion"), ({"mfb_factor": 0}, "mfb_factor"), ({"embed_dim": 1.5}, "embed_dim")],
)
def test_bad_arguments_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AVFBLayer(**kwargs)


def test_graph_mode_with_unknown_batch_keeps_regions_static(rng):
    """tf.data batches have an unknown batch size in graph mode; S must stay
    static for MFB (regression: the fused kernel failed on S = None)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("graph tracing with unknown dimensions is TensorFlow's")
    import tensorflow as tf

    visual, audio = _inputs(rng)
    layer = AVFBLayer(**SMALL)
    expected = [_numpy(x) for x in layer([visual, audio])]
    traced = tf.function(
        lambda v, a: layer([v, a]),
        input_signature=[
            tf.TensorSpec((None, T, H, W, DV), "float32"),
            tf.TensorSpec((None, T, DA), "float32"),
        ],
    )
    for got, want in zip(traced(visual, audio), expected):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)


def test_rms_normalised_mf_against_numpy(rng):
    """mf_normalization="rms": IF_v = LF_v + MF_v / sqrt(mean(MF_v^2) + 1e-6)."""
    visual, audio = _inputs(rng)
    layer = AVFBLayer(**dict(SMALL, mf_normalization="rms"))
    fused, attention = (_numpy(x) for x in layer([visual, audio]))
    for b in range(B):
        lstm_fused = _lstm_branch(layer, visual[b], audio[b])
        mfb_fused, ref_lambda = _mfb_branch(layer, visual[b], audio[b])
        rms = np.sqrt(np.mean(mfb_fused**2, axis=-1, keepdims=True) + 1e-6)
        np.testing.assert_allclose(attention[b], ref_lambda, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(fused[b], lstm_fused + mfb_fused / rms, rtol=1e-4, atol=1e-5)


def test_mf_normalization_needs_the_sum_of_eq_7():
    with pytest.raises(ValueError, match="mf_normalization"):
        AVFBLayer(**dict(SMALL, fusion="mfb", mf_normalization="rms"))
    with pytest.raises(ValueError, match="mf_normalization"):
        AVFBLayer(**dict(SMALL, mf_normalization="l2"))
