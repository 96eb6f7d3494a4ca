"""Parity of `keras_avl.ops.fused_mfb` / `MFBPooling(fused=True)` with the
reference `MFBPooling(fused=False)` path and with a NumPy transcription of
eqs. 3-6: forward outputs, gradients w.r.t. every input and weight, mixed
precision, all-zero regions, tiles that do not divide N, bad input.

Features are drawn from [0, 1) like the post-ReLU VGG-19 / VGGish features the
model reads; weights are Glorot-signed, so pooled values of both signs occur.
"""

import keras
import numpy as np
import pytest
from keras import ops

from keras_avl.layers import MFBPooling
from keras_avl.ops import SUPPORTED_BACKENDS, fused_mfb, in_xla_program, xla_program

BACKEND = keras.backend.backend()
# CI runs these under TensorFlow and JAX (the backend GPU users train with).
pytestmark = [
    pytest.mark.multibackend,
    pytest.mark.skipif(
        BACKEND not in SUPPORTED_BACKENDS, reason=f"fused_mfb does not run on {BACKEND}"
    ),
]

SEGMENTS, REGIONS, VISUAL_DIM, AUDIO_DIM, FACTOR, OUTPUT_DIM = 7, 5, 12, 6, 3, 4
# float32: fused and reference differ only in summation order.
FLOAT32_RTOL = 1e-5
# Mixed precision: tolerance on outputs (relative to the largest magnitude)
# between the fused and the reference path, both under the same policy.
# Measured up to 3e-3 (float16) and 5e-3 (bfloat16) on CPU.
MIXED_RTOL = {"mixed_float16": 1e-2, "mixed_bfloat16": 4e-2}


def random_inputs(seed=0, segments=SEGMENTS, leading=None):
    rng = np.random.default_rng(seed)
    leading = leading or (segments,)
    visual = rng.random(leading + (REGIONS, VISUAL_DIM), dtype="float32")
    audio = rng.random(leading + (AUDIO_DIM,), dtype="float32")
    return visual, audio


def layer_pair(use_bias=False, dtype=None, seed=1, dropout=0.0):
    """A reference and a fused MFBPooling with the same random weights."""
    layers = [
        MFBPooling(FACTOR, OUTPUT_DIM, use_bias=use_bias, fused=fused, dtype=dtype, dropout=dropout)
        for fused in (False, True)
    ]
    rng = np.random.default_rng(seed)
    weights = None
    for layer in layers:
        layer.build([(None, REGIONS, VISUAL_DIM), (None, AUDIO_DIM)])
        if weights is None:
            # Non-zero biases so that the bias terms are exercised too.
            weights = [w + 0.1 * rng.standard_normal(w.shape).astype("float32") for w in layer.get_weights()]
        layer.set_weights(weights)
    return layers


def numpy_mfb(visual, audio, weights):
    """Eqs. 3-6 transcribed from SPEC.md in float64."""
    visual, audio = visual.astype("float64"), audio.astype("float64")
    w = {name: value.astype("float64") for name, value in weights.items()}
    visual_proj = visual @ w["U"] + w.get("U_bias", 0.0)
    audio_proj = audio @ w["V"] + w.get("V_bias", 0.0)
    product = visual_proj * audio_proj[:, None, :]
    output_dim = w["W_z"].shape[0]
    pooled = product.reshape(product.shape[:-1] + (output_dim, -1)).sum(-1)
    powered = np.sign(pooled) * np.sqrt(np.abs(pooled) + 1e-12)
    norm = np.sqrt((powered**2).sum(-1, keepdims=True))
    normalized = powered / np.maximum(norm, 1e-12)
    logits = normalized @ w["W_z"][:, 0] + w["b_z"][0]
    attention = np.exp(logits - logits.max(-1, keepdims=True))
    attention /= attention.sum(-1, keepdims=True)
    return (attention[..., None] * visual).sum(-2), attention


def named_weights(layer):
    return {weight.name: np.asarray(weight.numpy()) for weight in layer.trainable_weights}


