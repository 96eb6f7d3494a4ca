"""Event-level class-activation consistency of CMBS (Xia & Zhao, CVPR 2022,
Sec. 3.3), checked against github:marmot-xy/CMBS
`model/main_model.py::supv_main_model` (`video_cas`, `audio_cas`, top-4 mean).

For one video, with the (background-suppressed) visual and audio features
v, a of shape (T, d):

    CAS^v = v W_v + b_v,   CAS^a = a W_a + b_a            (T, K) class activations
    s^m_k = mean of the top_k largest CAS^m_t,k over t    (m = v, a)
    score = (s^v + s^a) / 2                               (K,)

With a segment mask (clips shorter than T, padded at the end), the top-k
means run over the real segments only (all of them when there are fewer than
top_k).

Training the score against the video's event class (`EventClassLoss`) makes the
two modalities agree on which event the video holds; CMBS adds gamma * score to
the event logits of its localization head.
"""

import keras
from keras import ops

from keras_avl.layers.segment_mask import merge_masks
from keras_avl.validation import check_positive_int


@keras.saving.register_keras_serializable(package="keras_avl")
class ClassActivationConsistency(keras.layers.Layer):
    """Video-level class scores averaged over the audio and the visual stream.

    Args:
        num_classes: int, K (the event classes; CMBS: 28, background excluded).
        top_k: int, the segments averaged per class (4 in CMBS).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Weights: `W_v`, `b_v`, `W_a`, `b_a`.

    Call arguments:
        inputs: list `[visual, audio]`, both `(B, T, d)`.
        mask: optional boolean `(B, T)`, False at padded segments (or a list
            of such masks, one per input).

    Returns:
        The score `(B, K)`.

    Example:

    >>> import numpy as np
    >>> x = np.random.rand(2, 10, 8).astype("float32")
    >>> tuple(ClassActivationConsistency(num_classes=5, top_k=4)([x, x]).shape)
    (2, 5)
    """

    def __init__(self, num_classes, top_k=4, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = check_positive_int("num_classes", num_classes)
        self.top_k = check_positive_int("top_k", top_k)

    def build(self, input_shape):
        visual_shape, audio_shape = (tuple(shape) for shape in input_shape)
        segments = visual_shape[1]
        if segments is not None and self.top_k > segments:
            raise ValueError(
                f"`top_k` must be at most the number of segments {segments}; "
                f"received top_k={self.top_k}."
            )
        k = self.num_classes
        self.W_v = self.add_weight(name="W_v", shape=(visual_shape[-1], k))
        self.b_v = self.add_weight(name="b_v", shape=(k,), initializer="zeros")
        self.W_a = self.add_weight(name="W_a", shape=(audio_shape[-1], k))
        self.b_a = self.add_weight(name="b_a", shape=(k,), initializer="zeros")

    def _top_k_mean(self, activations, mask):
        per_class = ops.transpose(activations, (0, 2, 1))  # (B, K, T)
        if mask is None:
            values, _ = ops.top_k(per_class, self.top_k)
            return ops.mean(values, axis=-1)
        real = ops.expand_dims(mask, 1)
        lowest = ops.min(per_class, axis=(1, 2), keepdims=True)
        values, _ = ops.top_k(ops.where(real, per_class, lowest), self.top_k)
        # The first min(top_k, real segments) of the sorted values are real.
        count = ops.minimum(ops.sum(ops.cast(mask, values.dtype), axis=-1, keepdims=True),
                            float(self.top_k))
        kept = ops.cast(ops.arange(self.top_k), values.dtype) < ops.expand_dims(count, -1)
        kept = ops.cast(kept, values.dtype)
        return ops.sum(values * kept, axis=-1) / ops.maximum(ops.sum(kept, axis=-1), 1.0)

    def call(self, inputs, mask=None):
        visual, audio = inputs
        mask = merge_masks(mask)
        score_v = self._top_k_mean(ops.matmul(visual, self.W_v) + self.b_v, mask)
        score_a = self._top_k_mean(ops.matmul(audio, self.W_a) + self.b_a, mask)
        return (score_v + score_a) * 0.5

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (tuple(input_shape[0])[0], self.num_classes)

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes, "top_k": self.top_k})
        return config
