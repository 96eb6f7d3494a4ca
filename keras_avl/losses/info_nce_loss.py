"""InfoNCE over the batch with a multiple-instance max over regions, the loss
of the contrastive sound-source-localization baseline (EZ-VSL, ECCV 2022).

With X[i, t, j] the best-region cosine of video i's segment t and video j's
audio of segment t (`AudioVisualSimilarity`), the logits are X / tau. Video i's
regions must pick out its own audio among the batch's (a softmax over j), and
its audio its own regions (a softmax over i):

    loss_i = mean_t [ -log softmax_j(X[i,t,:]/tau)_i - log softmax_j(X[:,t,i]/tau)_i ]

which is EZ-VSL's cross-entropy in both directions, averaged per video.
An optional per-segment mask (B, T) drops padded segments, both as anchors
and as candidates.
"""

import keras
from keras import ops

from keras_avl.losses.label_free_loss import LabelFreeLoss

# Logit given to masked-out candidates: exp() of it is 0 in float32.
_MASKED_LOGIT = -1e9


def _diagonal_cross_entropy(logits, valid):
    """-log softmax(logits[i, t, :])_i for logits (B, T, B); candidates j with
    valid[j, t] False take no part."""
    logits = ops.where(ops.expand_dims(ops.transpose(valid), 0), logits, _MASKED_LOGIT)
    log_probabilities = ops.log_softmax(logits, axis=-1)
    eye = ops.eye(ops.shape(logits)[0], dtype=logits.dtype)
    return -ops.sum(log_probabilities * ops.expand_dims(eye, 1), axis=-1)


def info_nce_loss(cross_similarity, temperature=0.03, mask=None):
    """The per-video symmetric InfoNCE of EZ-VSL.

    Args:
        cross_similarity: `(B, T, B)`, entry `[i, t, j]` the similarity of
            video i's regions and video j's audio at segment t.
        temperature: tau (0.03 in EZ-VSL).
        mask: optional `(B, T)`, 1 for real segments, 0 for padding.

    Returns:
        The loss of every video, shape `(B,)`, float32 (0 for a video without
        real segments).

    Example:

    >>> import numpy as np
    >>> cross = np.full((4, 10, 4), 0.5, "float32")  # nothing tells videos apart
    >>> bool(np.allclose(info_nce_loss(cross), 2 * np.log(4)))
    True
    """
    cross = ops.cast(cross_similarity, "float32")
    if mask is None:
        mask = ops.ones(ops.shape(cross)[:2], "float32")
    mask = ops.cast(mask, "float32")
    valid = mask > 0
    logits = cross / temperature
    visual_to_audio = _diagonal_cross_entropy(logits, valid)
    audio_to_visual = _diagonal_cross_entropy(ops.transpose(logits, (2, 1, 0)), valid)
    per_segment = (visual_to_audio + audio_to_visual) * mask
    return ops.sum(per_segment, axis=1) / ops.maximum(ops.sum(mask, axis=1), 1.0)


@keras.saving.register_keras_serializable(package="keras_avl")
class InfoNCELoss(LabelFreeLoss):
    """`info_nce_loss` as a `keras.losses.Loss` for `model.fit`.

    `y_pred` is the `(B, T, B)` cross similarity of `AudioVisualSimilarity`;
    `y_true` is the `(B, T)` segment mask (`train` passes it inside `fit`:
    padded segments drop out as anchors and as candidates), or a `(B,)`
    placeholder / None when every segment is real.

    Args:
        temperature: tau (0.03 in EZ-VSL).
        **kwargs: base loss arguments (`reduction`, `name`, ...).

    Example:

    >>> import numpy as np
    >>> cross = np.eye(3, dtype="float32")[:, None, :].repeat(10, 1)
    >>> float(InfoNCELoss(temperature=0.1)(None, cross)) < 0.01
    True
    """

    def __init__(self, temperature=0.03, name="info_nce_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        if not temperature > 0:
            raise ValueError(
                f"`temperature` must be > 0; received temperature={temperature!r}."
            )
        self.temperature = float(temperature)

    def call(self, y_true, y_pred):
        return info_nce_loss(y_pred, self.temperature, self.segment_mask(y_true))

    def get_config(self):
        config = super().get_config()
        config.update({"temperature": self.temperature})
        return config