def outputs_and_gradients(call, weights, visual, audio, cotangents):
    """`call(weights, visual, audio)` -> (attended, attention), and the
    gradients of sum(attended * c1) + sum(attention * c2) w.r.t. visual, audio
    and each weight (a dict name -> array), as float32 NumPy arrays."""
    names = sorted(weights)

    def loss(values, visual, audio):
        attended, attention = call(dict(zip(names, values)), visual, audio)
        attended, attention = ops.cast(attended, "float32"), ops.cast(attention, "float32")
        total = ops.sum(attended * cotangents[0]) + ops.sum(attention * cotangents[1])
        return total, (attended, attention)

    values = [ops.convert_to_tensor(weights[name]) for name in names]
    visual, audio = ops.convert_to_tensor(visual), ops.convert_to_tensor(audio)
    if BACKEND == "jax":
        import jax

        grads, outputs = jax.grad(loss, argnums=(0, 1, 2), has_aux=True)(values, visual, audio)
        grads = (grads[1], grads[2], *grads[0])
    else:
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch([visual, audio, *values])
            total, outputs = loss(values, visual, audio)
        grads = tape.gradient(total, [visual, audio, *values])
    named = dict(zip(["visual", "audio", *names], grads))
    to_numpy = lambda x: np.asarray(ops.convert_to_numpy(ops.cast(x, "float32")))
    return [to_numpy(x) for x in outputs], {name: to_numpy(g) for name, g in named.items()}


def layer_call(layer):
    def call(weights, visual, audio):
        values = [weights[weight.name] for weight in layer.trainable_weights]
        outputs, _ = layer.stateless_call(values, [], [visual, audio])
        return outputs

    return call


def op_call(tile_size):
    def call(weights, visual, audio):
        return fused_mfb(
            visual,
            audio,
            weights["U"],
            weights["V"],
            weights["W_z"],
            weights["b_z"],
            weights.get("U_bias"),
            weights.get("V_bias"),
            tile_size=tile_size,
        )

    return call


def assert_close(actual, expected, rtol, what):
    """|actual - expected| <= rtol * max|expected| elementwise (the scale of
    the whole tensor, since gradients of the softmax can be ~0 anywhere)."""
    scale = max(float(np.max(np.abs(expected))), 1e-30)
    error = float(np.max(np.abs(actual - expected)))
    assert error <= rtol * scale, f"{what}: max error {error:.3g} > {rtol} * {scale:.3g}"


def assert_gradients_close(grads, expected_grads):
    for name, expected in expected_grads.items():
        assert np.all(np.isfinite(grads[name])), name
        if name == "b_z":
            # The softmax over regions ignores a shared shift: d/db_z is 0 up
            # to rounding in both paths; compare on the scale of d/dW_z.
            scale = float(np.max(np.abs(expected_grads["W_z"])))
            assert float(np.max(np.abs(grads[name]))) <= FLOAT32_RTOL * scale
        else:
            assert_close(grads[name], expected, FLOAT32_RTOL, f"d/d{name}")


def cotangents_for(visual, seed=2):
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal(visual.shape[:-2] + (VISUAL_DIM,)).astype("float32"),
        rng.standard_normal(visual.shape[:-1]).astype("float32"),
    )


@pytest.mark.parametrize("use_bias", [False, True])
def test_forward_matches_numpy_transcription(use_bias):
    visual, audio = random_inputs()
    _, fused_layer = layer_pair(use_bias)
    attended, attention = fused_layer([visual, audio])
    expected_attended, expected_attention = numpy_mfb(visual, audio, named_weights(fused_layer))
    assert_close(np.asarray(attended), expected_attended, FLOAT32_RTOL, "attended")
    assert_close(np.asarray(attention), expected_attention, FLOAT32_RTOL, "attention")


@pytest.mark.parametrize(
    "use_bias, tile_size",
    [(False, None), (True, None), (False, 3), (True, 2), (False, 100)],
    ids=["auto-tile", "bias-auto-tile", "tile3-of-7", "bias-tile2-of-7", "tile-larger-than-N"],
)
def test_gradients_match_reference(use_bias, tile_size):
    visual, audio = random_inputs()
    visual[3, 1] = 0.0  # an all-zero region
    reference, fused_layer = layer_pair(use_bias)
    weights = named_weights(reference)
    cotangents = cotangents_for(visual)
    expected_outputs, expected_grads = outputs_and_gradients(
        layer_call(reference), weights, visual, audio, cotangents
    )
    fused_call = layer_call(fused_layer) if tile_size is None else op_call(tile_size)
    outputs, grads = outputs_and_gradients(fused_call, weights, visual, audio, cotangents)
    assert set(grads) == {"visual", "audio", *weights}
    for name, output, expected in zip(("attended", "attention"), outputs, expected_outputs):
        assert_close(output, expected, FLOAT32_RTOL, name)
    assert_gradients_close(grads, expected_grads)


