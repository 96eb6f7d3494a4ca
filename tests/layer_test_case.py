"""A shared layer test, in the spirit of keras-hub's `run_layer_test`.

For one layer class and its constructor arguments it checks: symbolic and
eager output shapes, the `get_config` / `from_config` round trip, a `.keras`
save / load of a model holding the layer with identical outputs, one training
step of a model holding the layer (finite loss, its weights move and stay
finite), and runs under the `mixed_float16` and `mixed_bfloat16` policies
(outputs in the compute dtype, finite; weights in float32).
"""

import keras
import numpy as np
from keras import ops


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _shapes(outputs):
    return [tuple(output.shape) for output in _as_list(outputs)]


def run_layer_test(
    layer_cls,
    init_kwargs,
    input_data,
    expected_output_shapes,
    tmp_path,
    call_kwargs=None,
    expected_num_trainable_weights=None,
    run_mixed_precision=True,
    symbolic_output_shapes=None,
):
    """Runs the shared checks; `input_data` is an array or a list of arrays,
    `expected_output_shapes` a list with one shape (batch included) per output.
    `symbolic_output_shapes` (batch excluded) replaces the expected shapes of
    the symbolic call for outputs with a dimension that is only known eagerly
    (e.g. one of batch size)."""
    call_kwargs = call_kwargs or {}
    expected = [tuple(shape) for shape in expected_output_shapes]
    arrays = _as_list(input_data)
    multiple_inputs = isinstance(input_data, (list, tuple))

    # Symbolic call: shapes without the batch dimension must agree.
    layer = layer_cls(**init_kwargs)
    symbolic_inputs = [keras.Input(array.shape[1:]) for array in arrays]
    symbolic_outputs = layer(
        symbolic_inputs if multiple_inputs else symbolic_inputs[0], **call_kwargs
    )
    symbolic_expected = (
        [tuple(shape) for shape in symbolic_output_shapes]
        if symbolic_output_shapes is not None
        else [shape[1:] for shape in expected]
    )
    assert [shape[1:] for shape in _shapes(symbolic_outputs)] == symbolic_expected, (
        f"symbolic output shapes {_shapes(symbolic_outputs)} != {symbolic_expected}"
    )
    if expected_num_trainable_weights is not None:
        assert len(layer.trainable_weights) == expected_num_trainable_weights

    # Eager call.
    layer = layer_cls(**init_kwargs)
    eager_outputs = layer(input_data, **call_kwargs)
    assert _shapes(eager_outputs) == expected
    for output in _as_list(eager_outputs):
        assert np.all(np.isfinite(ops.convert_to_numpy(output)))

    # Config round trip.
    config = layer.get_config()
    revived = layer_cls.from_config(config)
    assert revived.get_config() == config

    # .keras save / load of a model that holds the layer.
    model = keras.Model(
        symbolic_inputs,
        layer(symbolic_inputs if multiple_inputs else symbolic_inputs[0], **call_kwargs),
    )
    before = [ops.convert_to_numpy(x) for x in _as_list(model(arrays))]
    path = tmp_path / f"{layer_cls.__name__}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    after = [ops.convert_to_numpy(x) for x in _as_list(loaded(arrays))]
    for old, new in zip(before, after):
        np.testing.assert_allclose(old, new, rtol=1e-6, atol=1e-6)
    loaded_layer = next(l for l in loaded.layers if isinstance(l, layer_cls))
    assert loaded_layer.get_config() == layer.get_config()

    _check_training_step(layer_cls, init_kwargs, arrays, multiple_inputs, call_kwargs)

    if run_mixed_precision:
        for policy, compute_dtype in (("mixed_float16", "float16"),
                                      ("mixed_bfloat16", "bfloat16")):
            layer = layer_cls(**init_kwargs, dtype=policy)
            outputs = layer(input_data, **call_kwargs)
            for output in _as_list(outputs):
                assert keras.backend.standardize_dtype(output.dtype) == compute_dtype, policy
                values = ops.convert_to_numpy(ops.cast(output, "float32"))
                assert np.all(np.isfinite(values)), policy
            for weight in layer.weights:
                assert keras.backend.standardize_dtype(weight.dtype) == "float32", policy


def _check_training_step(layer_cls, init_kwargs, arrays, multiple_inputs, call_kwargs):
    """One SGD step on a model whose per-example loss input is the sum of the
    means of the layer's outputs: gradients reach the layer's weights."""
    symbolic_inputs = [keras.Input(array.shape[1:]) for array in arrays]
    layer = layer_cls(**init_kwargs)
    outputs = _as_list(layer(symbolic_inputs if multiple_inputs else symbolic_inputs[0],
                             **call_kwargs))
    score = sum(ops.mean(output, axis=tuple(range(1, len(output.shape))))
                for output in outputs)
    model = keras.Model(symbolic_inputs, score)
    if not layer.trainable_weights:
        return
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", run_eagerly=True)
    before = [ops.convert_to_numpy(weight) for weight in layer.trainable_weights]
    targets = np.ones(len(arrays[0]), "float32")
    loss = model.train_on_batch(arrays, targets)
    assert np.isfinite(loss)
    after = [ops.convert_to_numpy(weight) for weight in layer.trainable_weights]
    assert all(np.all(np.isfinite(value)) for value in after)
    assert any(not np.array_equal(old, new) for old, new in zip(before, after)), (
        "a training step left every weight of the layer unchanged")
