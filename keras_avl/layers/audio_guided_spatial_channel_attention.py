"""Audio-guided spatial-channel attention (AGSCA) of CMBS (Xia & Zhao, "Cross-
Modal Background Suppression for Audio-Visual Event Localization", CVPR 2022,
Sec. 3.1, after Xu et al.'s CMRAN), as released in github:marmot-xy/CMBS
`model/models.py::New_Audio_Guided_Attention`.

For one segment with regions v_s (s = 1..S, d_v channels) and audio a, the
released code first runs a self-attention over the regions (its "slightly
different from what we described in the paper" branch):

    self-attention:  E = (V W_q + b_q)(V W_k + b_k)^T    (S, S), no 1/sqrt scale
                     r = LN( V + D( softmax_rows(E) (V W_val + b_val) ) )
                     mu = relu( mean_s r_s W_ave + b_ave )
                     f = sum_s softmax_s( tanh( [relu(r_s W_3 + b_3) * mu] w_att + b_att ) ) r_s
    channel:  q = mean_s [ relu(a W_a1 + b_a1) * relu(r_s W_v1 + b_v1) ]
              m = sigmoid( relu(q W_b + b_b) W_c + b_c )           (d_v,)
              v^c_s = v_s * (m + 1)                                (the raw regions)
    spatial:  z_s = tanh( [ relu(v^c_s W_v2 + b_v2) * relu(a W_a2 + b_a2) ] w_s + b_s )
              lambda = softmax_s(z)
              o = sum_s lambda_s v^c_s
    output:   o + beta sigmoid(f) o                                (d_v,)

W_q, W_k map d_v to d_v / 4 (`latent_dim = 4`), D is dropout (0.2). With
`self_attention=False` the layer is the paper's AGSCA: r = v and no rescaling.
The self-attention mixes the regions of one segment only, never segments, so
a padded segment (clip shorter than T) changes no real one. The code's
`ave_bottleneck` is never used in its forward pass and has no counterpart.
Weights are named after the code's modules (`affine_video_1_kernel` is
`affine_video_1.weight` transposed) and initialised as PyTorch initialises
them (`keras_avl.layers.torch_init`; LayerNorm: ones and zeros).
"""

import keras
from keras import ops

from keras_avl.layers.torch_init import torch_linear_kernel, torch_uniform
from keras_avl.numerics import attend_regions, softmax_at_least_float32
from keras_avl.ops.affine import affine
from keras_avl.validation import check_non_negative, check_positive_int, check_rate

# d_v / LATENT_DIM: the size of the self-attention's queries and keys.
LATENT_DIM = 4


