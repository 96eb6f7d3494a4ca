"""Audio-visual co-guidance attention (AVCA) of CACE-Net (He et al., "CACE-Net:
Co-guidance Attention and Contrastive Enhancement for Effective Audio-Visual
Event Localization", ACM MM 2024, Sec. 3.2), as released in
github:Brain-Cog-Lab/CACE-Net `CACE/model/models.py::Co_Guided_Attention`.

Step 1, audio guides vision: CMBS's audio-guided spatial-channel attention
with its self-attention branch, unchanged (`AudioGuidedSpatialChannelAttention`,
whose docstring has the equations): the attended visual feature o_t (d_v,)
and the spatial attention lambda_t (S,).

Step 2, vision guides audio. For the segments t = 1..T of a clip, with the
regions V_t (S, d_v) and the audio a_t (d_a,):

    second region self-attention (the code's `video_query2/key2/value2`):
        r_t = LN_v( V_t + D( softmax_rows(E_t) (V_t W_val2 + b_val2) ) ),
        E_t = (V_t W_q2 + b_q2)(V_t W_k2 + b_k2)^T        (S, S), no 1/sqrt scale
    audio self-attention over time (`audio_query/key/value`, `a_norm`):
        A = [a_1; ...; a_T]                                (T, d_a)
        h = LN_a( A + D( softmax_rows((A W_aq + b)(A W_ak + b)^T) (A W_av + b) ) )
    visual-guided attention over time (`v_query`, `vaudio_key/value`):
        u_t = mean_s r_t,s W_vq + b_vq                     (d_a,)
        g = softmax_rows( U (h W_k + b_k)^T ) (h W_v + b_v)   (T, d_a)
    output:
        a'_t = a_t + psai sigmoid(g_t) a_t

LN_v is the *same* LayerNorm as the one of step 1's self-attention (the code
normalises both region self-attentions with `v_norm`; its `v_norm2` is never
used and has no counterpart here, nor has `ave_bottleneck`). D is dropout
(0.2). With psai = 0 the layer is the code's "Audio-Guide" ablation (the
audio passes unchanged).

Segment masks (clips shorter than T, padded at the end): the two attentions
over time give padded segments no weight (softmax over the real keys only),
and step 1 and the region self-attentions mix the regions of one segment
only, so a padded segment changes no real one. Weights keep the code's
module names (`<module>_kernel` is `<module>.weight` transposed) and are
initialised as PyTorch does (`keras_avl.layers.torch_init`).
"""

import keras
from keras import ops

from keras_avl.layers.audio_guided_spatial_channel_attention import (
    LATENT_DIM,
    AudioGuidedSpatialChannelAttention,
)
from keras_avl.layers.segment_mask import merge_masks
from keras_avl.numerics import softmax_at_least_float32
from keras_avl.validation import check_non_negative

# A score far below any real one: masked keys get no weight.
_MASKED = -1e9


def _masked_softmax(energy, mask, dtype):
    """The softmax over the last axis (keys, time) of `energy` (B, T, T),
    without the keys that `mask` (B, T) marks padded; at least float32."""
    work = "float64" if dtype == "float64" else "float32"
    energy = ops.cast(energy, work)
    if mask is not None:
        energy = ops.where(ops.expand_dims(mask, 1), energy, _MASKED)
    return ops.cast(ops.softmax(energy, axis=-1), dtype)


