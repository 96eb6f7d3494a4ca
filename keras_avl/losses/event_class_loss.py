"""CMBS's event-level loss (Xia & Zhao, CVPR 2022; `supv_main.py` of
github:marmot-xy/CMBS): the cross-entropy of video-level logits over the C - 1
event classes against the video's event class, read from the one-hot segment
labels (B, T, C) (background = last class):

    k = argmax_c max_t y_t,c  (c < C - 1),   CE = -log softmax(z)_k.

A video without any event segment has k = 0, as in the code (`max` of an
all-zero row picks the first class). Padded segments (clips shorter than T)
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
        events = ops.max(ops.cast(y_true, "float32")[..., :-1], axis=1)
        target = ops.one_hot(ops.argmax(events, axis=-1), ops.shape(events)[-1])
        log_probabilities = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)
        return -ops.sum(target * log_probabilities, axis=-1)
