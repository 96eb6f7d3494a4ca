"""`LabelFreeLoss`: the base of the unsupervised regime's losses, which read
no labels: their target is the batch's segment mask `(B, T)` (1 = real
segment; `segment_mask_targets`, as `keras_avl.training.train` maps the
data), or a placeholder `(B,)` / None when every segment is real."""

import keras
from keras import ops


def segment_mask_targets(x, y):
    """The `(x, y) -> (x, targets)` map of the unsupervised regime: its
    targets are the segment mask of the inputs, which `fit` hands to the loss
    (`LabelFreeLoss.segment_mask`). Runs on NumPy arrays and in `tf.data`.

    Example:

    >>> import numpy as np
    >>> x = {"segment_mask": np.array([[1.0, 0.0]])}
    >>> segment_mask_targets(x, np.zeros(1))[1].tolist()
    [[1.0, 0.0]]
    """
    return x, x["segment_mask"]


class LabelFreeLoss(keras.losses.Loss):
    """A `keras.losses.Loss` whose `y_true` is the segment mask, or None.

    Subclasses implement `call(y_true, y_pred)` from `y_pred` and
    `self.segment_mask(y_true)`.
    """

    def __call__(self, y_true, y_pred, sample_weight=None):
        # Without a mask a placeholder keeps Keras' checks happy.
        if y_true is None:
            y_true = ops.zeros((ops.shape(y_pred)[0],))
        return super().__call__(y_true, y_pred, sample_weight)

    @staticmethod
    def segment_mask(y_true):
        """The `(B, T)` segment mask that `y_true` carries, or None (a `(B,)`
        placeholder: every segment is real)."""
        return y_true if len(y_true.shape) == 2 else None
