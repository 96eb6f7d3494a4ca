"""Audio Visual Triplet Gram Matrix Loss, AVTGML (eqs. 13-16).

G(X) = X X^T is the T x T Gram matrix of a sequence of segment features,
normalised by its Frobenius norm (eq. 14); the Frobenius inner product of two
normalised Gram matrices is their cosine similarity (eq. 15). The loss pulls the
visual sequence towards its own audio and away from another video's audio:
max(d_neg - d_pos + margin, 0) (eq. 16).

The Gram matrices compare temporal structure only: a video whose segments all
look alike gives the same normalised Gram matrix whatever the attention picks.
`segment_weight` > 0 adds a per-segment audio-visual term (not in the paper, an
option of keras-avl): the same triplet on the cosine of each segment's visual
and audio features, mean_t max(cos(v_t, a-_t) - cos(v_t, a+_t) + margin, 0).
Both terms take an optional per-segment mask (B, T) (padded segments drop out).
"""

import keras
from keras import ops

from keras_avl.losses.label_free_loss import LabelFreeLoss
from keras_avl.numerics import EPSILON, safe_l2_normalize


def _masked(x, mask):
    """x (B, T, D) in float32 with the segments where mask (B, T) is 0 zeroed."""
    x = ops.cast(x, "float32")
    if mask is None:
        return x
    return x * ops.expand_dims(ops.cast(mask, "float32"), -1)


def normalized_gram(x, mask=None):
    """G(X) / ||G(X)||_F for x of shape (B, T, D), in float32 (eq. 14);
    segments where `mask` (B, T) is 0 are left out (zero rows and columns)."""
    x = _masked(x, mask)
    gram = ops.matmul(x, ops.transpose(x, (0, 2, 1)))
    square_norm = ops.sum(ops.square(gram), axis=(1, 2), keepdims=True)
    return gram * ops.rsqrt(ops.maximum(square_norm, EPSILON * EPSILON))


def segment_triplet_loss(visual, audio_pos, audio_neg, margin=0.7, mask=None):
    """The per-segment audio-visual triplet, averaged over the real segments:
    mean_t max(cos(v_t, a-_t) - cos(v_t, a+_t) + margin, 0), shape (B,).

    Example:

    >>> import numpy as np
    >>> v = np.ones((1, 10, 4), "float32")
    >>> float(segment_triplet_loss(v, v, -v, margin=0.5)[0])  # cos 1 vs -1
    0.0
    """
    visual = safe_l2_normalize(visual)
    cos_pos = ops.sum(visual * safe_l2_normalize(audio_pos), axis=-1)
    cos_neg = ops.sum(visual * safe_l2_normalize(audio_neg), axis=-1)
    per_segment = ops.relu(cos_neg - cos_pos + margin)
    if mask is None:
        return ops.mean(per_segment, axis=-1)
    mask = ops.cast(mask, "float32")
    return ops.sum(per_segment * mask, axis=-1) / ops.maximum(ops.sum(mask, axis=-1), 1.0)


def gram_triplet_loss(visual, audio_pos, audio_neg, margin=0.7, mask=None,
                      segment_weight=0.0):
    """The per-video AVTGML of eq. 16.

    Args:
        visual: s_v of shape `(B, T, D)` (the visual SWAB output).
        audio_pos: s_a+ of shape `(B, T, D)`, the video's own audio.
        audio_neg: s_a- of shape `(B, T, D)`, another video's audio.
        margin: the margin gamma (0.7 in the paper).
        mask: optional `(B, T)`, 1 for real segments, 0 for padding.
        segment_weight: weight of `segment_triplet_loss` added to eq. 16
            (0: the paper's loss).

    Returns:
        The loss of every video, shape `(B,)`, float32.

    Example:

    >>> import numpy as np
    >>> x = np.random.rand(2, 10, 8).astype("float32")
    >>> loss = gram_triplet_loss(x, x, x)  # d_pos == d_neg: loss == margin
    >>> bool(np.allclose(loss, 0.7))
    True
    """
    gram_visual = normalized_gram(visual, mask)
    d_pos = ops.sum(gram_visual * normalized_gram(audio_pos, mask), axis=(1, 2))
    d_neg = ops.sum(gram_visual * normalized_gram(audio_neg, mask), axis=(1, 2))
    loss = ops.relu(d_neg - d_pos + margin)
    if segment_weight:
        loss = loss + segment_weight * segment_triplet_loss(
            visual, audio_pos, audio_neg, margin, mask
        )
    return loss


@keras.saving.register_keras_serializable(package="keras_avl")
class GramTripletLoss(LabelFreeLoss):
    """AVTGML as a `keras.losses.Loss` for `model.fit`.

    `y_pred` packs the three SWAB outputs as `(B, 3, T, D)` in the order
    (visual, positive audio, negative audio), as `TripletStack` does; `y_true`
    is the `(B, T)` segment mask of the video (`train` passes it inside `fit`:
    padded segments leave the Gram matrices and the per-segment term), or a
    `(B,)` placeholder / None when every segment is real.

    Args:
        margin: the margin gamma of eq. 16 (0.7 in the paper).
        segment_weight: weight of the per-segment audio-visual term (0: the
            paper's loss; see `segment_triplet_loss`).
        **kwargs: base loss arguments (`reduction`, `name`, ...).

    Example:

    >>> import numpy as np
    >>> y_pred = np.random.rand(4, 3, 10, 8).astype("float32")
    >>> float(GramTripletLoss()(None, y_pred)) >= 0.0
    True
    """

    def __init__(self, margin=0.7, segment_weight=0.0, name="gram_triplet_loss",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.margin = float(margin)
        self.segment_weight = float(segment_weight)

    def call(self, y_true, y_pred):
        return gram_triplet_loss(
            y_pred[:, 0], y_pred[:, 1], y_pred[:, 2], margin=self.margin,
            mask=self.segment_mask(y_true), segment_weight=self.segment_weight,
        )

    def get_config(self):
        config = super().get_config()
        config.update({"margin": self.margin, "segment_weight": self.segment_weight})
        return config
