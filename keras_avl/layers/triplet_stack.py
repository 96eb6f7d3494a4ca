"""Packs the three SWAB outputs of the unsupervised regime (§3.7) into the
single `(B, 3, T, D)` tensor that `GramTripletLoss` reads as `y_pred`.

Padded segments (see `keras_avl.layers.SegmentMask`) are zeroed, so that the
Gram matrices of AVTGML (eqs. 13-15) cover the real segments only."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_avl")
class TripletStack(keras.layers.Layer):
    """Stacks `[visual, audio_positive, audio_negative]` on axis 1.

    Call arguments:
        inputs: list of three tensors of shape `(B, T, D)`.
        mask: optional list of three boolean `(B, T)` masks (or None); the
            rows of padded segments are set to zero.

    Returns:
        A tensor of shape `(B, 3, T, D)`.

    Example:

    >>> import numpy as np
    >>> x = [np.zeros((2, 10, 4), "float32")] * 3
    >>> tuple(TripletStack()(x).shape)
    (2, 3, 10, 4)
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def build(self, input_shape):
        shapes = [tuple(shape) for shape in input_shape]
        if len(shapes) != 3 or any(shape != shapes[0] for shape in shapes[1:]):
            raise ValueError(
                "TripletStack expects three inputs [visual, audio_positive, "
                f"audio_negative] of one shape (B, T, D); received {shapes}."
            )

    def call(self, inputs, mask=None):
        masks = mask if mask is not None else [None] * len(inputs)
        inputs = [
            x if m is None else x * ops.expand_dims(ops.cast(m, x.dtype), -1)
            for x, m in zip(inputs, masks)
        ]
        return ops.stack(inputs, axis=1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape[0])
        return (shape[0], 3) + shape[1:]