@keras.saving.register_keras_serializable(package="keras_avl")
class AudioGuidedSpatialChannelAttention(keras.layers.Layer):
    """Channel then spatial attention over visual regions, both guided by audio,
    rescaled by a self-attention over the regions (the released CMBS).

    Args:
        hidden_dim: int, the size of the bottleneck and of the spatial
            attentions' joint spaces (256 in CMBS).
        self_attention: bool, the released code's self-attention branch (True)
            or the paper's AGSCA without it (False).
        beta: float >= 0, the weight of the self-attention's rescaling (0.4 in
            CMBS's `main.json`, 0.5 in `weak.json`).
        dropout: float, D on the self-attention's output (0.2).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Weights (`<name>_kernel`, `<name>_bias`): `affine_audio_1`, `affine_video_1`,
    `affine_bottleneck`, `affine_v_c_att` (channel), `affine_video_2`,
    `affine_audio_2`, `affine_v_s_att` (spatial) and, with the self-attention,
    `video_query`, `video_key`, `video_value`, `affine_video_ave`,
    `affine_video_3`, `ave_v_att` and the LayerNorm `norm_gamma`, `norm_beta`.

    Call arguments:
        inputs: list `[visual, audio]` of shapes `(..., S, d_v)` and `(..., d_a)`.
        training: whether dropout is active.

    Returns:
        Tuple `(attended, attention)` of shapes `(..., d_v)` and `(..., S)`
        (the audio-guided spatial attention lambda).

    Example:

    >>> import numpy as np
    >>> layer = AudioGuidedSpatialChannelAttention(hidden_dim=4, beta=0.4)
    >>> visual = np.random.rand(2, 10, 49, 8).astype("float32")
    >>> audio = np.random.rand(2, 10, 6).astype("float32")
    >>> attended, attention = layer([visual, audio])
    >>> tuple(attended.shape), tuple(attention.shape)
    ((2, 10, 8), (2, 10, 49))
    """

    def __init__(self, hidden_dim=256, self_attention=True, beta=0.4, dropout=0.2, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = check_positive_int("hidden_dim", hidden_dim)
        if not isinstance(self_attention, bool):
            raise ValueError(f"`self_attention` must be a bool; received {self_attention!r}.")
        self.self_attention = self_attention
        self.beta = check_non_negative("beta", beta)
        self.dropout = check_rate("dropout", dropout)

    def _dense(self, name, fan_in, fan_out):
        setattr(self, f"{name}_kernel", self.add_weight(
            name=f"{name}_kernel", shape=(fan_in, fan_out), initializer=torch_linear_kernel()))
        setattr(self, f"{name}_bias", self.add_weight(
            name=f"{name}_bias", shape=(fan_out,), initializer=torch_uniform(fan_in)))

    def _affine(self, x, name, relu=False):
        kernel, bias = getattr(self, f"{name}_kernel"), getattr(self, f"{name}_bias")
        return affine(x, kernel.value, bias.value, relu=relu)

    def build(self, input_shape):
        visual_shape, audio_shape = (tuple(shape) for shape in input_shape)
        if len(visual_shape) != len(audio_shape) + 1:
            raise ValueError(
                "AudioGuidedSpatialChannelAttention expects `visual` (..., S, d_v) and "
                f"`audio` (..., d_a); received shapes {visual_shape} and {audio_shape}."
            )
        d_v, d_a, hidden = visual_shape[-1], audio_shape[-1], self.hidden_dim
        self._dense("affine_audio_1", d_a, d_v)
        self._dense("affine_video_1", d_v, d_v)
        self._dense("affine_bottleneck", d_v, hidden)
        self._dense("affine_v_c_att", hidden, d_v)
        self._dense("affine_video_2", d_v, hidden)
        self._dense("affine_audio_2", d_a, hidden)
        self._dense("affine_v_s_att", hidden, 1)
        if not self.self_attention:
            return
        if d_v < LATENT_DIM:
            raise ValueError(
                f"The self-attention maps d_v to d_v // {LATENT_DIM}: `visual` needs at "
                f"least {LATENT_DIM} channels; received shape {visual_shape}."
            )
        self._dense("video_query", d_v, d_v // LATENT_DIM)
        self._dense("video_key", d_v, d_v // LATENT_DIM)
        self._dense("video_value", d_v, d_v)
        self._dense("affine_video_ave", d_v, hidden)
        self._dense("affine_video_3", d_v, hidden)
        self._dense("ave_v_att", hidden, 1)
        self.norm = keras.layers.LayerNormalization(epsilon=1e-5, dtype=self.dtype_policy,
                                                    name="norm")
        self.norm.build(visual_shape)
        self.output_dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)

    def _self_attend(self, visual, training):
        """(regions r, pooled f) of the self-attention branch."""
        energy = ops.matmul(self._affine(visual, "video_query"),
                            ops.swapaxes(self._affine(visual, "video_key"), -1, -2))
        weights = softmax_at_least_float32(energy, self.compute_dtype)
        attended = ops.matmul(weights, self._affine(visual, "video_value"))
        regions = self.norm(visual + self.output_dropout(attended, training=training))
        average = self._affine(ops.mean(regions, axis=-2), "affine_video_ave", relu=True)
        query = self._affine(regions, "affine_video_3", relu=True) * ops.expand_dims(average, -2)
        scores = ops.squeeze(ops.tanh(self._affine(query, "ave_v_att")), -1)
        pooled, _ = attend_regions(scores, regions, self.compute_dtype)
        return regions, pooled

    def call(self, inputs, training=None):
        visual, audio = inputs
        regions, pooled = visual, None
        if self.self_attention:
            regions, pooled = self._self_attend(visual, training)
        audio_1 = ops.expand_dims(self._affine(audio, "affine_audio_1", relu=True), -2)
        query = ops.mean(audio_1 * self._affine(regions, "affine_video_1", relu=True), axis=-2)
        channel = ops.sigmoid(self._affine(self._affine(query, "affine_bottleneck", relu=True),
                                           "affine_v_c_att"))
        # The channel map rescales the raw regions, not the self-attended ones.
        visual = visual * ops.expand_dims(channel + 1.0, -2)
        joint = self._affine(visual, "affine_video_2", relu=True) \
            * ops.expand_dims(self._affine(audio, "affine_audio_2", relu=True), -2)
        scores = ops.squeeze(ops.tanh(self._affine(joint, "affine_v_s_att")), -1)
        attended, attention = attend_regions(scores, visual, self.compute_dtype)
        if self.self_attention:
            attended = attended + self.beta * ops.sigmoid(pooled) * attended
        return attended, attention

    def compute_output_shape(self, input_shape):
        visual_shape = tuple(input_shape[0])
        return visual_shape[:-2] + visual_shape[-1:], visual_shape[:-1]

    def get_config(self):
        config = super().get_config()
        config.update({"hidden_dim": self.hidden_dim, "self_attention": self.self_attention,
                       "beta": self.beta, "dropout": self.dropout})
        return config
