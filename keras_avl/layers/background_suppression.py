"""Time-level background suppression of CMBS (Xia & Zhao, CVPR 2022, Sec. 3.3),
checked against github:marmot-xy/CMBS `model/main_model.py::supv_main_model`.

For one segment t, with the cross-modal outputs v_t, a_t (queries attended to
the other modality) and the intra-modal encodings k^v_t, k^a_t:

    g^a_t = sigmoid(k^a_t w_a + b_a),   g^v_t = sigmoid(k^v_t w_v + b_v)
    v'_t = v_t + alpha g^a_t v_t,       a'_t = a_t + alpha g^v_t a_t
    G_t = g^a_t g^v_t

Each modality's segment is amplified by the other modality's belief that the
segment holds the event; G_t, the audio-visual gate, is trained against the
event/background label of the segment (`keras_avl.losses.ForegroundLoss`).
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_avl")
class BackgroundSuppression(keras.layers.Layer):
    """Per-segment audio and visual gates that suppress background segments.

    Args:
        alpha: float, the strength of the gating (0.1 supervised in CMBS).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Weights: `w_a`, `b_a`, `w_v`, `b_v`.

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

    def __init__(self, alpha=0.1, **kwargs):
        super().__init__(**kwargs)
        if not alpha >= 0:
            raise ValueError(f"`alpha` must be >= 0; received alpha={alpha!r}.")
        self.alpha = float(alpha)

    def build(self, input_shape):
        shapes = [tuple(shape) for shape in input_shape]
        if len(shapes) != 4 or len({shape[-1] for shape in shapes}) != 1:
            raise ValueError(
                "BackgroundSuppression expects `[visual, audio, visual_key, audio_key]` "
                f"of one feature size; received shapes {shapes}."
            )
        d = shapes[0][-1]
        self.w_a = self.add_weight(name="w_a", shape=(d, 1))
        self.b_a = self.add_weight(name="b_a", shape=(1,), initializer="zeros")
        self.w_v = self.add_weight(name="w_v", shape=(d, 1))
        self.b_v = self.add_weight(name="b_v", shape=(1,), initializer="zeros")

    def call(self, inputs):
        visual, audio, visual_key, audio_key = inputs
        gate_a = ops.sigmoid(ops.matmul(audio_key, self.w_a) + self.b_a)
        gate_v = ops.sigmoid(ops.matmul(visual_key, self.w_v) + self.b_v)
        visual = visual + self.alpha * gate_a * visual
        audio = audio + self.alpha * gate_v * audio
        return visual, audio, ops.squeeze(gate_a * gate_v, -1)

    def compute_output_shape(self, input_shape):
        visual_shape, audio_shape = tuple(input_shape[0]), tuple(input_shape[1])
        return visual_shape, audio_shape, visual_shape[:-1]

    def get_config(self):
        config = super().get_config()
        config.update({"alpha": self.alpha})
        return config
