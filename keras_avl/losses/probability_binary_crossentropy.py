"""The binary cross-entropy of probabilities, as PyTorch's `nn.BCELoss` on a
softmax output (PSP's weak model, `weakly_supervised_main.py`):

    loss(p, y) = -1/C sum_c [y_c log p_c + (1 - y_c) log(1 - p_c)]

with p clipped to [1e-7, 1 - 1e-7] (Keras' clip), averaged over the other
axes. Written with `keras.ops` on the tensor it is given: under TensorFlow,
Keras' own `binary_crossentropy` of a softmax output silently takes the
logits behind the softmax and applies a sigmoid to them instead.
"""

import keras
from keras import ops

EPSILON = 1e-7


@keras.saving.register_keras_serializable(package="keras_avl")
def probability_binary_crossentropy(y_true, y_pred):
    """Mean over the last axis of the binary cross-entropy of the
    probabilities `y_pred`; shape `y_pred.shape[:-1]`, float32.

    Example:

    >>> import numpy as np
    >>> y = np.array([[1.0, 0.0]], "float32")
    >>> p = np.array([[0.5, 0.5]], "float32")
    >>> round(float(probability_binary_crossentropy(y, p)[0]), 4)
    0.6931
    """
    p = ops.clip(ops.cast(y_pred, "float32"), EPSILON, 1.0 - EPSILON)
    labels = ops.cast(y_true, "float32")
    return -ops.mean(labels * ops.log(p) + (1.0 - labels) * ops.log(1.0 - p), axis=-1)
