"""Audio-guided spatial-channel attention (AGSCA) of CMBS (Xia & Zhao, "Cross-
Modal Background Suppression for Audio-Visual Event Localization", CVPR 2022,
Sec. 3.1, after Xu et al.'s CMRAN), checked against
github:marmot-xy/CMBS `model/models.py::New_Audio_Guided_Attention`.

For one segment with regions v_s (s = 1..S, d_v channels) and audio a:

    channel:  q = mean_s [ relu(a W_a1 + b_a1) * relu(v_s W_v1 + b_v1) ]
              m = sigmoid( relu(q W_b + b_b) W_c + b_c )           (d_v,)
              v^c_s = v_s * (m + 1)
    spatial:  z_s = tanh( [ relu(v^c_s W_v2 + b_v2) * relu(a W_a2 + b_a2) ] w_s + b_s )
              lambda = softmax_s(z)
    output:   sum_s lambda_s v^c_s                                  (d_v,)

The released code adds a third branch (a self-attention over the regions whose
pooled output rescales the result by 1 + beta sigmoid(.)) that the paper does
not describe ("slightly different from what we described in the paper"); this
layer is the paper's AGSCA without it.
"""

import keras
from keras import ops

from keras_avl.numerics import attend_regions

from keras_avl.validation import check_positive_int


@keras.saving.register_keras_serializable(package="keras_avl")
class AudioGuidedSpatialChannelAttention(keras.layers.Layer):
    """Channel then spatial attention over visual regions, both guided by audio.

    Args:
        hidden_dim: int, the size of the bottleneck and of the spatial
            attention's joint space (256 in CMBS).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Weights: `W_a1`, `b_a1`, `W_v1`, `b_v1`, `W_b`, `b_b`, `W_c`, `b_c` (channel),
    `W_v2`, `b_v2`, `W_a2`, `b_a2`, `w_s`, `b_s` (spatial).

    Call arguments:
        inputs: list `[visual, audio]` of shapes `(..., S, d_v)` and `(..., d_a)`.

    Returns:
        Tuple `(attended, attention)` of shapes `(..., d_v)` and `(..., S)`.

    Example:

    >>> import numpy as np
    >>> layer = AudioGuidedSpatialChannelAttention(hidden_dim=4)
    >>> visual = np.random.rand(2, 10, 49, 8).astype("float32")
    >>> audio = np.random.rand(2, 10, 6).astype("float32")
    >>> attended, attention = layer([visual, audio])
    >>> tuple(attended.shape), tuple(attention.shape)
    ((2, 10, 8), (2, 10, 49))
    """

    def __init__(self, hidden_dim=256, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = check_positive_int("hidden_dim", hidden_dim)

    def build(self, input_shape):
        visual_shape, audio_shape = (tuple(shape) for shape in input_shape)
        if len(visual_shape) != len(audio_shape) + 1:
            raise ValueError(
                "AudioGuidedSpatialChannelAttention expects `visual` (..., S, d_v) and "
                f"`audio` (..., d_a); received shapes {visual_shape} and {audio_shape}."
            )
        d_v, d_a, hidden = visual_shape[-1], audio_shape[-1], self.hidden_dim

        def dense(name, fan_in, fan_out):
            setattr(self, f"W_{name}", self.add_weight(name=f"W_{name}", shape=(fan_in, fan_out)))
            setattr(self, f"b_{name}", self.add_weight(name=f"b_{name}", shape=(fan_out,),
                                                       initializer="zeros"))

        dense("a1", d_a, d_v)
        dense("v1", d_v, d_v)
        dense("b", d_v, hidden)
        dense("c", hidden, d_v)
        dense("v2", d_v, hidden)
        dense("a2", d_a, hidden)
        self.w_s = self.add_weight(name="w_s", shape=(hidden, 1))
        self.b_s = self.add_weight(name="b_s", shape=(1,), initializer="zeros")

    def call(self, inputs):
        visual, audio = inputs
        affine = lambda x, name: ops.matmul(x, getattr(self, f"W_{name}")) + getattr(self, f"b_{name}")
        audio_1 = ops.expand_dims(ops.relu(affine(audio, "a1")), -2)
        query = ops.mean(audio_1 * ops.relu(affine(visual, "v1")), axis=-2)
        channel = ops.sigmoid(affine(ops.relu(affine(query, "b")), "c"))
        visual = visual * ops.expand_dims(channel + 1.0, -2)
        joint = ops.relu(affine(visual, "v2")) * ops.expand_dims(ops.relu(affine(audio, "a2")), -2)
        scores = ops.squeeze(ops.tanh(ops.matmul(joint, self.w_s) + self.b_s), -1)
        return attend_regions(scores, visual, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        visual_shape = tuple(input_shape[0])
        return visual_shape[:-2] + visual_shape[-1:], visual_shape[:-1]

    def get_config(self):
        config = super().get_config()
        config.update({"hidden_dim": self.hidden_dim})
        return config
