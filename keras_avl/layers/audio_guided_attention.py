"""Audio-guided visual attention of the A+V-att baseline (Tian et al., ECCV 2018).

The baseline row "AVE [44]" of the paper's Table 1. With v_s = relu(F_v,s W_video
+ b_video) and a = relu(F_a W_audio + b_audio), the score of region s is
w_h . tanh(v_s W_v + g), the attention is the softmax of the scores over the
regions and the attended vector is sum_s attention_s F_v,s.

The audio term g comes in two readings (`audio_term`):

- `"region"`, the released code (`models.py`, `att_Net.forward`):
  `affine_g(a_t).unsqueeze(2)` adds a (N, 49, 1) tensor to the (N, 49, 49)
  `affine_v(v_t)`, so g_s = (a W_g)_s is **one scalar per region s**, added to
  every hidden unit of that region; it needs `attention_dim == S` (49 = 7 x 7 in
  AVE), which the layer checks;
- `"unit"`, the ECCV 2018 paper's equation (W_g a broadcast over the regions):
  g_k = (a W_g)_k is added to hidden unit k of every region.
"""

import math

import keras
from keras import ops

from keras_avl.numerics import attend_regions
from keras_avl.ops.affine import affine

from keras_avl.validation import check_choice, check_positive_int

AUDIO_TERMS = ("unit", "region")


@keras.saving.register_keras_serializable(package="keras_avl")
class AudioGuidedAttention(keras.layers.Layer):
    """Additive attention over visual regions, guided by the segment audio.

    Args:
        hidden_dim: int, the size both modalities are projected to (512 in
            AVE's code).
        attention_dim: int, the size of the additive attention's hidden layer
            (AVE's code uses the number of regions, 49).
        audio_term: `"unit"` (the audio term added per hidden unit, the ECCV
            2018 paper's equation) or `"region"` (one scalar per region, the
            released code; needs `attention_dim` = the number of regions S).
        torch_bias_init: initialise `b_video` and `b_audio` as PyTorch's
            `nn.Linear` does, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (the released
            code re-initialises only the weights, with Xavier-uniform = Keras'
            `glorot_uniform`); False: zeros.
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
    >>> official = AudioGuidedAttention(hidden_dim=8, attention_dim=49, audio_term="region")
    >>> tuple(official([visual, audio])[1].shape)
    (2, 10, 49)
    """

    def __init__(self, hidden_dim=512, attention_dim=49, audio_term="unit",
                 torch_bias_init=False, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = check_positive_int("hidden_dim", hidden_dim)
        self.attention_dim = check_positive_int("attention_dim", attention_dim)
        self.audio_term = check_choice("audio_term", audio_term, AUDIO_TERMS)
        self.torch_bias_init = bool(torch_bias_init)

    def _bias_initializer(self, fan_in):
        if not self.torch_bias_init:
            return "zeros"
        bound = 1.0 / math.sqrt(fan_in)
        return keras.initializers.RandomUniform(-bound, bound)

    def build(self, input_shape):
        visual_shape, audio_shape = (tuple(shape) for shape in input_shape)
        if len(visual_shape) != len(audio_shape) + 1:
            raise ValueError(
                "AudioGuidedAttention expects `visual` (..., S, d_v) and `audio` "
                f"(..., d_a); received shapes {visual_shape} and {audio_shape}."
            )
        if self.audio_term == "region" and visual_shape[-2] != self.attention_dim:
            raise ValueError(
                "AudioGuidedAttention(audio_term='region') adds one audio scalar per "
                f"region, so `attention_dim` must equal the number of regions S; "
                f"received attention_dim={self.attention_dim} and S={visual_shape[-2]}."
            )
        hidden, att = self.hidden_dim, self.attention_dim
        d_v, d_a = visual_shape[-1], audio_shape[-1]
        add = self.add_weight
        self.W_video = add(name="W_video", shape=(d_v, hidden))
        self.b_video = add(name="b_video", shape=(hidden,),
                           initializer=self._bias_initializer(d_v))
        self.W_audio = add(name="W_audio", shape=(d_a, hidden))
        self.b_audio = add(name="b_audio", shape=(hidden,),
                           initializer=self._bias_initializer(d_a))
        self.W_v = add(name="W_v", shape=(hidden, att))
        self.W_g = add(name="W_g", shape=(hidden, att))
        self.w_h = add(name="w_h", shape=(att, 1))

    def call(self, inputs):
        visual, audio = inputs
        v = affine(visual, self.W_video.value, self.b_video.value, relu=True)
        a = affine(audio, self.W_audio.value, self.b_audio.value, relu=True)
        # (..., att): per hidden unit ("unit") or per region ("region", att = S).
        audio_term = ops.matmul(a, self.W_g)
        audio_term = ops.expand_dims(audio_term, -1 if self.audio_term == "region" else -2)
        content = ops.matmul(v, self.W_v) + audio_term
        scores = ops.squeeze(ops.matmul(ops.tanh(content), self.w_h), -1)
        return attend_regions(scores, visual, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        visual_shape = tuple(input_shape[0])
        return visual_shape[:-2] + visual_shape[-1:], visual_shape[:-1]

    def get_config(self):
        config = super().get_config()
        config.update({
            "hidden_dim": self.hidden_dim,
            "attention_dim": self.attention_dim,
            "audio_term": self.audio_term,
            "torch_bias_init": self.torch_bias_init,
        })
        return config