def test_all_zero_segments_give_finite_gradients():
    visual, audio = random_inputs()
    visual[2] = 0.0  # every region of segment 2
    audio[2] = 0.0
    visual[4, :, :] = 0.0  # regions zero, audio not
    reference, fused_layer = layer_pair()
    weights = named_weights(reference)
    cotangents = cotangents_for(visual)
    expected_outputs, expected_grads = outputs_and_gradients(
        layer_call(reference), weights, visual, audio, cotangents
    )
    outputs, grads = outputs_and_gradients(layer_call(fused_layer), weights, visual, audio, cotangents)
    np.testing.assert_allclose(outputs[1][2], np.full(REGIONS, 1.0 / REGIONS), rtol=1e-6)
    assert_gradients_close(grads, expected_grads)


def test_leading_dimensions_are_flattened_and_restored():
    visual, audio = random_inputs(leading=(2, 3))
    reference, fused_layer = layer_pair()
    for fused, expected in zip(fused_layer([visual, audio]), reference([visual, audio])):
        assert tuple(fused.shape) == tuple(expected.shape)
        assert_close(np.asarray(fused), np.asarray(expected), FLOAT32_RTOL, "output")


def test_unknown_regions_while_tracing():
    """A TensorFlow trace with S = None: the layer runs the reference path,
    the op refuses with a clear error."""
    if BACKEND != "tensorflow":
        pytest.skip("only TensorFlow traces with unknown dimensions")
    import tensorflow as tf

    visual, audio = random_inputs()
    reference, fused_layer = layer_pair()
    signature = [
        tf.TensorSpec((None, None, VISUAL_DIM), "float32"),
        tf.TensorSpec((None, AUDIO_DIM), "float32"),
    ]
    traced = tf.function(lambda v, a: fused_layer([v, a]), input_signature=signature)
    for got, want in zip(traced(visual, audio), reference([visual, audio])):
        np.testing.assert_allclose(got.numpy(), np.asarray(want), rtol=1e-6)
    weights = named_weights(reference)
    traced_op = tf.function(lambda v, a: op_call(None)(weights, v, a), input_signature=signature)
    with pytest.raises(ValueError, match="S, feature sizes and weights must have known"):
        traced_op(visual, audio)


@pytest.mark.parametrize("policy", sorted(MIXED_RTOL))
def test_mixed_precision_matches_reference(policy):
    visual, audio = random_inputs()
    reference, fused_layer = layer_pair(dtype=policy)
    weights = named_weights(reference)
    cotangents = cotangents_for(visual)
    compute = policy.split("_")[1]
    low_visual, low_audio = visual.astype(compute), audio.astype(compute)
    expected_outputs, _ = outputs_and_gradients(
        layer_call(reference), weights, low_visual, low_audio, cotangents
    )
    outputs, grads = outputs_and_gradients(
        layer_call(fused_layer), weights, low_visual, low_audio, cotangents
    )
    attended, attention = fused_layer([low_visual, low_audio])
    assert keras.backend.standardize_dtype(attended.dtype) == compute
    assert keras.backend.standardize_dtype(attention.dtype) == compute
    for name, output, expected in zip(("attended", "attention"), outputs, expected_outputs):
        assert_close(output, expected, MIXED_RTOL[policy], name)
    for name, grad in grads.items():
        assert np.all(np.isfinite(grad)), name


def test_active_dropout_runs_the_reference_path():
    visual, audio = random_inputs()
    weights = named_weights(layer_pair()[0])
    layers = []
    for fused in (False, True):
        keras.utils.set_random_seed(3)  # the same dropout masks in both
        layer = MFBPooling(FACTOR, OUTPUT_DIM, dropout=0.5, fused=fused)
        layer.build([visual.shape, audio.shape])
        layer.set_weights([weights[w.name] for w in layer.weights])
        layers.append(layer)
    expected = np.asarray(layers[0]([visual, audio], training=True)[1])
    trained = np.asarray(layers[1]([visual, audio], training=True)[1])
    np.testing.assert_array_equal(trained, expected)
    assert not np.allclose(trained, np.asarray(layers[1]([visual, audio])[1]))


def test_unsupported_backend_falls_back_or_raises(monkeypatch):
    visual, audio = random_inputs()
    reference, fused_layer = layer_pair()
    expected = np.asarray(reference([visual, audio])[1])
    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    np.testing.assert_array_equal(np.asarray(fused_layer([visual, audio])[1]), expected)
    with pytest.raises(ValueError, match="backends .* current Keras backend is 'torch'"):
        op_call(None)(named_weights(reference), visual, audio)


