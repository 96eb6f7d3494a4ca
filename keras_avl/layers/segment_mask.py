"""The boolean segment mask of a batch of clips (SPEC §5, `segment_mask.h5`).

Clips shorter than T seconds are padded at the end; their padded segments must
not reach the real ones: the temporal LSTMs (eq. 8) skip them, SWAB gives them
alpha = 0 and leaves them out of its global pooling (eqs. 9-10), MIL pooling
averages over the real segments only (§3.6), and the loss and the accuracy of
the supervised regime ignore them. The models take the mask as an optional
input `segment_mask` (B, T), 1 = real segment; this layer turns it into the
boolean `mask=` argument of those layers, all True when it is left out.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_avl")
class SegmentMask(keras.layers.Layer):
    """`segment_mask` (B, T) of 0/1 -> a boolean (B, T) mask.

    Call arguments:
        inputs: a tensor `(B, T, ...)` of the clips (gives B and T when
            `segment_mask` is None).
        segment_mask: optional `(B, T)`, nonzero for a real segment; None
            means every segment is real.

    Returns:
        A boolean tensor of shape `(B, T)`.

    Example:

    >>> import numpy as np
    >>> from keras import ops
    >>> audio = np.zeros((2, 3, 4), "float32")
    >>> mask = np.array([[1, 1, 0], [1, 0, 0]], "float32")
    >>> ops.convert_to_numpy(SegmentMask()(audio, mask)).tolist()
    [[True, True, False], [True, False, False]]
    >>> ops.convert_to_numpy(SegmentMask()(audio)).tolist()
    [[True, True, True], [True, True, True]]
    """

    def call(self, inputs, segment_mask=None):
        if segment_mask is None:
            return ops.ones(ops.shape(inputs)[:2], dtype="bool")
        return ops.not_equal(segment_mask, 0)

    def compute_output_spec(self, inputs, segment_mask=None):
        return keras.KerasTensor(tuple(inputs.shape[:2]), dtype="bool")


def merge_masks(mask):
    """One boolean (B, T) mask from a layer's `mask` argument: None, a mask,
    or a list of masks (one per input, as Keras fills it in for a layer of
    several inputs; None entries are ignored); None when there is none.

    Example:

    >>> import numpy as np
    >>> from keras import ops
    >>> m = np.array([[True, False]])
    >>> ops.convert_to_numpy(merge_masks([None, m, m])).tolist(), merge_masks([None])
    ([[True, False]], None)
    """
    masks = [m for m in (mask if isinstance(mask, (list, tuple)) else [mask]) if m is not None]
    if not masks:
        return None
    merged = ops.cast(masks[0], "bool")
    for other in masks[1:]:
        merged = ops.logical_and(merged, ops.cast(other, "bool"))
    return merged
