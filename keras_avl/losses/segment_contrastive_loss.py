"""CACE-Net's background-event contrastive loss (He et al., ACM MM 2024,
Sec. 3.3), as released in github:Brain-Cog-Lab/CACE-Net `CACE/supv_main.py`
(`train_epoch`, "计算对比损失"): a supervised contrastive loss over the 2T
normalised features of a video, its T segments' projections q and their
augmented views k (`keras_avl.layers.ContrastiveEventHead`).

With e_t = 1 when segment t holds an event (`labels_BCE`, the max of its
event labels) and l_ij = f_i . f_j / tau (tau = 0.01), the positives of
anchor i among the other 2T - 1 features are:

    q_i, q_j (and k_i, k_j):  e_i e_j, j != i      (two event segments)
    q_i, k_j:                 e_i e_j, or j = i    (its own augmented view)

so an event segment has 2n - 1 positives (n event segments), a background
segment one (its own view), and

    L_i = -( log sum_{j in P(i)} exp l_ij - log sum_{j != i} exp l_ij - log |P(i)| )
    L = mean_i L_i                                          (over the 2T anchors)

The code computes it in float64 from plain exponentials (exp(l) reaches
e^100); here each log-sum-exp subtracts its own maximum, the same value in
float32. The code adds `--contras_coeff` (1.0) times L to its four losses
from the epoch its contrastive switch turns on; before, the features are
zero (`ContrastiveEventHead`) and a video whose features are all zero has no
loss (0, no gradient). Padded segments (all-zero label rows, zeroed by
`keras_avl.models.registry.fit_targets`) are neither anchors nor candidates.
"""

import keras
from keras import ops

from keras_avl.losses.segment_labels import real_segments

# A logit far below any real one: a candidate outside the set.
_OUTSIDE = -1e30


def _log_sum_exp(logits, members):
    """log sum_j exp(logits_ij) over the j where `members` (float 0/1) is 1,
    stable (its own maximum); a very negative finite value for an empty set."""
    inside = members > 0
    masked = ops.where(inside, logits, _OUTSIDE)
    top = ops.max(masked, axis=-1, keepdims=True)
    total = ops.sum(ops.where(inside, ops.exp(masked - top), 0.0), axis=-1)
    return ops.log(ops.maximum(total, 1e-30)) + ops.squeeze(top, -1)


@keras.saving.register_keras_serializable(package="keras_avl")
class SegmentContrastiveLoss(keras.losses.Loss):
    """Contrastive loss of (B, 2T, d) features against (B, T, C) segment labels
    (background = last class).

    Args:
        temperature: tau (0.01 in the code).

    Example:

    >>> import numpy as np
    >>> labels = np.eye(2, dtype="float32")[[[0, 0, 1]]]    # event, event, background
    >>> f = np.eye(3, dtype="float32")[[[0, 0, 1, 0, 0, 1]]]  # q then k
    >>> # Aligned views: log 3 for the two event segments' 4 features, 0 for the background's.
    >>> round(float(SegmentContrastiveLoss()(labels, f)), 4)
    0.7324
    """

    def __init__(self, temperature=0.01, name="segment_contrastive_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) \
                or not temperature > 0:
            raise ValueError(f"`temperature` must be > 0; received temperature={temperature!r}.")
        self.temperature = float(temperature)

    def call(self, y_true, y_pred):
        labels = ops.cast(y_true, "float32")
        features = ops.cast(y_pred, "float32")
        segments = ops.shape(labels)[1]
        real = ops.concatenate([real_segments(labels)] * 2, axis=1)            # (B, 2T)
        event = ops.max(labels[..., :-1], axis=-1)
        event = ops.concatenate([event, event], axis=1)                        # (B, 2T)
        logits = ops.matmul(features, ops.swapaxes(features, 1, 2)) / self.temperature
        others = 1.0 - ops.eye(2 * segments)
        # [[0, I], [I, 0]]: each feature's view of the same segment.
        same_segment = ops.roll(ops.eye(2 * segments), segments, axis=1)
        positives = ops.maximum(event[:, :, None] * event[:, None, :] * others,
                                same_segment[None]) * real[:, None, :]
        candidates = others[None] * real[:, None, :]
        count = ops.maximum(ops.sum(positives, axis=-1), 1.0)
        per_anchor = _log_sum_exp(logits, candidates) + ops.log(count) \
            - _log_sum_exp(logits, positives)
        per_video = ops.sum(per_anchor * real, axis=-1) / ops.maximum(ops.sum(real, axis=-1), 1.0)
        # The switch off (all-zero features): no loss.
        active = ops.cast(ops.max(ops.abs(features), axis=(1, 2)) > 0, "float32")
        return per_video * ops.stop_gradient(active)

    def get_config(self):
        config = super().get_config()
        config["temperature"] = self.temperature
        return config
