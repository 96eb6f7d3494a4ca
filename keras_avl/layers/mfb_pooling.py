"""Multi-modal factorized bilinear pooling with spatial attention (eqs. 3-6).

For every spatial region s of a segment, the visual feature F_v,s and the audio
feature F_a are projected to `factor * output_dim` channels by the low-rank
matrices U and V, multiplied element-wise and sum-pooled over windows of
`factor` consecutive channels (eq. 3), power- and L2-normalised (eq. 4), scored
by W_z, b_z and soft-maxed over the regions (eq. 5); the attended visual vector
is the attention-weighted sum of the regions (eq. 6).
"""

import keras
from keras import ops

from keras_avl.numerics import attend_regions, safe_l2_normalize, signed_sqrt
from keras_avl.ops import SUPPORTED_BACKENDS, fused_mfb
from keras_avl.validation import check_positive_int, check_rate

# `fused="auto"`: the fused kernel wherever it runs (TensorFlow and JAX), the
# path that measured faster on the 2-core CPU at every size measured: at AVE
# size (d_v = 512) forward+backward 2.59x the reference on JAX
# (benchmarks/results/mfb_cpu_jax_ave.json) and 1.78x (step without XLA) /
# 1.58x (XLA step) on TensorFlow (mfb_cpu_tensorflow_ave.json); the paper
# model trains 1.29x faster with it at AVE size and 1.95x at d_v = 64 on
# TensorFlow (train_cpu_tensorflow_ave_quiet.json,
# train_cpu_tensorflow_dv64_fused_path.json). GPUs were not measured.


