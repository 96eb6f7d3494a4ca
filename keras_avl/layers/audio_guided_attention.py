"""Audio-guided visual attention of the A+V-att baseline (Tian et al., ECCV 2018).

The baseline row "AVE [44]" of the paper's Table 1. With v_s = relu(F_v,s W_video
+ b_video) and a = relu(F_a W_audio + b_audio), the score of region s is
w_h . tanh(v_s W_v + a W_g); the attention is the softmax of the scores over the
regions and the attended vector is sum_s attention_s F_v,s.
"""

import keras
from keras import ops

from keras_avl.validation import check_positive_int


@keras.saving.register_keras_serializable(package="keras_avl")
class AudioGuidedAttention(keras.layers.Layer):
    """Additive attention over visual regions, guided by the segment audio.

    Args:
        hidden_dim: int, the size both modalities are projected to (512 in
            AVE's code).
        attention_dim: int, the size of the additive attention's hidden layer
            (AVE's code uses the number of regions, 49).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Weights: `W_video`, `b_video`, `W_audio`, `b_audio`, `W_v`, `W_g`, `w_h`.

    Call arguments:
        inputs: list `[visual, audio]`; visual of shape `(..., S, d_v)`, audio
            of shape `(..., d_a)` with the same leading dimensions.

    Returns:
        Tuple `(attended, attention)` of shapes `(..., d_v)` and `(..., S)`.

    Example:

    >>> import numpy as np
    >>> layer = AudioGuidedAttention(hidden_dim=8, attention_dim=6)
    >>> visual = np.random.rand(2, 10, 49, 16).astype("float32")
    >>> audio = np.random.rand(2, 10, 4).astype("float32")
    >>> attended, attention = layer([visual, audio])
    >>> tuple(attended.shape), tuple(attention.shape)
    ((2, 10, 16), (2, 10, 49))
    """

    def __init__(self, hidden_dim=512, attention_dim=49, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = check_positive_int("hidden_dim", hidden_dim)
        self.attention_dim = check_positive_int("attention_dim", attention_dim)

    def build(self, input_shape):
        visual_shape, audio_shape = (tuple(shape) for shape in input_shape)
        if len(visual_shape) != len(audio_shape) + 1:
            raise ValueError(
                "AudioGuidedAttention expects `visual` (..., S, d_v) and `audio` "
                f"(..., d_a); received shapes {visual_shape} and {audio_shape}."
            )
        hidden, att = self.hidden_dim, self.attention_dim
        add = self.add_weight
        self.W_video = add(name="W_video", shape=(visual_shape[-1], hidden))
        self.b_video = add(name="b_video", shape=(hidden,), initializer="zeros")
        self.W_audio = add(name="W_audio", shape=(audio_shape[-1], hidden))
        self.b_audio = add(name="b_audio", shape=(hidden,), initializer="zeros")
        self.W_v = add(name="W_v", shape=(hidden, att))
        self.W_g = add(name="W_g", shape=(hidden, att))
        self.w_h = add(name="w_h", shape=(att, 1))

    def call(self, inputs):
        visual, audio = inputs
        v = ops.relu(ops.matmul(visual, self.W_video) + self.b_video)
        a = ops.relu(ops.matmul(audio, self.W_audio) + self.b_audio)
        content = ops.matmul(v, self.W_v) + ops.expand_dims(ops.matmul(a, self.W_g), -2)
        scores = ops.squeeze(ops.matmul(ops.tanh(content), self.w_h), -1)
        attention = ops.cast(
            ops.softmax(ops.cast(scores, "float32"), axis=-1), self.compute_dtype
        )
        attended = ops.sum(ops.expand_dims(attention, -1) * visual, axis=-2)
        return attended, attention

    def compute_output_shape(self, input_shape):
        visual_shape = tuple(input_shape[0])
        return visual_shape[:-2] + visual_shape[-1:], visual_shape[:-1]

    def get_config(self):
        config = super().get_config()
        config.update(
            {"hidden_dim": self.hidden_dim, "attention_dim": self.attention_dim}
        )
        return config
