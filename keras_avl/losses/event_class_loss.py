"""CMBS's event-level loss (Xia & Zhao, CVPR 2022; `supv_main.py` of
github:marmot-xy/CMBS): the cross-entropy of video-level logits over the C - 1
event classes against the video's event class, read from the one-hot segment
labels (B, T, C) (background = last class), as the code reads it
(`labels_evn = labels[..., :-1].max(-1)[1]; labels_event = labels_evn.max(-1)[0]`):

    k = max_t argmax_c y_t,c  (c < C - 1),   CE = -log softmax(z)_k,

the largest event class present (AVE has one per video). A video without
any event segment has k = 0, as in the code (the argmax of an all-zero row
is the first class). Padded segments (clips shorter than T)
have all-zero label rows (`keras_avl.models.registry.fit_targets` zeroes
them), so k is read from the real segments only.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_avl")
class EventClassLoss(keras.losses.Loss):
    """CE of (B, C - 1) logits against the event class of (B, T, C) segment labels.

    Example:

    >>> import numpy as np
    >>> labels = np.eye(3, dtype="float32")[[[2, 1, 1]]]  # event class 1
    >>> round(float(EventClassLoss()(labels, np.array([[0.0, 0.0]], "float32"))), 4)
    0.6931
    """

    def __init__(self, name="event_class_loss", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        events = ops.max(ops.cast(y_true, "float32")[..., :-1], axis=1)  # (B, C - 1)
        classes = ops.cast(ops.arange(ops.shape(events)[-1]), "float32")
        largest = ops.max(ops.where(events > 0, classes, 0.0), axis=-1)
        target = ops.one_hot(ops.cast(largest, "int32"), ops.shape(events)[-1])
        log_probabilities = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)
        return -ops.sum(target * log_probabilities, axis=-1)
