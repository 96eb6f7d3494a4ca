"""x W + b (optionally through a ReLU) whose gradient runs on the matrix units.

The gradient of a bias added to an (N, d) product is the column sum of the
upstream gradient, which TensorFlow takes as a reduction over the N rows
(`Sum`). On a CPU that reduction runs far below the memory bandwidth: at
A+V-att's AVE size (N = 31,360 region rows, d = 512) 18.1 ms in float32 and
11.3 ms in bfloat16, against 3.8 / 3.4 ms as the product 1_N^T G. Here the
input, weight and bias gradients are all matrix products and the ReLU's mask
is applied once to the upstream gradient; the forward is one 2-D product,
which TensorFlow's oneDNN fuses with the bias and the ReLU. Forward and
backward of that projection: 1.11x (float32) and 1.12x (bfloat16) autodiff's
on TensorFlow, 1.34x and 1.65x on JAX
(`benchmarks/results/affine_cpu_{tensorflow,jax}.json`, 2-core CPU). Forward
values equal `relu(x @ W + b)`; the gradients differ from autodiff's only in
summation order.

On PyTorch it is plain autodiff: a custom gradient there (an
`autograd.Function`, run eagerly) would always compute the input gradient,
which autograd skips for the model's input features (at AVE size a
31,360 x 512 x 512 product per projection and step); under `jax.jit` and
`tf.function` the unused gradient is pruned from the program.
"""

import functools

import keras
from keras import ops


def affine(x, kernel, bias, relu=False):
    """`x @ kernel + bias`, through `relu` when `relu=True`.

    Args:
        x: tensor of shape `(..., d_in)`.
        kernel: tensor of shape `(d_in, d_out)` (a variable's `.value`, so
            that a mixed-precision policy's autocast applies).
        bias: tensor of shape `(d_out,)`.
        relu: whether to apply a ReLU.

    Returns:
        Tensor of shape `(..., d_out)`.

    Example:

    >>> import numpy as np
    >>> x = np.ones((2, 3, 4), "float32")
    >>> kernel, bias = np.full((4, 5), -1.0, "float32"), np.arange(5, dtype="float32")
    >>> np.asarray(affine(x, kernel, bias, relu=True))[0, 0].tolist()
    [0.0, 0.0, 0.0, 0.0, 0.0]
    >>> np.asarray(affine(x, kernel, bias))[0, 0].tolist()
    [-4.0, -3.0, -2.0, -1.0, 0.0]
    """
    if keras.backend.backend() == "torch":
        y = ops.matmul(x, kernel) + bias
        return ops.relu(y) if relu else y
    return _affine_with_gradient(bool(relu))(x, kernel, bias)


@functools.cache
def _affine_with_gradient(relu):
    @ops.custom_gradient
    def affine_(x, kernel, bias):
        rows = ops.reshape(x, (-1, ops.shape(x)[-1]))
        y = ops.matmul(rows, kernel) + bias
        if relu:
            y = ops.relu(y)

        def grad(upstream):
            g = ops.reshape(upstream, ops.shape(y))
            if relu:
                g = ops.where(y > 0, g, ops.zeros_like(g))
            d_x = ops.reshape(ops.matmul(g, ops.transpose(kernel)), ops.shape(x))
            d_kernel = ops.matmul(ops.transpose(rows), g)
            d_bias = ops.squeeze(ops.matmul(ops.ones((1, ops.shape(g)[0]), g.dtype), g), 0)
            return d_x, d_kernel, d_bias

        return ops.reshape(y, tuple(ops.shape(x)[:-1]) + (ops.shape(kernel)[-1],)), grad

    return affine_