def test_config_round_trip_and_keras_file(tmp_path):
    layer = MFBPooling(FACTOR, OUTPUT_DIM, fused=False)
    assert MFBPooling.from_config(layer.get_config()).fused is False
    assert MFBPooling(FACTOR, OUTPUT_DIM).get_config()["fused"] == "auto"
    visual_in = keras.Input((REGIONS, VISUAL_DIM))
    audio_in = keras.Input((AUDIO_DIM,))
    outputs = MFBPooling(FACTOR, OUTPUT_DIM, name="mfb")([visual_in, audio_in])
    model = keras.Model([visual_in, audio_in], list(outputs))
    visual, audio = random_inputs()
    expected = model.predict([visual, audio], verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert loaded.get_layer("mfb").fused == "auto"
    for got, want in zip(loaded.predict([visual, audio], verbose=0), expected):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_trains_in_a_compiled_model():
    """model.fit compiles the train step around the fused op with a dynamic
    batch; the loss must fall like the reference's."""
    visual, audio = random_inputs(segments=16)
    target = np.random.default_rng(4).random((16, VISUAL_DIM), dtype="float32")
    losses = []
    for fused in (False, True):
        keras.utils.set_random_seed(5)
        visual_in = keras.Input((REGIONS, VISUAL_DIM))
        audio_in = keras.Input((AUDIO_DIM,))
        attended, _ = MFBPooling(FACTOR, OUTPUT_DIM, fused=fused)([visual_in, audio_in])
        model = keras.Model([visual_in, audio_in], attended)
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
        history = model.fit([visual, audio], target, batch_size=6, epochs=2, verbose=0, shuffle=False)
        losses.append(history.history["loss"])
    # SGD at a large rate amplifies float rounding a little over the steps.
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-3)
    assert losses[1][-1] < losses[1][0]


def test_joins_an_enclosing_xla_program():
    """Inside a step XLA compiles already (`jit_compile=True`), the op's tiled
    body is inlined: a nested XLA function there made a variable it reads a
    compile-time constant, i.e. one new compilation per train step. Outside
    one, the op is TensorFlow's own batched products, no loop over tiles and no
    nested function."""
    if BACKEND != "tensorflow":
        pytest.skip("jax.jit nests without a separate call")
    import tensorflow as tf

    visual, audio = random_inputs()
    _, fused_layer = layer_pair()
    op_types = {}

    def call(jit):
        def traced(v, a):
            # The caller declares the XLA program (no public TensorFlow query).
            with xla_program(jit):
                return fused_layer([v, a])

        return traced

    for jit in (False, True):
        traced = tf.function(call(jit), jit_compile=jit)
        graph = traced.get_concrete_function(visual, audio).graph
        op_types[jit] = {op.type for op in graph.get_operations()}
    for jit, types in op_types.items():
        assert not types & {"PartitionedCall", "StatefulPartitionedCall"}, jit
    assert "StatelessWhile" in op_types[True]  # the tiles
    assert "StatelessWhile" not in op_types[False]
    assert op_types[False] & {"BatchMatMulV2", "BatchMatMulV3"}


