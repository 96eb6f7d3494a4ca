"""`LabelFreeLoss`: the base of the unsupervised regime's losses, which read
only `y_pred` (the pipeline's targets are placeholders)."""

import keras
from keras import ops


class LabelFreeLoss(keras.losses.Loss):
    """A `keras.losses.Loss` whose `y_true` is ignored and may be None.

    Subclasses implement `call(y_true, y_pred)` from `y_pred` alone.
    """

    def __call__(self, y_true, y_pred, sample_weight=None):
        # y_true carries no information; a placeholder keeps Keras' checks happy.
        if y_true is None:
            y_true = ops.zeros((ops.shape(y_pred)[0],))
        return super().__call__(y_true, y_pred, sample_weight)
