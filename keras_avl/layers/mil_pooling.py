"""MIL pooling of the weakly supervised regime (§3.6).

The video-level prediction is the mean over the segments of the per-segment
class probabilities (as in Tian et al.'s AVE); the loss is the cross-entropy of
that mean against the video label. The released A+V-att weak model instead
takes the max over the segments of its class scores (`pooling="max"`).
"""

import keras
from keras import ops

from keras_avl.validation import check_choice

POOLINGS = ("mean", "max")


@keras.saving.register_keras_serializable(package="keras_avl")
class MILPooling(keras.layers.Layer):
    """Pools per-segment class probabilities (or scores) into a video prediction.

    Args:
        pooling: `"mean"` (the paper's MIL pooling, the default) or `"max"`
            over the real segments.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: probabilities of shape `(B, T, C)`.
        mask: optional boolean `(B, T)`; padded segments are left out.

    Returns:
        Video-level probabilities of shape `(B, C)`.

    Example:

    >>> import numpy as np
    >>> p = np.full((2, 10, 29), 1 / 29, dtype="float32")
    >>> tuple(MILPooling()(p).shape)
    (2, 29)
    """

    def __init__(self, pooling="mean", **kwargs):
        super().__init__(**kwargs)
        self.pooling = check_choice("pooling", pooling, POOLINGS)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if self.pooling == "max":
            if mask is None:
                return ops.max(inputs, axis=1)
            # A padded segment never wins; a video without a real segment gives 0.
            real = ops.expand_dims(mask, -1)
            lowest = ops.min(inputs, axis=(1, 2), keepdims=True)
            best = ops.max(ops.where(real, inputs, lowest), axis=1)
            return ops.where(ops.any(real, axis=1), best, ops.zeros_like(best))
        if mask is None:
            return ops.mean(inputs, axis=1)
        valid = ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
        return ops.sum(inputs * valid, axis=1) / ops.maximum(
            ops.sum(valid, axis=1), 1.0
        )

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        config = super().get_config()
        config.update({"pooling": self.pooling})
        return config
