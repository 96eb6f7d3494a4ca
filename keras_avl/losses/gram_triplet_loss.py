"""Audio Visual Triplet Gram Matrix Loss, AVTGML (eqs. 13-16).

G(X) = X X^T is the T x T Gram matrix of a sequence of segment features,
normalised by its Frobenius norm (eq. 14); the Frobenius inner product of two
normalised Gram matrices is their cosine similarity (eq. 15). The loss pulls the
visual sequence towards its own audio and away from another video's audio:
max(d_neg - d_pos + margin, 0) (eq. 16).
"""

import keras
from keras import ops

from keras_avl.numerics import EPSILON


def normalized_gram(x):
    """G(X) / ||G(X)||_F for x of shape (B, T, D), in float32 (eq. 14)."""
    x = ops.cast(x, "float32")
    gram = ops.matmul(x, ops.transpose(x, (0, 2, 1)))
    square_norm = ops.sum(ops.square(gram), axis=(1, 2), keepdims=True)
    return gram * ops.rsqrt(ops.maximum(square_norm, EPSILON * EPSILON))


def gram_triplet_loss(visual, audio_pos, audio_neg, margin=0.7):
    """The per-video AVTGML of eq. 16.

    Args:
        visual: s_v of shape `(B, T, D)` (the visual SWAB output).
        audio_pos: s_a+ of shape `(B, T, D)`, the video's own audio.
        audio_neg: s_a- of shape `(B, T, D)`, another video's audio.
        margin: the margin gamma (0.7 in the paper).

    Returns:
        The loss of every video, shape `(B,)`, float32.

    Example:

    >>> import numpy as np
    >>> x = np.random.rand(2, 10, 8).astype("float32")
    >>> loss = gram_triplet_loss(x, x, x)  # d_pos == d_neg: loss == margin
    >>> bool(np.allclose(loss, 0.7))
    True
    """
    gram_visual = normalized_gram(visual)
    d_pos = ops.sum(gram_visual * normalized_gram(audio_pos), axis=(1, 2))
    d_neg = ops.sum(gram_visual * normalized_gram(audio_neg), axis=(1, 2))
    return ops.relu(d_neg - d_pos + margin)


@keras.saving.register_keras_serializable(package="keras_avl")
class GramTripletLoss(keras.losses.Loss):
    """AVTGML as a `keras.losses.Loss` for `model.fit`.

    `y_pred` packs the three SWAB outputs as `(B, 3, T, D)` in the order
    (visual, positive audio, negative audio), as `TripletStack` does; `y_true`
    is ignored (the regime needs no labels).

    Args:
        margin: the margin gamma of eq. 16 (0.7 in the paper).
        **kwargs: base loss arguments (`reduction`, `name`, ...).

    Example:

    >>> import numpy as np
    >>> y_pred = np.random.rand(4, 3, 10, 8).astype("float32")
    >>> float(GramTripletLoss()(None, y_pred)) >= 0.0
    True
    """

    def __init__(self, margin=0.7, name="gram_triplet_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.margin = float(margin)

    def call(self, y_true, y_pred):
        return gram_triplet_loss(
            y_pred[:, 0], y_pred[:, 1], y_pred[:, 2], margin=self.margin
        )

    def __call__(self, y_true, y_pred, sample_weight=None):
        # y_true carries no information; a placeholder keeps Keras' checks happy.
        if y_true is None:
            y_true = ops.zeros((ops.shape(y_pred)[0],))
        return super().__call__(y_true, y_pred, sample_weight)

    def get_config(self):
        config = super().get_config()
        config.update({"margin": self.margin})
        return config