@pytest.mark.parametrize("jit", [False, True])
def test_keras_avl_models_declare_their_xla_steps(jit):
    """The models of `keras_avl.models` enter `xla_program` in their train,
    test and predict steps exactly when Keras compiles the step with XLA."""
    if BACKEND != "tensorflow":
        # JAX's trainer also calls the model outside its steps (a symbolic
        # build), and jax.jit nests without a separate call anyway.
        pytest.skip("the declaration only matters on TensorFlow")
    from keras_avl.models.optional_inputs import OptionalInputsModel

    seen = []

    class Probe(keras.layers.Layer):
        def call(self, x):
            seen.append(in_xla_program())
            return x

    x = keras.Input((2,), name="x")
    model = OptionalInputsModel({"x": x}, keras.layers.Dense(1)(Probe()(x)))
    model.compile("sgd", "mse", jit_compile=jit)
    seen.clear()  # the symbolic call that built the model
    data = {"x": np.zeros((4, 2), "float32")}
    model.fit(data, np.zeros((4, 1), "float32"), verbose=0)
    model.evaluate(data, np.zeros((4, 1), "float32"), verbose=0)
    model.predict(data, verbose=0)
    # Keras keeps XLA off once op determinism is on in the process (an
    # earlier test of the same worker may have switched it on): the
    # declaration follows what Keras compiled.
    assert model.jit_compile in (jit, False)
    assert seen and set(seen) == {model.jit_compile}
    assert not in_xla_program()


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda t: dict(t, audio=t["audio"][:-1]), "same N"),
        (lambda t: dict(t, visual=t["visual"][:0], audio=t["audio"][:0]), "at least 1"),
        (lambda t: dict(t, visual=t["visual"][0]), "`visual` must have rank 3"),
        (lambda t: dict(t, visual=t["visual"].astype("int32")), "floating-point `visual`"),
        (lambda t: dict(t, audio=t["audio"].astype("float16")), "same dtype"),
        (lambda t: dict(t, U=t["U"][:-1]), "U must have d_v rows"),
        (lambda t: dict(t, V=t["V"][:, :-1]), "same width"),
        (lambda t: dict(t, W_z=np.ones((5, 1), "float32")), "p dividing"),
        (lambda t: dict(t, U_bias=t["U"][0]), "both `U_bias` and `V_bias`"),
        (lambda t: dict(t, tile_size=0), "`tile_size` must be a positive integer"),
    ],
    ids=["N", "no-segments", "rank", "int", "dtypes", "U-rows", "V-width", "W_z", "one-bias", "tile"],
)
def test_bad_input_raises_a_clear_error(change, message):
    visual, audio = random_inputs()
    rng = np.random.default_rng(6)
    width = FACTOR * OUTPUT_DIM
    tensors = dict(
        visual=visual,
        audio=audio,
        U=rng.random((VISUAL_DIM, width), dtype="float32"),
        V=rng.random((AUDIO_DIM, width), dtype="float32"),
        W_z=rng.random((OUTPUT_DIM, 1), dtype="float32"),
        b_z=np.zeros(1, "float32"),
    )
    with pytest.raises(ValueError, match=message):
        fused_mfb(**change(tensors))



