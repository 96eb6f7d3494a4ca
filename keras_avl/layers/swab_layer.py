"""Segment-Wise Attention Block, SWAB (eqs. 9-11).

Global information about the whole video (mean and/or max over the segments of
the LSTM outputs h_t) gates every segment's own projection; the gated vector
P_t is scored and soft-maxed over the segments into alpha_t (eq. 10), which
scales h_t (eq. 11).

Since alpha sums to one over the T segments, s_t = alpha_t h_t is about h_t / T
(a tenth of h_t on AVE); `rescale=True` multiplies s_t by the number of real
segments, so that a uniform alpha gives s_t = h_t (not in the paper; see
docs/reproducing_the_paper.md).
"""

import keras
from keras import ops

from keras_avl.validation import check_choice, check_positive_int

POOLINGS = ("mean", "max", "mean+max")


@keras.saving.register_keras_serializable(package="keras_avl")
class SWABLayer(keras.layers.Layer):
    """Segment-wise attention over a sequence of segment features.

    Args:
        units: int, the size of the gates g and g-bar of eq. 9.
        pooling: one of `"mean"`, `"max"` or `"mean+max"` (the paper's
            default): which global pooling feeds g-tilde (Table 3).
        rescale: bool, multiply s_t by the number of real segments (False:
            eq. 11 as written).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Weights carry the paper's names: `W_g`, `b_g` (shared by the mean and the
    max branch), `W_gbar`, `b_gbar`, `W_alpha`, `b_alpha`.

    Call arguments:
        inputs: h of shape `(B, T, D)`.
        mask: optional boolean `(B, T)`, False for padded segments (videos
            shorter than T). Padded segments get alpha = 0 and enter neither
            the mean nor the max; a video without a real segment gets
            s = 0 and alpha = 0.

    Returns:
        Tuple `(s, alpha)`: s `(B, T, D)` of eq. 11 and alpha `(B, T)` of
        eq. 10 (sums to one over the valid segments).

    Example:

    >>> import numpy as np
    >>> layer = SWABLayer(units=8)
    >>> s, alpha = layer(np.random.rand(2, 10, 16).astype("float32"))
    >>> tuple(s.shape), tuple(alpha.shape)
    ((2, 10, 16), (2, 10))
    """

    def __init__(self, units=128, pooling="mean+max", rescale=False, **kwargs):
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.pooling = check_choice("pooling", pooling, POOLINGS)
        if not isinstance(rescale, bool):
            raise ValueError(f"`rescale` must be True or False; received rescale={rescale!r}.")
        self.rescale = rescale
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                "SWABLayer expects inputs of shape (B, T, D) with known D; "
                f"received shape {tuple(input_shape)}."
            )
        dim = input_shape[-1]
        self.W_g = self.add_weight(
            name="W_g", shape=(dim, self.units), initializer="glorot_uniform"
        )
        self.b_g = self.add_weight(name="b_g", shape=(self.units,), initializer="zeros")
        self.W_gbar = self.add_weight(
            name="W_gbar", shape=(dim, self.units), initializer="glorot_uniform"
        )
        self.b_gbar = self.add_weight(
            name="b_gbar", shape=(self.units,), initializer="zeros"
        )
        self.W_alpha = self.add_weight(
            name="W_alpha", shape=(self.units, 1), initializer="glorot_uniform"
        )
        self.b_alpha = self.add_weight(name="b_alpha", shape=(1,), initializer="zeros")

    def call(self, inputs, mask=None):
        h = inputs
        if mask is None:
            mask = ops.ones(ops.shape(h)[:2], dtype="bool")
        valid = ops.expand_dims(ops.cast(mask, h.dtype), -1)  # (B, T, 1)
        gate_global = 0.0
        if "mean" in self.pooling:
            count = ops.maximum(ops.sum(valid, axis=1), 1.0)
            r_ave = ops.sum(h * valid, axis=1) / count
            gate_global += ops.relu(ops.matmul(r_ave, self.W_g) + self.b_g)
        if "max" in self.pooling:
            # Padded segments must never win the max; -1e9 overflows float16,
            # so the max is taken in float32, and a video without a real
            # segment gets r_max = 0 (as its r_ave), not the fill value.
            r_max = ops.max(
                ops.where(ops.expand_dims(mask, -1), ops.cast(h, "float32"), -1e9),
                axis=1,
            )
            r_max = ops.where(ops.any(mask, axis=1, keepdims=True), r_max, 0.0)
            r_max = ops.cast(r_max, h.dtype)
            gate_global += ops.relu(ops.matmul(r_max, self.W_g) + self.b_g)
        gate_local = ops.relu(ops.matmul(h, self.W_gbar) + self.b_gbar)  # (B,T,U)
        p = gate_local * ops.expand_dims(gate_global, 1)  # eq. 9
        logits = ops.squeeze(ops.matmul(p, self.W_alpha), -1) + self.b_alpha
        logits = ops.where(mask, ops.cast(logits, "float32"), -1e9)
        alpha = ops.softmax(logits, axis=-1) * ops.cast(mask, "float32")  # eq. 10
        weights = alpha
        if self.rescale:
            weights = alpha * ops.sum(ops.cast(mask, "float32"), axis=1, keepdims=True)
        alpha = ops.cast(alpha, self.compute_dtype)
        s = ops.expand_dims(ops.cast(weights, self.compute_dtype), -1) * h  # eq. 11
        return s, alpha

    def compute_mask(self, inputs, mask=None):
        return mask, None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape), tuple(input_shape[:2])

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "pooling": self.pooling, "rescale": self.rescale})
        return config
