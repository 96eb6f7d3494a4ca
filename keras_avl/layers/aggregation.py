"""Aggregation of the region-wise and segment-wise features (eq. 12, §3.5).

sim_t = (h_t^a - h_t^v) o (s_t^a - s_t^v) is concatenated with h^v, h^a, s^v
and s^a into the final per-segment representation.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_avl")
class Aggregation(keras.layers.Layer):
    """Concatenates `(h_v, h_a, s_v, s_a, sim)` with sim of eq. 12.

    Call arguments:
        inputs: list `[h_a, h_v, s_a, s_v]`, each of shape `(B, T, D)`.

    Returns:
        A tensor of shape `(B, T, 5 * D)`.

    Example:

    >>> import numpy as np
    >>> x = [np.random.rand(2, 10, 4).astype("float32") for _ in range(4)]
    >>> tuple(Aggregation()(x).shape)
    (2, 10, 20)
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def build(self, input_shape):
        shapes = [tuple(shape) for shape in input_shape]
        if len(shapes) != 4 or any(shape != shapes[0] for shape in shapes[1:]):
            raise ValueError(
                "Aggregation expects four inputs [h_a, h_v, s_a, s_v] of one "
                f"shape (B, T, D); received shapes {shapes}."
            )

    def call(self, inputs):
        h_a, h_v, s_a, s_v = inputs
        similarity = (h_a - h_v) * (s_a - s_v)
        return ops.concatenate([h_v, h_a, s_v, s_a, similarity], axis=-1)

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else mask[0]

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape[0])
        return shape[:-1] + (5 * shape[-1],)