def numpy_mfb_gradients(visual, audio, weights, cotangents):
    """The gradients of sum(attended * c1) + sum(attention * c2) w.r.t.
    visual, audio and each weight, by hand in float64 from eqs. 3-6 (with
    numerics.py's epsilons): independent of both Keras paths and of autodiff."""
    eps = 1e-12
    visual, audio = visual.astype("float64"), audio.astype("float64")
    w = {name: value.astype("float64") for name, value in weights.items()}
    c_attended, c_attention = (c.astype("float64") for c in cotangents)
    output_dim = w["W_z"].shape[0]
    visual_proj = visual @ w["U"] + w.get("U_bias", 0.0)  # (N, S, W)
    audio_proj = audio @ w["V"] + w.get("V_bias", 0.0)  # (N, W)
    product = visual_proj * audio_proj[:, None, :]
    windows = product.shape[:-1] + (output_dim, -1)
    pooled = product.reshape(windows).sum(-1)
    powered = np.sign(pooled) * np.sqrt(np.abs(pooled) + eps)
    scale = 1.0 / np.sqrt(np.maximum((powered**2).sum(-1, keepdims=True), eps * eps))
    normalized = powered * scale
    logits = normalized @ w["W_z"][:, 0] + w["b_z"][0]
    attention = np.exp(logits - logits.max(-1, keepdims=True))
    attention /= attention.sum(-1, keepdims=True)
    # attended = sum_s attention_s visual_s
    d_attention = c_attention + np.einsum("nsd,nd->ns", visual, c_attended)
    d_visual = attention[..., None] * c_attended[:, None, :]
    d_logits = attention * (d_attention - (attention * d_attention).sum(-1, keepdims=True))
    grads = {"W_z": np.einsum("nsj,ns->j", normalized, d_logits)[:, None], "b_z": d_logits.sum()[None]}
    d_normalized = d_logits[..., None] * w["W_z"][:, 0]
    d_powered = scale * d_normalized - scale**3 * powered * (powered * d_normalized).sum(-1, keepdims=True)
    d_pooled = d_powered * np.sign(pooled) ** 2 / (2 * np.sqrt(np.abs(pooled) + eps))
    d_product = np.repeat(d_pooled, product.shape[-1] // output_dim, axis=-1)
    d_visual_proj = d_product * audio_proj[:, None, :]
    d_audio_proj = (d_product * visual_proj).sum(1)
    grads["U"] = np.einsum("nsd,nsw->dw", visual, d_visual_proj)
    grads["V"] = audio.T @ d_audio_proj
    if "U_bias" in w:
        grads["U_bias"] = d_visual_proj.sum((0, 1))
        grads["V_bias"] = d_audio_proj.sum(0)
    grads["visual"] = d_visual + d_visual_proj @ w["U"].T
    grads["audio"] = d_audio_proj @ w["V"].T
    return grads


def numpy_loss(visual, audio, weights, cotangents):
    attended, attention = numpy_mfb(visual, audio, weights)
    return float((attended * cotangents[0]).sum() + (attention * cotangents[1]).sum())


@pytest.mark.parametrize("use_bias", [False, True])
def test_numpy_gradients_match_central_differences(use_bias):
    """The hand-written NumPy gradients against central differences of the
    NumPy forward in float64, along one random direction per input."""
    visual, audio = random_inputs()
    weights = named_weights(layer_pair(use_bias)[0])
    cotangents = cotangents_for(visual)
    grads = numpy_mfb_gradients(visual, audio, weights, cotangents)
    rng = np.random.default_rng(7)
    point = dict(weights, visual=visual.astype("float64"), audio=audio.astype("float64"))
    step = 1e-6
    for name, value in point.items():
        direction = rng.standard_normal(value.shape)
        losses = []
        for sign in (1.0, -1.0):
            moved = dict(point, **{name: value + sign * step * direction})
            inputs = {k: v for k, v in moved.items() if k not in ("visual", "audio")}
            losses.append(numpy_loss(moved["visual"], moved["audio"], inputs, cotangents))
        expected = (losses[0] - losses[1]) / (2 * step)
        got = float((grads[name] * direction).sum())
        # 1e-8 absolute: the differences' own rounding (d/db_z is 0 exactly).
        assert abs(got - expected) <= 1e-6 * float(np.abs(grads[name] * direction).sum()) + 1e-8, name


@pytest.mark.parametrize("use_bias", [False, True])
def test_gradients_match_the_numpy_gradients(use_bias):
    visual, audio = random_inputs()
    reference, fused_layer = layer_pair(use_bias)
    weights = named_weights(reference)
    cotangents = cotangents_for(visual)
    expected = numpy_mfb_gradients(visual, audio, weights, cotangents)
    for layer in (fused_layer, reference):
        _, grads = outputs_and_gradients(layer_call(layer), weights, visual, audio, cotangents)
        assert_gradients_close(grads, {name: expected[name] for name in grads})


def test_ave_size_matches_numpy_as_closely_as_the_reference():
    """At AVE's dimensions (49 regions, d_v 512, d_a 128, factor 5, output
    256; 4 segments in 2 tiles), the fused path's outputs and gradients are
    as close to the float64 NumPy transcription as the float32 reference
    path's are. The signed square root makes the gradients ill-conditioned
    where a pooled value is near 0 (both float32 paths are off by percents
    there), so the test compares the two paths' errors (relative Frobenius
    norms) instead of applying one fixed tolerance."""
    rng = np.random.default_rng(8)
    segments, regions, visual_dim, audio_dim, factor, output_dim = 4, 49, 512, 128, 5, 256
    visual = rng.random((segments, regions, visual_dim), dtype="float32")
    audio = rng.random((segments, audio_dim), dtype="float32")
    layer = MFBPooling(factor, output_dim, fused=False)
    layer.build([visual.shape, audio.shape])
    weights = named_weights(layer)
    cotangents = (
        rng.standard_normal((segments, visual_dim)).astype("float32"),
        rng.standard_normal((segments, regions)).astype("float32"),
    )
    expected_outputs = numpy_mfb(visual, audio, weights)
    expected_grads = numpy_mfb_gradients(visual, audio, weights, cotangents)
    relative = lambda found, want: float(np.linalg.norm(found - want) / np.linalg.norm(want))
    errors = {}
    for path, call in (("reference", layer_call(layer)), ("fused", op_call(2))):
        outputs, grads = outputs_and_gradients(call, weights, visual, audio, cotangents)
        errors[path] = {name: relative(found, want)
                        for name, found, want in zip(("attended", "attention"), outputs, expected_outputs)}
        errors[path].update({name: relative(grads[name], expected_grads[name])
                             for name in grads if name != "b_z"})  # b_z: 0 up to rounding
    for name, error in errors["fused"].items():
        assert error <= max(3 * errors["reference"][name], 1e-5), (name, errors)
