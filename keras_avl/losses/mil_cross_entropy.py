"""The loss of the weakly supervised regime (§3.6): MIL pooling (the mean over
segments of the per-segment class probabilities) followed by the cross-entropy
against the video label."""

from keras import ops

from keras_avl.numerics import EPSILON


def mil_cross_entropy(video_labels, segment_probabilities):
    """Cross-entropy of the MIL-pooled prediction against the video label.

    Args:
        video_labels: `(B, C)` one-hot (or multi-hot normalised) video labels.
        segment_probabilities: `(B, T, C)` per-segment class probabilities.

    Returns:
        The loss of every video, shape `(B,)`, float32.

    Example:

    >>> import numpy as np
    >>> p = np.full((1, 10, 4), 0.25, "float32")
    >>> y = np.eye(4, dtype="float32")[[2]]
    >>> round(float(mil_cross_entropy(y, p)[0]), 4)  # -log(0.25)
    1.3863
    """
    video_probabilities = ops.mean(ops.cast(segment_probabilities, "float32"), axis=1)
    labels = ops.cast(video_labels, "float32")
    return -ops.sum(labels * ops.log(ops.maximum(video_probabilities, EPSILON)), axis=-1)
