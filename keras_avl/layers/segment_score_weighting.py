"""The temporal weighting branch of PSP's weakly supervised model (Zhou et al.,
CVPR 2021; github:jasongief/PSP_CVPR_2021 `weakly_model.py::psp_net`).

With the per-segment class scores (logits) x_t (C,) of one video:

    w_t = sigmoid( relu( x_t w ) )        (w: (C, 1), the code's `W3`, no bias)
    x'_t = w_t x_t

PSP's weak model then averages x' over the segments and applies a softmax to
get the video prediction; the per-segment prediction is argmax_c x'_t,c.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_avl")
class SegmentScoreWeighting(keras.layers.Layer):
    """Scales each segment's class scores by a weight read from those scores.

    Args:
        kernel_initializer: the initializer of `w` (PSP's `W3` is an
            `nn.Linear` left at PyTorch's default,
            `keras_avl.layers.torch_init.torch_uniform(C)`).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Weights: `w` of shape `(C, 1)`.

    Call arguments:
        inputs: scores `(B, T, C)`; a segment mask on them passes through
            (each segment is weighted on its own).

    Returns:
        The weighted scores `(B, T, C)`.

    Example:

    >>> import numpy as np
    >>> x = np.random.rand(2, 10, 5).astype("float32")
    >>> tuple(SegmentScoreWeighting()(x).shape)
    (2, 10, 5)
    """

    def __init__(self, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        self.w = self.add_weight(name="w", shape=(tuple(input_shape)[-1], 1),
                                 initializer=self.kernel_initializer)

    def call(self, inputs):
        return inputs * ops.sigmoid(ops.relu(ops.matmul(inputs, self.w)))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config["kernel_initializer"] = keras.initializers.serialize(self.kernel_initializer)
        return config
