"""PSP's audio-visual pair similarity (AVPS) loss, supervised regime (Zhou et
al., CVPR 2021, eqs. 8-9; `measure.py::AVPSLoss` and the target of
`dataloader.py::get_segment_wise_relation` in github:jasongief/PSP_CVPR_2021).

With s (T,) the cosine similarities of each segment's audio-visual pair and E
the segments labelled with the video's first class, the class of lowest index
among its segment labels (its event class; background, the last class, only
for a video without event segments):

    r_t = relu(s_t) / (sum_u relu(s_u) + eps)
    y_t = 1 / |E| if t in E else 0
    AVPS = mean_t (r_t - y_t)^2   (`nn.MSELoss`)

The target y is the one `dataloader.py::get_segment_wise_relation` computes
(`category_bg_cols.sort()`, then the first column), built here from the one-hot
segment labels (B, T, C) the supervised regime trains on, so the loss sits
beside the classification loss on the same labels. The released loader writes
y into a buffer it never clears (`segment_avps_gt_batch`): a segment outside E
keeps whatever value the video at the same batch position had set there in an
earlier batch. That is a stale value, not the paper's target (eq. 9: zero off
the event segments); this loss uses the paper's zero.

Padded segments (clips shorter than T) have all-zero label rows
(`keras_avl.models.registry.fit_targets` zeroes them): they count neither in
E nor in the sums and means over t, which run over the n real segments R:

    r_t = relu(s_t) / (sum_{u in R} relu(s_u) + eps),  AVPS = 1/n sum_{t in R} (r_t - y_t)^2
"""

import keras
from keras import ops

from keras_avl.losses.segment_labels import mean_over_real_segments, real_segments

EPSILON = 1e-8


def event_segment_targets(segment_labels):
    """y of the docstring: (B, T) from one-hot segment labels (B, T, C)."""
    labels = ops.cast(segment_labels, "float32")
    present = ops.max(labels, axis=1)  # (B, C): the classes of the video
    # argmax takes the first maximum: the present class of lowest index.
    first = ops.one_hot(ops.argmax(present, axis=-1), ops.shape(labels)[-1])
    in_first = ops.sum(labels * ops.expand_dims(first, 1), axis=-1)
    count = ops.sum(in_first, axis=-1, keepdims=True)
    return in_first / ops.maximum(count, 1.0)


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
        similarity = ops.relu(ops.cast(y_pred, "float32")) * real_segments(y_true)
        r = similarity / (ops.sum(similarity, axis=-1, keepdims=True) + EPSILON)
        return mean_over_real_segments(ops.square(r - event_segment_targets(y_true)), y_true)
