"""Time-level background suppression of CMBS (Xia & Zhao, CVPR 2022, Sec. 3.3),
as released in github:marmot-xy/CMBS `model/main_model.py` (`audio_gated`,
`video_gated` of `supv_main_model` and of `weak_main_model`).

For one segment t, with the cross-modal outputs v_t, a_t (queries attended to
the other modality) and the intra-modal encodings k^v_t, k^a_t, the supervised
model (the defaults):

    g^a_t = sigmoid(k^a_t w_a + b_a),   g^v_t = sigmoid(k^v_t w_v + b_v)
    v'_t = v_t + alpha g^a_t v_t,       a'_t = a_t + alpha g^v_t a_t
    G_t = g^a_t g^v_t

Each modality's segment is amplified by the other modality's belief that the
segment holds the event; G_t, the audio-visual gate, is trained against the
event/background label of the segment (`keras_avl.losses.ForegroundLoss`).

The weak model differs in three places, each a constructor option:
`gate_keys="same"` (g^a_t = sigmoid(k^v_t w_a + b_a), g^v_t = sigmoid(k^a_t
w_v + b_v): each modality gated by its own keys), `convex=True`
(v'_t = (1 - alpha) v_t + alpha g^a_t v_t) and `combine="mean"`
(G_t = (g^a_t + g^v_t) / 2). The weights keep the code's names: `audio_gated`
is the gate that scales the visual stream in both models.
"""

import keras
from keras import ops

from keras_avl.layers.torch_init import torch_linear_kernel, torch_uniform

GATE_KEYS = ("other", "same")
COMBINATIONS = ("product", "mean")


@keras.saving.register_keras_serializable(package="keras_avl")
class BackgroundSuppression(keras.layers.Layer):
    """Per-segment audio and visual gates that suppress background segments.

    Args:
        alpha: float, the strength of the gating (0.1 supervised, 0.2 weak in CMBS).
        gate_keys: `"other"` (supervised: the visual stream is gated by the
            audio keys) or `"same"` (weak: by the visual keys).
        convex: bool, `(1 - alpha) x + alpha g x` (weak) instead of
            `x + alpha g x` (supervised).
        combine: `"product"` (supervised) or `"mean"` (weak) of the two gates.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Weights: `audio_gated_kernel`, `audio_gated_bias`, `video_gated_kernel`,
    `video_gated_bias` (PyTorch's `nn.Linear(d, 1)` init).

    Call arguments:
        inputs: list `[visual, audio, visual_key, audio_key]`, each `(B, T, d)`.

    Returns:
        Tuple `(visual, audio, gate)` of shapes `(B, T, d)`, `(B, T, d)`, `(B, T)`.

    Example:

    >>> import numpy as np
    >>> x = np.random.rand(2, 10, 8).astype("float32")
    >>> v, a, gate = BackgroundSuppression(alpha=0.1)([x, x, x, x])
    >>> tuple(v.shape), tuple(gate.shape)
    ((2, 10, 8), (2, 10))
    """

    def __init__(self, alpha=0.1, gate_keys="other", convex=False, combine="product",
                 **kwargs):
        super().__init__(**kwargs)
        if not alpha >= 0:
            raise ValueError(f"`alpha` must be >= 0; received alpha={alpha!r}.")
        self.alpha = float(alpha)
        if gate_keys not in GATE_KEYS:
            raise ValueError(f"`gate_keys` must be one of {GATE_KEYS}; received {gate_keys!r}.")
        self.gate_keys = gate_keys
        if not isinstance(convex, bool):
            raise ValueError(f"`convex` must be a bool; received {convex!r}.")
        self.convex = convex
        if combine not in COMBINATIONS:
            raise ValueError(f"`combine` must be one of {COMBINATIONS}; received {combine!r}.")
        self.combine = combine

    def build(self, input_shape):
        shapes = [tuple(shape) for shape in input_shape]
        if len(shapes) != 4 or len({shape[-1] for shape in shapes}) != 1:
            raise ValueError(
                "BackgroundSuppression expects `[visual, audio, visual_key, audio_key]` "
                f"of one feature size; received shapes {shapes}."
            )
        d = shapes[0][-1]
        for name in ("audio_gated", "video_gated"):
            setattr(self, f"{name}_kernel", self.add_weight(
                name=f"{name}_kernel", shape=(d, 1), initializer=torch_linear_kernel()))
            setattr(self, f"{name}_bias", self.add_weight(
                name=f"{name}_bias", shape=(1,), initializer=torch_uniform(d)))

    def call(self, inputs):
        visual, audio, visual_key, audio_key = inputs
        if self.gate_keys == "same":
            audio_key, visual_key = visual_key, audio_key
        gate_a = ops.sigmoid(ops.matmul(audio_key, self.audio_gated_kernel) + self.audio_gated_bias)
        gate_v = ops.sigmoid(ops.matmul(visual_key, self.video_gated_kernel) + self.video_gated_bias)
        keep = 1.0 - self.alpha if self.convex else 1.0
        visual = keep * visual + self.alpha * gate_a * visual
        audio = keep * audio + self.alpha * gate_v * audio
        gate = gate_a * gate_v if self.combine == "product" else (gate_a + gate_v) * 0.5
        return visual, audio, ops.squeeze(gate, -1)

    def compute_output_shape(self, input_shape):
        visual_shape, audio_shape = tuple(input_shape[0]), tuple(input_shape[1])
        return visual_shape, audio_shape, visual_shape[:-1]

    def get_config(self):
        config = super().get_config()
        config.update({"alpha": self.alpha, "gate_keys": self.gate_keys, "convex": self.convex,
                       "combine": self.combine})
        return config
