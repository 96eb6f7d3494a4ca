"""PSP's audio-visual pair similarity (AVPS) loss, supervised regime (Zhou et
al., CVPR 2021, eqs. 8-9; `measure.py::AVPSLoss` and the target of
`dataloader.py::get_segment_wise_relation` in github:jasongief/PSP_CVPR_2021).

With s (T,) the cosine similarities of each segment's audio-visual pair and E
the segments of the video's event (not background):

    r_t = relu(s_t) / (sum_u relu(s_u) + eps)
    y_t = 1 / |E| if t in E else 0          (0 everywhere when E is empty)
    AVPS = mean_t (r_t - y_t)^2

The target is built from the one-hot segment labels (B, T, C) the supervised
regime trains on (background = the last class), so the loss sits beside the
classification loss on the same labels.
"""

import keras
from keras import ops

EPSILON = 1e-8


def event_segment_targets(segment_labels):
    """y of the docstring: (B, T) from one-hot segment labels (B, T, C)."""
    event = 1.0 - ops.cast(segment_labels, "float32")[..., -1]
    count = ops.sum(event, axis=-1, keepdims=True)
    return event / ops.maximum(count, 1.0)


@keras.saving.register_keras_serializable(package="keras_avl")
class AVPSLoss(keras.losses.Loss):
    """AVPS loss of `y_pred` (B, T) similarities against segment labels (B, T, C).

    Example:

    >>> import numpy as np
    >>> labels = np.eye(3, dtype="float32")[[[0, 0, 2, 2]]]  # 2 event segments
    >>> similarity = np.array([[1.0, 1.0, -1.0, -0.5]], "float32")
    >>> float(AVPSLoss()(labels, similarity))  # r = y = (0.5, 0.5, 0, 0)
    0.0
    """

    def __init__(self, name="avps_loss", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        similarity = ops.relu(ops.cast(y_pred, "float32"))
        r = similarity / (ops.sum(similarity, axis=-1, keepdims=True) + EPSILON)
        return ops.mean(ops.square(r - event_segment_targets(y_true)), axis=-1)
