"""Event-level class-activation consistency of CMBS (Xia & Zhao, CVPR 2022,
Sec. 3.3), checked against github:marmot-xy/CMBS
`model/main_model.py::supv_main_model` (`video_cas`, `audio_cas`, top-4 mean);
and the top-k mean over time alone (`TopKTimeMean`), which `weak_main_model`
applies to its gated class-activation sequence.

For one video, with the (background-suppressed) visual and audio features
v, a of shape (T, d):

    CAS^v = v W_v + b_v,   CAS^a = a W_a + b_a            (T, K) class activations
                                                          (`video_cas`, `audio_cas`)
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
from keras_avl.layers.torch_init import torch_linear_kernel, torch_uniform
from keras_avl.validation import check_positive_int


def top_k_time_mean(activations, top_k, mask=None):
    """(B, K): per class, the mean of the `top_k` largest of `activations`
    (B, T, K) over t; with a mask (B, T), over the real segments (all of them
    when there are fewer than `top_k`)."""
    per_class = ops.transpose(activations, (0, 2, 1))  # (B, K, T)
    if mask is None:
        values, _ = ops.top_k(per_class, top_k)
        return ops.mean(values, axis=-1)
    real = ops.expand_dims(mask, 1)
    lowest = ops.min(per_class, axis=(1, 2), keepdims=True)
    values, _ = ops.top_k(ops.where(real, per_class, lowest), top_k)
    # The first min(top_k, real segments) of the sorted values are real.
    count = ops.minimum(ops.sum(ops.cast(mask, values.dtype), axis=-1, keepdims=True),
                        float(top_k))
    kept = ops.cast(ops.arange(top_k), values.dtype) < ops.expand_dims(count, -1)
    kept = ops.cast(kept, values.dtype)
    return ops.sum(values * kept, axis=-1) / ops.maximum(ops.sum(kept, axis=-1), 1.0)


def _check_top_k(top_k, segments):
    if segments is not None and top_k > segments:
        raise ValueError(
            f"`top_k` must be at most the number of segments {segments}; "
            f"received top_k={top_k}."
        )


@keras.saving.register_keras_serializable(package="keras_avl")
class ClassActivationConsistency(keras.layers.Layer):
    """Video-level class scores averaged over the audio and the visual stream.

    Args:
        num_classes: int, K (the event classes; CMBS: 28, background excluded).
        top_k: int, the segments averaged per class (4 in CMBS).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Weights: `video_cas_kernel`, `video_cas_bias`, `audio_cas_kernel`,
    `audio_cas_bias` (PyTorch's `nn.Linear` init).

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
        _check_top_k(self.top_k, visual_shape[1])
        k = self.num_classes
        for name, fan_in in (("video_cas", visual_shape[-1]), ("audio_cas", audio_shape[-1])):
            setattr(self, f"{name}_kernel", self.add_weight(
                name=f"{name}_kernel", shape=(fan_in, k), initializer=torch_linear_kernel()))
            setattr(self, f"{name}_bias", self.add_weight(
                name=f"{name}_bias", shape=(k,), initializer=torch_uniform(fan_in)))

    def call(self, inputs, mask=None):
        visual, audio = inputs
        mask = merge_masks(mask)
        score_v = top_k_time_mean(
            ops.matmul(visual, self.video_cas_kernel) + self.video_cas_bias, self.top_k, mask)
        score_a = top_k_time_mean(
            ops.matmul(audio, self.audio_cas_kernel) + self.audio_cas_bias, self.top_k, mask)
        return (score_v + score_a) * 0.5

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (tuple(input_shape[0])[0], self.num_classes)

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes, "top_k": self.top_k})
        return config


@keras.saving.register_keras_serializable(package="keras_avl")
class TopKTimeMean(keras.layers.Layer):
    """Per class, the mean of the `top_k` largest scores over time (CMBS's weak
    `raw_logits`: `cas_score.sort(dim=1)[:, :4].mean(1)`).

    Args:
        top_k: int, the segments averaged per class (4 in CMBS).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `(B, T, K)`.
        mask: optional boolean `(B, T)`, False at padded segments: the mean
            runs over the real segments (all of them when fewer than top_k).

    Returns:
        `(B, K)`.

    Example:

    >>> import numpy as np
    >>> x = np.array([[[1.0], [4.0], [2.0]]], "float32")
    >>> np.asarray(TopKTimeMean(top_k=2)(x)).tolist()
    [[3.0]]
    """

    def __init__(self, top_k=4, **kwargs):
        super().__init__(**kwargs)
        self.top_k = check_positive_int("top_k", top_k)

    def build(self, input_shape):
        _check_top_k(self.top_k, tuple(input_shape)[1])

    def call(self, inputs, mask=None):
        return top_k_time_mean(inputs, self.top_k, merge_masks(mask))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update({"top_k": self.top_k})
        return config
