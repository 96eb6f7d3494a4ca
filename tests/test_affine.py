"""`keras_avl.ops.affine`: forward values and the gradients (hand-written on
TensorFlow and JAX, autodiff on PyTorch) against a NumPy transcription of
x W + b (+ ReLU) and its derivatives, on every backend, in float32 and
float64, plus the dtypes under bfloat16."""

import numpy as np
import pytest

import keras
from keras import ops

from keras_avl.ops import affine

BACKEND = keras.backend.backend()
pytestmark = pytest.mark.multibackend


def numpy_affine(x, kernel, bias, upstream, relu):
    """(y, dx, dkernel, dbias) of y = [relu](x W + b) with upstream dL/dy."""
    rows = x.reshape(-1, x.shape[-1])
    pre = rows @ kernel + bias
    y = np.maximum(pre, 0.0) if relu else pre
    g = upstream.reshape(y.shape) * ((pre > 0) if relu else 1.0)
    return (y.reshape(x.shape[:-1] + (kernel.shape[1],)), (g @ kernel.T).reshape(x.shape),
            rows.T @ g, g.sum(axis=0))


def value_and_gradients(x, kernel, bias, upstream, relu):
    """affine's output and the gradients of sum(y * upstream), by the backend."""
    x, kernel, bias, upstream = (ops.convert_to_tensor(a) for a in (x, kernel, bias, upstream))

    def loss(x, kernel, bias):
        y = affine(x, kernel, bias, relu=relu)
        return ops.sum(y * upstream), y

    if BACKEND == "jax":
        import jax

        grads, y = jax.grad(loss, argnums=(0, 1, 2), has_aux=True)(x, kernel, bias)
    elif BACKEND == "torch":
        import torch

        inputs = [t.detach().clone().requires_grad_(True) for t in (x, kernel, bias)]
        total, y = loss(*inputs)
        total.backward()
        grads = [t.grad for t in inputs]
    else:
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch([x, kernel, bias])
            total, y = loss(x, kernel, bias)
        grads = tape.gradient(total, [x, kernel, bias])
    return [np.asarray(ops.convert_to_numpy(t)) for t in (y, *grads)]


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("dtype, rtol", [("float32", 1e-5), ("float64", 1e-12)])
def test_values_and_gradients_equal_numpy(relu, dtype, rtol):
    if dtype == "float64" and BACKEND != "tensorflow":
        # JAX runs float64 as float32 unless x64 is enabled; Keras' PyTorch
        # matmul returns float32 for float64 inputs (Keras 3.15).
        pytest.skip(f"float64 products are float32 on {BACKEND}")
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 5, 7)).astype(dtype)
    kernel = rng.normal(size=(7, 4)).astype(dtype)
    bias = rng.normal(size=(4,)).astype(dtype)
    upstream = rng.normal(size=(2, 3, 5, 4)).astype(dtype)
    expected = numpy_affine(x, kernel, bias, upstream, relu)
    if relu:  # some units off and some on, so that the mask is exercised
        assert 0 < (expected[0] > 0).mean() < 1
    for name, got, want in zip(("y", "d_x", "d_kernel", "d_bias"),
                               value_and_gradients(x, kernel, bias, upstream, relu), expected):
        assert got.shape == want.shape, name
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol, err_msg=name)


def test_bfloat16_in_bfloat16_out():
    x = ops.ones((2, 3, 4), "bfloat16")
    kernel, bias = ops.ones((4, 5), "bfloat16"), ops.zeros((5,), "bfloat16")
    y = affine(x, kernel, bias, relu=True)
    assert keras.backend.standardize_dtype(y.dtype) == "bfloat16"
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.cast(y, "float32")), np.full((2, 3, 5), 4.0))
