"""Audio Visual Fusion Block, AVFB (eqs. 1-7, Fig. 3).

Two fusions of the visual regions F_v and the segment audio F_a:
- LSTM-based fusion (eq. 1): l_v = GlobalAveragePool(F_v), l_a = Dense(F_a);
  an LSTM with d_v units reads [l_v + l_a, l_a] per segment and gives LF_v.
- MFB attention (eqs. 3-6): MF_v = sum_s lambda_s F_v,s (`MFBPooling`, shared
  over all segments).
The audio-assisted visual feature is IF_v = LF_v + MF_v (eq. 7). The `fusion`
argument selects the ablations of the paper's Table 2.

Eq. 7 adds a tanh-bounded LF_v to an unnormalised MF_v, whose scale is that of
the visual features (VGG-19 pool5 values run to the hundreds); the option
`mf_normalization="rms"` divides MF_v by its root mean square per segment
before the sum, so that the two terms have the same scale (not in the paper;
see docs/reproducing_the_paper.md).
"""

import keras
from keras import ops

from keras_avl.layers.mfb_pooling import MFBPooling
from keras_avl.validation import check_choice, check_positive_int, check_rate

FUSIONS = ("mul", "add", "concat", "lstm", "mfb", "avfb")
MF_NORMALIZATIONS = ("none", "rms")


@keras.saving.register_keras_serializable(package="keras_avl")
class AVFBLayer(keras.layers.Layer):
    """Fuses region-wise visual features with segment audio features.

    Args:
        embed_dim: int, size d_e of the common embedding of the LSTM fusion.
            When it differs from d_v, l_v is projected by a Dense layer.
        mfb_factor: int, the MFB latent dimensionality q.
        mfb_output_dim: int, the MFB pooled dimension p.
        mfb_dropout: float, dropout inside MFB.
        fusion: which fusion of Table 2: `"mul"` (l_v o Dense(F_a)), `"add"`
            (l_v + Dense(F_a)), `"concat"` (Dense([l_v, F_a])), `"lstm"` (LF_v
            only), `"mfb"` (MF_v only) or `"avfb"` (LF_v + MF_v, the paper's).
            Variants without MFB return a uniform attention.
        mf_normalization: `"none"` (eq. 7 as written) or `"rms"` (MF_v
            divided by its root mean square over the d_v channels, per
            segment, before it is added to LF_v; `"avfb"` fusion only).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: list `[visual, audio]`; visual of shape `(B, T, S, d_v)` or
            `(B, T, H, W, d_v)`, audio of shape `(B, T, d_a)`.
        training: bool, whether dropout is active.

    Returns:
        Tuple `(fused, attention)`: fused IF_v `(B, T, d_v)` and the spatial
        attention lambda `(B, T, S)`.

    Example:

    >>> import numpy as np
    >>> layer = AVFBLayer(embed_dim=16, mfb_factor=2, mfb_output_dim=8)
    >>> visual = np.random.rand(2, 10, 7, 7, 16).astype("float32")
    >>> audio = np.random.rand(2, 10, 4).astype("float32")
    >>> fused, attention = layer([visual, audio])
    >>> tuple(fused.shape), tuple(attention.shape)
    ((2, 10, 16), (2, 10, 49))
    """

    def __init__(
        self,
        embed_dim=512,
        mfb_factor=5,
        mfb_output_dim=256,
        mfb_dropout=0.0,
        fusion="avfb",
        mf_normalization="none",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.embed_dim = check_positive_int("embed_dim", embed_dim)
        self.mfb_factor = check_positive_int("mfb_factor", mfb_factor)
        self.mfb_output_dim = check_positive_int("mfb_output_dim", mfb_output_dim)
        self.mfb_dropout = check_rate("mfb_dropout", mfb_dropout)
        self.fusion = check_choice("fusion", fusion, FUSIONS)
        self.mf_normalization = check_choice(
            "mf_normalization", mf_normalization, MF_NORMALIZATIONS
        )
        if mf_normalization != "none" and fusion != "avfb":
            raise ValueError(
                "`mf_normalization` applies to eq. 7's sum (fusion='avfb'); received "
                f"mf_normalization={mf_normalization!r} with fusion={fusion!r}."
            )
        policy = self.dtype_policy
        self.uses_lstm = fusion in ("lstm", "avfb")
        self.uses_mfb = fusion in ("mfb", "avfb")
        if self.uses_mfb:
            self.mfb = MFBPooling(
                factor=mfb_factor,
                output_dim=mfb_output_dim,
                dropout=mfb_dropout,
                dtype=policy,
                name="mfb",
            )
        if self.uses_lstm:
            self.audio_embedding = keras.layers.Dense(
                embed_dim, activation="relu", dtype=policy, name="audio_embedding"
            )

    def build(self, input_shape):
        visual_shape, audio_shape = _check_shapes(input_shape)
        batch, segments, regions, visual_dim = visual_shape
        audio_dim = audio_shape[-1]
        policy = self.dtype_policy
        self.visual_dim = visual_dim
        if self.uses_mfb:
            self.mfb.build([visual_shape, audio_shape])
        if self.uses_lstm:
            self.audio_embedding.build(audio_shape)
            if self.embed_dim != visual_dim:
                self.visual_embedding = keras.layers.Dense(
                    self.embed_dim, dtype=policy, name="visual_embedding"
                )
                self.visual_embedding.build((batch, segments, visual_dim))
            # LSTM units = d_v so that LF_v + MF_v is defined (eq. 7).
            self.fusion_lstm = keras.layers.LSTM(
                visual_dim, return_sequences=True, dtype=policy, name="fusion_lstm"
            )
            self.fusion_lstm.build((batch, segments, 2 * self.embed_dim))
        if self.fusion in ("mul", "add"):
            self.audio_projection = keras.layers.Dense(
                visual_dim, dtype=policy, name="audio_projection"
            )
            self.audio_projection.build(audio_shape)
        if self.fusion == "concat":
            self.concat_projection = keras.layers.Dense(
                visual_dim, activation="relu", dtype=policy, name="concat_projection"
            )
            self.concat_projection.build((batch, segments, visual_dim + audio_dim))

    def call(self, inputs, training=None):
        visual, audio = inputs
        shape = ops.shape(visual)
        if len(shape) == 5:
            # Static H * W keeps S known in graph mode (the fused MFB tiles on it).
            visual = ops.reshape(visual, (-1, shape[1], shape[2] * shape[3], shape[4]))
        regions = ops.shape(visual)[2]
        pooled_visual = ops.mean(visual, axis=2)  # global average pool, (B,T,d_v)
        uniform = ops.ones(ops.shape(visual)[:3], dtype=self.compute_dtype) / ops.cast(
            regions, self.compute_dtype
        )
        if self.fusion == "mul":
            return pooled_visual * self.audio_projection(audio), uniform
        if self.fusion == "add":
            return pooled_visual + self.audio_projection(audio), uniform
        if self.fusion == "concat":
            joint = ops.concatenate([pooled_visual, audio], axis=-1)
            return self.concat_projection(joint), uniform
        if self.uses_lstm:
            l_v = (
                self.visual_embedding(pooled_visual)
                if self.embed_dim != self.visual_dim
                else pooled_visual
            )
            l_a = self.audio_embedding(audio)
            lstm_fused = self.fusion_lstm(
                ops.concatenate([l_v + l_a, l_a], axis=-1), training=training
            )  # eq. 1
            if not self.uses_mfb:
                return lstm_fused, uniform
        mfb_fused, attention = self.mfb([visual, audio], training=training)
        if not self.uses_lstm:
            return mfb_fused, attention
        if self.mf_normalization == "rms":
            mean_square = ops.mean(ops.square(mfb_fused), axis=-1, keepdims=True)
            # The epsilon keeps an all-zero MF_v (all regions silent) finite.
            mfb_fused = mfb_fused * ops.rsqrt(mean_square + 1e-6)
        return lstm_fused + mfb_fused, attention  # eq. 7

    def compute_output_shape(self, input_shape):
        visual_shape, _ = _check_shapes(input_shape)
        return visual_shape[:2] + visual_shape[-1:], visual_shape[:3]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "embed_dim": self.embed_dim,
                "mfb_factor": self.mfb_factor,
                "mfb_output_dim": self.mfb_output_dim,
                "mfb_dropout": self.mfb_dropout,
                "fusion": self.fusion,
                "mf_normalization": self.mf_normalization,
            }
        )
        return config


