"""Per-segment class probabilities from CMBS's two supervised heads (Xia &
Zhao, CVPR 2022; the decision of `compute_accuracy_supervised` in
github:marmot-xy/CMBS `supv_main.py`).

CMBS predicts, per segment, whether it holds the event (logit z_t) and, per
video, which of the K = C - 1 events it is (logits e). Its decision: segment t
is background when sigmoid(z_t) <= 0.5, else the event argmax_k e_k. This layer
writes that decision as a distribution over the C classes (background last),
so that CMBS plugs into the per-segment metrics of `keras_avl.training`:

    p_t = sigmoid(z_t),  q = softmax(e)
    u_t = ( p_t q / max_k q_k ,  1 - p_t )                 (C,)
    P_t = u_t / sum(u_t)

The largest event entry of u_t is p_t and the background entry 1 - p_t, so
argmax_c P_t,c is CMBS's decision (ties at p_t = 0.5 go to the event).
A segment mask given to the layer is carried by its output, so that Keras
leaves padded segments out of the accuracy.
"""

import keras
from keras import ops

from keras_avl.layers.segment_mask import merge_masks


@keras.saving.register_keras_serializable(package="keras_avl")
class EventGatedProbabilities(keras.layers.Layer):
    """(B, T, C) probabilities from event logits (B, T) and class logits (B, C-1).

    Call arguments:
        inputs: list `[event_logits, class_logits]`.
        mask: optional boolean `(B, T)`, False at padded segments; the output
            carries it.

    Example:

    >>> import numpy as np
    >>> z = np.array([[3.0, -3.0]], "float32")      # event, background
    >>> e = np.array([[0.0, 2.0]], "float32")       # event class 1
    >>> P = EventGatedProbabilities()([z, e])
    >>> np.asarray(P).argmax(-1).tolist()
    [[1, 2]]
    """

    def call(self, inputs, mask=None):
        event_logits, class_logits = inputs
        p = ops.expand_dims(ops.sigmoid(ops.cast(event_logits, "float32")), -1)
        q = ops.softmax(ops.cast(class_logits, "float32"), axis=-1)
        q = ops.expand_dims(q / ops.max(q, axis=-1, keepdims=True), 1)
        u = ops.concatenate([p * q, 1.0 - p], axis=-1)
        return ops.cast(u / ops.sum(u, axis=-1, keepdims=True), self.compute_dtype)

    def compute_mask(self, inputs, mask=None):
        return merge_masks(mask)

    def compute_output_shape(self, input_shape):
        event_shape, class_shape = tuple(input_shape[0]), tuple(input_shape[1])
        classes = None if class_shape[-1] is None else class_shape[-1] + 1
        return event_shape + (classes,)