@keras.saving.register_keras_serializable(package="keras_avl")
class MFBPooling(keras.layers.Layer):
    """MFB fusion of region-wise visual and segment audio features.

    Args:
        factor: int, the latent dimensionality q of eq. 3: the number of
            consecutive channels summed into one output channel.
        output_dim: int, the pooled dimension p (the size of z_t).
        dropout: float, dropout rate on the bilinear product before sum
            pooling (as in Yu et al.'s MFB).
        use_bias: bool, whether the U and V projections get biases
            (`U_bias`, `V_bias`). Off by default so that eq. 3 holds exactly.
        fused: `"auto"`, True or False: whether to compute with
            `keras_avl.ops.fused_mfb` (never forms the (S, q*p) product; the
            same results up to float rounding).
            `"auto"` takes the path that measured faster: the fused kernel
            on TensorFlow and JAX, at every size measured.
            The fused path runs on the TensorFlow and JAX backends only; the
            reference `keras.ops` path runs on other backends, when the
            number of regions S is unknown while tracing, and whenever
            dropout is active (training with `dropout > 0`), because
            dropping single product channels needs the full product.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: list `[visual, audio]`; visual of shape `(..., S, d_v)` and
            audio of shape `(..., d_a)` with the same leading dimensions.
        training: bool, whether dropout is active.

    Returns:
        Tuple `(attended, attention)`: attended `(..., d_v)` is MF_v of eq. 6,
        attention `(..., S)` is lambda of eq. 5 (sums to one over S).

    Example:

    >>> import numpy as np
    >>> layer = MFBPooling(factor=2, output_dim=8)
    >>> visual = np.random.rand(3, 49, 16).astype("float32")
    >>> audio = np.random.rand(3, 4).astype("float32")
    >>> attended, attention = layer([visual, audio])
    >>> tuple(attended.shape), tuple(attention.shape)
    ((3, 16), (3, 49))
    """

    def __init__(
        self,
        factor=5,
        output_dim=256,
        dropout=0.0,
        use_bias=False,
        fused="auto",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.factor = check_positive_int("factor", factor)
        self.output_dim = check_positive_int("output_dim", output_dim)
        self.dropout = check_rate("dropout", dropout)
        self.use_bias = use_bias
        if fused != "auto" and not isinstance(fused, bool):
            raise ValueError(
                f"`fused` must be 'auto', True or False; received fused={fused!r}."
            )
        self.fused = fused
        self.dropout_layer = keras.layers.Dropout(dropout, dtype=self.dtype_policy)

    def build(self, input_shape):
        visual_shape, audio_shape = _split_input_shape(input_shape)
        if len(visual_shape) < 2 or len(visual_shape) != len(audio_shape) + 1:
            raise ValueError(
                "MFBPooling expects `visual` of shape (..., S, d_v) and `audio` "
                "of shape (..., d_a) with the same leading dimensions; received "
                f"visual shape {visual_shape} and audio shape {audio_shape}."
            )
        for index, (v_dim, a_dim) in enumerate(
            zip(visual_shape[:-2], audio_shape[:-1])
        ):
            if v_dim is not None and a_dim is not None and v_dim != a_dim:
                raise ValueError(
                    "MFBPooling expects `visual` and `audio` to share their "
                    f"leading dimensions; dimension {index} is {v_dim} for "
                    f"visual and {a_dim} for audio (visual shape "
                    f"{visual_shape}, audio shape {audio_shape})."
                )
        visual_dim, audio_dim = visual_shape[-1], audio_shape[-1]
        if visual_dim is None or audio_dim is None:
            raise ValueError(
                "MFBPooling needs known feature sizes; received visual shape "
                f"{visual_shape} and audio shape {audio_shape}."
            )
        width = self.factor * self.output_dim
        self.U = self.add_weight(
            name="U", shape=(visual_dim, width), initializer="glorot_uniform"
        )
        self.V = self.add_weight(
            name="V", shape=(audio_dim, width), initializer="glorot_uniform"
        )
        if self.use_bias:
            self.U_bias = self.add_weight(
                name="U_bias", shape=(width,), initializer="zeros"
            )
            self.V_bias = self.add_weight(
                name="V_bias", shape=(width,), initializer="zeros"
            )
        self.W_z = self.add_weight(
            name="W_z", shape=(self.output_dim, 1), initializer="glorot_uniform"
        )
        self.b_z = self.add_weight(name="b_z", shape=(1,), initializer="zeros")

    def call(self, inputs, training=None):
        visual, audio = inputs
        if self.uses_fused_kernel():
            # The fused op tiles on a static S; a traced S = None runs here.
            if not (training and self.dropout > 0) and visual.shape[-2] is not None:
                return self._fused_call(visual, audio)
        visual_proj = ops.matmul(visual, self.U)  # (..., S, q*p)
        audio_proj = ops.matmul(audio, self.V)  # (..., q*p)
        if self.use_bias:
            visual_proj = visual_proj + self.U_bias
            audio_proj = audio_proj + self.V_bias
        product = visual_proj * ops.expand_dims(audio_proj, -2)
        product = self.dropout_layer(product, training=training)
        pooled_shape = tuple(ops.shape(product)[:-1]) + (self.output_dim, self.factor)
        pooled = ops.sum(ops.reshape(product, pooled_shape), axis=-1)  # eq. 3
        normalized = safe_l2_normalize(signed_sqrt(pooled))  # eq. 4, float32
        logits = ops.squeeze(
            ops.matmul(normalized, ops.cast(self.W_z, "float32")), -1
        ) + ops.cast(self.b_z, "float32")
        return attend_regions(logits, visual, self.compute_dtype)  # eqs. 5-6

    def uses_fused_kernel(self):
        """Whether `fused` (`"auto"`: wherever the kernel runs) selects the
        fused kernel on the active Keras backend."""
        if keras.backend.backend() not in SUPPORTED_BACKENDS:
            return False
        return self.fused == "auto" or self.fused

    def _fused_call(self, visual, audio):
        # fused_mfb takes N = prod(leading dims) segments.
        leading = tuple(ops.shape(visual)[:-2])
        regions, visual_dim = tuple(ops.shape(visual)[-2:])
        biases = (self.U_bias, self.V_bias) if self.use_bias else (None, None)
        attended, attention = fused_mfb(
            ops.reshape(visual, (-1, regions, visual_dim)),
            ops.reshape(audio, (-1, ops.shape(audio)[-1])),
            self.U,
            self.V,
            self.W_z,
            self.b_z,
            *biases,
        )
        return (
            ops.reshape(attended, leading + (visual_dim,)),
            ops.reshape(attention, leading + (regions,)),
        )

    def compute_output_shape(self, input_shape):
        visual_shape, _ = _split_input_shape(input_shape)
        return visual_shape[:-2] + visual_shape[-1:], visual_shape[:-1]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "factor": self.factor,
                "output_dim": self.output_dim,
                "dropout": self.dropout,
                "use_bias": self.use_bias,
                "fused": self.fused,
            }
        )
        return config


def _split_input_shape(input_shape):
    if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
        raise ValueError(
            "MFBPooling expects a list of two inputs [visual, audio]; received "
            f"input shape {input_shape}."
        )
    return tuple(input_shape[0]), tuple(input_shape[1])

