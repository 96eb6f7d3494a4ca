"""Real segments read from segment labels (B, T, C), for the losses of the
methods (PSP's AVPS loss, CMBS's foreground loss) whose terms are per segment.

Padded segments of clips shorter than T (`segment_mask` 0) get all-zero label
rows: `keras_avl.models.registry.fit_targets` zeroes them before the labels
reach these losses, which then average over the real segments only.
"""

from keras import ops


def real_segments(segment_labels):
    """(B, T) float32: 1 where the label row is not all zero (a real segment).

    Example:

    >>> import numpy as np
    >>> labels = np.array([[[0, 1], [1, 0], [0, 0]]], "float32")
    >>> ops.convert_to_numpy(real_segments(labels)).tolist()
    [[1.0, 1.0, 0.0]]
    """
    return ops.cast(ops.sum(ops.cast(segment_labels, "float32"), axis=-1) > 0, "float32")


def mean_over_real_segments(values, segment_labels):
    """The mean over t of (B, T) `values` at the real segments of the labels
    (0 for a video without any).

    Example:

    >>> import numpy as np
    >>> labels = np.array([[[0, 1], [1, 0], [0, 0]]], "float32")
    >>> ops.convert_to_numpy(mean_over_real_segments(np.array([[1.0, 3.0, 9.0]]), labels)).tolist()
    [2.0]
    """
    real = real_segments(segment_labels)
    return ops.sum(values * real, axis=-1) / ops.maximum(ops.sum(real, axis=-1), 1.0)
