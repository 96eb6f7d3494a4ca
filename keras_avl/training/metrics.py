"""Evaluation metrics, in NumPy.

- segment accuracy: the share of all test segments whose argmax class equals
  the ground truth (AVE's `compute_acc`, SPEC §5);
- per-class accuracy and the confusion matrix over segments;
- pointing game: the share of event segments whose argmax of the spatial
  attention lambda (eq. 5) falls inside the ground-truth sounding region;
- cIoU, its share >= 0.5 and AUC: `keras_avl.training.localization_metrics`.

Padded segments of clips shorter than T (`segment_mask.h5`) are no segments
of the test set: `valid` leaves them out (the localization metrics' `event`
selection excludes them the same way).
"""

import numpy as np


def _real(values, valid):
    """The entries of `values` at real segments (`valid` nonzero; all when None)."""
    values = np.asarray(values)
    return values.ravel() if valid is None else values[np.asarray(valid) != 0]


def segment_accuracy(true_classes, predicted_classes, valid=None):
    """Share of (real) segments whose predicted class is the true one.

    Args:
        true_classes, predicted_classes: integer arrays of one shape, (N, T).
        valid: optional array of that shape, 0 at padded segments.

    Example:

    >>> segment_accuracy(np.array([[0, 1], [2, 2]]), np.array([[0, 1], [2, 0]]))
    0.75
    >>> segment_accuracy(np.array([[0, 1], [2, 2]]), np.array([[0, 1], [2, 0]]),
    ...                  valid=np.array([[1, 1], [1, 0]]))
    1.0
    """
    return float(np.mean(_real(true_classes, valid) == _real(predicted_classes, valid)))


def confusion_matrix(true_classes, predicted_classes, num_classes, valid=None):
    """(C, C) int counts over the (real) segments: row = true class, column =
    predicted class; `valid` as in `segment_accuracy`.

    Example:

    >>> confusion_matrix(np.array([0, 1, 1]), np.array([0, 0, 1]), 2).tolist()
    [[1, 0], [1, 1]]
    """
    true_classes = _real(true_classes, valid)
    predicted_classes = _real(predicted_classes, valid)
    counts = np.bincount(true_classes * num_classes + predicted_classes,
                         minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def per_class_accuracy(confusion):
    """Accuracy per true class (recall) from a confusion matrix; None for a
    class without segments.

    Example:

    >>> per_class_accuracy(np.array([[1, 0], [1, 1]]))
    [1.0, 0.5]
    """
    totals = confusion.sum(1)
    return [
        float(confusion[k, k] / totals[k]) if totals[k] else None
        for k in range(len(confusion))
    ]


def pointing_game(attention, regions, event):
    """Share of event segments whose attention peak lies in the true region.

    Args:
        attention: (N, T, H, W) spatial attention lambda.
        regions: (N, T, H, W), nonzero on the sounding object.
        event: (N, T) bool, the event segments (False at padded segments).

    Returns:
        Dict with `pointing_game` (the hit rate), `pointing_game_chance` (the
        expected hit rate of a uniformly random cell: mean region area / H*W)
        and `pointing_game_segments`; `pointing_game` is None when the
        attention is uniform everywhere (a model without spatial attention).

    Example:

    >>> attention = np.zeros((1, 2, 2, 2)); attention[0, :, 0, 1] = 1
    >>> regions = np.zeros((1, 2, 2, 2)); regions[0, 0, 0, 1] = regions[0, 1, 1, 1] = 1
    >>> pointing_game(attention, regions, np.array([[True, True]]))["pointing_game"]
    0.5
    """
    attention = np.asarray(attention)
    n, t, h, w = attention.shape
    flat_attention = attention.reshape(n, t, h * w)
    flat_regions = np.asarray(regions).reshape(n, t, h * w) > 0
    selected = np.asarray(event, bool) & flat_regions.any(-1)
    count = int(selected.sum())
    uniform = np.ptp(flat_attention, axis=-1).max() <= 1e-7 if attention.size else True
    if count == 0 or uniform:
        hit_rate = None
    else:
        peak = flat_attention.argmax(-1)
        hits = np.take_along_axis(flat_regions, peak[..., None], -1)[..., 0]
        hit_rate = float(hits[selected].mean())
    chance = float(flat_regions[selected].mean()) if count else None
    return {
        "pointing_game": hit_rate,
        "pointing_game_chance": chance,
        "pointing_game_segments": count,
    }
