"""MIL pooling of the weakly supervised regime (§3.6).

The video-level prediction is the mean over the segments of the per-segment
class probabilities (as in Tian et al.'s AVE); the loss is the cross-entropy of
that mean against the video label.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_avl")
class MILPooling(keras.layers.Layer):
    """Averages per-segment class probabilities into a video prediction.

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

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
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
