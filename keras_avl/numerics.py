"""Numerically safe pieces shared by the layers and losses.

They always compute in float32 (also under a mixed-precision policy), because
the signed square root of eq. 4, the L2 and Frobenius normalisations of eqs. 4
and 14 lose too much in float16, and must give finite gradients at exactly zero:
AVE contains all-zero visual regions.
"""

from keras import ops

EPSILON = 1e-12


def signed_sqrt(x):
    """sign(x) * sqrt(|x|) in float32, with a finite gradient at x = 0 (eq. 4)."""
    x = ops.cast(x, "float32")
    return ops.sign(x) * ops.sqrt(ops.abs(x) + EPSILON)


def safe_l2_normalize(x, axis=-1):
    """x / max(||x||_2, eps) along `axis` in float32, finite gradient at x = 0."""
    x = ops.cast(x, "float32")
    square_sum = ops.sum(ops.square(x), axis=axis, keepdims=True)
    return x * ops.rsqrt(ops.maximum(square_sum, EPSILON * EPSILON))


def softmax_at_least_float32(x, dtype, axis=-1):
    """The softmax of `x` in float32 (float64 under a float64 policy), cast to `dtype`."""
    work = "float64" if dtype == "float64" else "float32"
    return ops.cast(ops.softmax(ops.cast(x, work), axis=axis), dtype)


def attend_regions(scores, visual, dtype):
    """`(attended, attention)`: the softmax over the S regions of `scores`
    (..., S), taken in at least float32 and cast to `dtype`, and the
    attention-weighted sum of `visual` (..., S, d_v) over its regions (eqs.
    5-6; A+V-att; CMBS)."""
    attention = softmax_at_least_float32(scores, dtype)
    # A (1, S) x (S, d_v) product per segment rather than a broadcast multiply
    # and a sum: neither pass nor its gradient writes an (..., S, d_v) tensor.
    attended = ops.squeeze(ops.matmul(ops.expand_dims(attention, -2), visual), -2)
    return attended, attention