@keras.saving.register_keras_serializable(package="keras_avl")
class CoGuidedAttention(AudioGuidedSpatialChannelAttention):
    """Audio guides the visual regions, the visual regions guide the audio
    (CACE-Net's co-guidance attention, as released).

    Args:
        hidden_dim: int, the size of step 1's bottleneck and joint spaces (256).
        beta: float >= 0, the weight of step 1's self-attention rescaling (0.4).
        psai: float >= 0, the weight of the visual guidance of the audio
            (`--psai`, 0.3 in the released run; 0: the "Audio-Guide" ablation).
        dropout: float, D on the self-attentions' outputs (0.2).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Weights: those of `AudioGuidedSpatialChannelAttention` with its
    self-attention (`norm_gamma`, `norm_beta` are the code's `v_norm`), and
    `video_query2`, `video_key2`, `video_value2`, `audio_query`, `audio_key`,
    `audio_value`, `v_query`, `vaudio_key`, `vaudio_value` (`<name>_kernel`,
    `<name>_bias`) and the LayerNorm `a_norm_gamma`, `a_norm_beta`.

    Call arguments:
        inputs: list `[visual, audio]` of shapes `(B, T, S, d_v)` and `(B, T, d_a)`.
        mask: optional boolean `(B, T)` (or a list of such masks, one per
            input), False at padded segments.
        training: whether dropout is active.

    Returns:
        Tuple `(attended, attention, audio)` of shapes `(B, T, d_v)`,
        `(B, T, S)` (step 1's audio-guided spatial attention lambda) and
        `(B, T, d_a)` (the visually guided audio a').

    Example:

    >>> import numpy as np
    >>> layer = CoGuidedAttention(hidden_dim=4, beta=0.4, psai=0.3)
    >>> visual = np.random.rand(2, 10, 9, 8).astype("float32")
    >>> audio = np.random.rand(2, 10, 6).astype("float32")
    >>> attended, attention, guided = layer([visual, audio])
    >>> tuple(attended.shape), tuple(attention.shape), tuple(guided.shape)
    ((2, 10, 8), (2, 10, 9), (2, 10, 6))
    """

    def __init__(self, hidden_dim=256, beta=0.4, psai=0.3, dropout=0.2, **kwargs):
        kwargs.pop("self_attention", None)  # always on: step 2 shares its LayerNorm
        super().__init__(hidden_dim=hidden_dim, self_attention=True, beta=beta,
                         dropout=dropout, **kwargs)
        self.psai = check_non_negative("psai", psai)

    def build(self, input_shape):
        visual_shape, audio_shape = (tuple(shape) for shape in input_shape)
        if len(visual_shape) != 4 or len(audio_shape) != 3:
            raise ValueError(
                "CoGuidedAttention expects `visual` (B, T, S, d_v) and `audio` (B, T, d_a); "
                f"received shapes {visual_shape} and {audio_shape}."
            )
        super().build(input_shape)
        d_v, d_a = visual_shape[-1], audio_shape[-1]
        self._dense("video_query2", d_v, d_v // LATENT_DIM)
        self._dense("video_key2", d_v, d_v // LATENT_DIM)
        self._dense("video_value2", d_v, d_v)
        for name in ("audio_query", "audio_key", "audio_value", "vaudio_key", "vaudio_value"):
            self._dense(name, d_a, d_a)
        self._dense("v_query", d_v, d_a)
        self.a_norm = keras.layers.LayerNormalization(epsilon=1e-5, dtype=self.dtype_policy,
                                                      name="a_norm")
        self.a_norm.build(audio_shape)

    def _visual_guide(self, visual, training):
        """u (B, T, d_a): the mean of the second self-attention's regions, mapped."""
        energy = ops.matmul(self._affine(visual, "video_query2"),
                            ops.swapaxes(self._affine(visual, "video_key2"), -1, -2))
        weights = softmax_at_least_float32(energy, self.compute_dtype)
        attended = ops.matmul(weights, self._affine(visual, "video_value2"))
        regions = self.norm(visual + self.output_dropout(attended, training=training))
        return self._affine(ops.mean(regions, axis=-2), "v_query")

    def call(self, inputs, mask=None, training=None):
        visual, audio = inputs
        mask = merge_masks(mask)
        attended, attention = super().call([visual, audio], training=training)
        dtype = self.compute_dtype
        energy = ops.matmul(self._affine(audio, "audio_query"),
                            ops.swapaxes(self._affine(audio, "audio_key"), -1, -2))
        context = ops.matmul(_masked_softmax(energy, mask, dtype),
                             self._affine(audio, "audio_value"))
        audio_self = self.a_norm(audio + self.output_dropout(context, training=training))
        energy = ops.matmul(self._visual_guide(visual, training),
                            ops.swapaxes(self._affine(audio_self, "vaudio_key"), -1, -2))
        guide = ops.matmul(_masked_softmax(energy, mask, dtype),
                           self._affine(audio_self, "vaudio_value"))
        return attended, attention, audio + self.psai * ops.sigmoid(guide) * audio

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        attended, attention = super().compute_output_shape(input_shape)
        return attended, attention, tuple(input_shape[1])

    def get_config(self):
        config = super().get_config()
        del config["self_attention"]
        config["psai"] = self.psai
        return config
