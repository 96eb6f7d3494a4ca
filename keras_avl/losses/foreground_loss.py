"""CMBS's time-level loss (Xia & Zhao, CVPR 2022, Sec. 3.3; `supv_main.py` of
github:marmot-xy/CMBS): the binary cross-entropy of a per-segment score against
"this segment holds the event" (1) or "it is background" (0), read from the
one-hot segment labels (B, T, C) whose last class is the background:

    BCE = -mean_t [ f_t log sigmoid(z_t) + (1 - f_t) log(1 - sigmoid(z_t)) ],
    f_t = 1 - y_t,C-1.

The scores z are logits (`BCEWithLogitsLoss` in the code). CMBS applies the
same loss to its audio-visual gate, a product of sigmoids already in [0, 1],
also as logits; `ForegroundLoss` does the same when given the gate.

Padded segments (clips shorter than T) have all-zero label rows
(`keras_avl.models.registry.fit_targets` zeroes them): the mean over t runs
over the real segments only.
"""

import keras
from keras import ops

from keras_avl.losses.segment_labels import mean_over_real_segments


@keras.saving.register_keras_serializable(package="keras_avl")
class ForegroundLoss(keras.losses.Loss):
    """BCE of (B, T) logits against the event/background mask of (B, T, C) labels.

    Example:

    >>> import numpy as np
    >>> labels = np.eye(2, dtype="float32")[[[0, 1]]]  # event, background
    >>> round(float(ForegroundLoss()(labels, np.array([[0.0, 0.0]], "float32"))), 4)
    0.6931
    """

    def __init__(self, name="foreground_loss", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        foreground = 1.0 - ops.cast(y_true, "float32")[..., -1]
        logits = ops.cast(y_pred, "float32")
        # log(1 + exp(-|z|)) + max(z, 0) - z f: the stable form of the BCE.
        losses = ops.relu(logits) - logits * foreground + ops.log1p(ops.exp(-ops.abs(logits)))
        return mean_over_real_segments(losses, y_true)
