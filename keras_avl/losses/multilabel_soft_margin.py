"""PyTorch's `nn.MultiLabelSoftMarginLoss`, the loss of the released A+V-att
(AVE-ECCV18 `supervised_main.py`, `weak_supervised_main.py`):

    loss(x, y) = -1/C sum_c [y_c log sigmoid(x_c) + (1 - y_c) log(1 - sigmoid(x_c))]

averaged over the other axes. The official scripts feed it the model's softmax
probabilities as x. Written with `keras.ops` on whatever tensor it is given:
Keras' own `BinaryCrossentropy(from_logits=True)` would, under TensorFlow,
silently take the logits behind a softmax output instead.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_avl")
def multilabel_soft_margin_loss(y_true, y_pred):
    """Mean over the last axis of the sigmoid binary cross-entropy of `y_pred`
    taken as scores; shape `y_pred.shape[:-1]`, float32.

    Example:

    >>> import numpy as np
    >>> y = np.array([[1.0, 0.0]], "float32")
    >>> round(float(multilabel_soft_margin_loss(y, np.zeros((1, 2), "float32"))[0]), 4)
    0.6931
    """
    scores = ops.cast(y_pred, "float32")
    labels = ops.cast(y_true, "float32")
    # -log sigmoid(x) = softplus(-x); -log(1 - sigmoid(x)) = softplus(x)
    per_class = labels * ops.softplus(-scores) + (1.0 - labels) * ops.softplus(scores)
    return ops.mean(per_class, axis=-1)