def _check_shapes(input_shape):
    """Validates `[visual, audio]` shapes; returns visual as (B, T, S, d_v)."""
    if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
        raise ValueError(
            "AVFBLayer expects a list of two inputs [visual, audio]; received "
            f"input shape {input_shape}."
        )
    visual_shape, audio_shape = tuple(input_shape[0]), tuple(input_shape[1])
    if len(visual_shape) not in (4, 5):
        raise ValueError(
            "AVFBLayer expects `visual` of shape (B, T, S, d_v) or "
            f"(B, T, H, W, d_v); received shape {visual_shape}."
        )
    if len(audio_shape) != 3:
        raise ValueError(
            f"AVFBLayer expects `audio` of shape (B, T, d_a); received shape "
            f"{audio_shape}."
        )
    if None not in (visual_shape[1], audio_shape[1]) and visual_shape[1] != audio_shape[1]:
        raise ValueError(
            "AVFBLayer expects `visual` and `audio` to have the same number of "
            f"segments T; received T={visual_shape[1]} for visual (shape "
            f"{visual_shape}) and T={audio_shape[1]} for audio (shape {audio_shape})."
        )
    if visual_shape[-1] is None or audio_shape[-1] is None:
        raise ValueError(
            "AVFBLayer needs known feature sizes; received visual shape "
            f"{visual_shape} and audio shape {audio_shape}."
        )
    regions = visual_shape[2]
    if len(visual_shape) == 5:
        regions = None if None in visual_shape[2:4] else visual_shape[2] * visual_shape[3]
    return (visual_shape[0], visual_shape[1], regions, visual_shape[-1]), audio_shape
