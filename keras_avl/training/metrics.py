"""Evaluation metrics, in NumPy.

- segment accuracy: the share of all test segments whose argmax class equals
  the ground truth (AVE's `compute_acc`, SPEC §5);
- per-class accuracy and the confusion matrix over segments;
- pointing game: the share of event segments whose argmax of the spatial
  attention lambda (eq. 5) falls inside the ground-truth sounding region;
- cIoU, AP50 and AUC of the sound-source-localization literature (Senocak et
  al., CVPR 2018; computed as EZ-VSL's `test.py` / `utils.Evaluator` do, on
  the H x W grid instead of an upsampled 224 x 224 map): the attention map is
  binarised at its median (cells >= the value of rank floor(H*W/2) of the sorted
  map), cIoU = sum(pred * gt) / (sum(gt) + sum(pred outside gt)); AP50 is the
  share of event segments with cIoU >= 0.5 and AUC the area (trapezoid rule)
  under that share as a function of the threshold 0, 0.05, ..., 1.

Padded segments of clips shorter than T (`segment_mask.h5`) are no segments
of the test set: `valid` leaves them out (the localization metrics' `event`
selection excludes them the same way).
"""

from math import comb

import numpy as np

# EZ-VSL's thresholds of the cIoU curve: 0.05 * i, i = 0..20.
CIOU_THRESHOLDS = tuple(0.05 * i for i in range(21))


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


def median_binarize(attention):
    """(..., S) maps -> (..., S) booleans: the cells at or above the value of rank
    floor(S/2) of each sorted map (EZ-VSL's `np.sort(pred)[int(H * W * 0.5)]`).

    Example:

    >>> median_binarize(np.array([0.1, 0.4, 0.2, 0.3])).tolist()
    [False, True, False, True]
    """
    attention = np.asarray(attention)
    size = attention.shape[-1]
    threshold = np.sort(attention, axis=-1)[..., size // 2]
    return attention >= threshold[..., None]


def ciou(prediction, ground_truth):
    """cIoU of binary maps (..., S): sum(pred*gt) / (sum(gt) + sum(pred outside gt)).

    Example:

    >>> float(ciou(np.array([1, 1, 0, 0], bool), np.array([1, 0, 0, 0], bool)))
    0.5
    """
    prediction = np.asarray(prediction, bool)
    ground_truth = np.asarray(ground_truth, bool)
    inside = (prediction & ground_truth).sum(-1)
    outside = (prediction & ~ground_truth).sum(-1)
    return inside / (ground_truth.sum(-1) + outside)


def _share_curve(values):
    """The share of `values` >= each threshold of `CIOU_THRESHOLDS`."""
    values = np.asarray(values)
    return np.array([np.mean(values >= threshold) for threshold in CIOU_THRESHOLDS])


def _area(shares):
    """Trapezoid area under `shares` over `CIOU_THRESHOLDS` (sklearn's `auc`)."""
    x = np.asarray(CIOU_THRESHOLDS)
    return float(np.sum((shares[1:] + shares[:-1]) / 2 * np.diff(x)))


def _random_map_ciou(cells, region_cells):
    """The distribution of the cIoU of a random map over `cells` cells against a
    region of `region_cells`: a map with distinct values in random order
    selects `m = cells - floor(cells/2)` cells uniformly at random, so the
    overlap x is hypergeometric. Returns (cIoU values, probabilities)."""
    selected = cells - cells // 2
    overlaps = np.arange(max(0, selected - (cells - region_cells)),
                         min(region_cells, selected) + 1)
    total = comb(cells, selected)
    probabilities = np.array([
        comb(region_cells, x) * comb(cells - region_cells, selected - x) / total
        for x in overlaps
    ])
    return overlaps / (region_cells + selected - overlaps), probabilities


def _ciou_chance(cells, region_sizes):
    """Exact expectations of cIoU, of the share curve and thus of AP50 and AUC
    (both linear in the per-segment indicators) for random maps."""
    expected_ciou, expected_curve = [], []
    for size in region_sizes:
        values, probabilities = _random_map_ciou(cells, int(size))
        expected_ciou.append(probabilities @ values)
        expected_curve.append([probabilities[values >= t].sum() for t in CIOU_THRESHOLDS])
    curve = np.mean(expected_curve, axis=0)
    return float(np.mean(expected_ciou)), float(curve[CIOU_THRESHOLDS.index(0.5)]), _area(curve)


def ciou_metrics(attention, regions, event, valid=None):
    """cIoU, AP50 and AUC of the spatial attention on the event segments.

    Args:
        attention: (N, T, H, W) spatial attention lambda.
        regions: (N, T, H, W), nonzero on the sounding object.
        event: (N, T) bool, the event segments.
        valid: optional (N, T) bool, the segments to score (default: all).

    Returns:
        Dict with `ciou` (the mean cIoU), `ciou_ap50` (share with cIoU >= 0.5),
        `ciou_auc`, their chance levels `ciou_chance`, `ciou_ap50_chance`,
        `ciou_auc_chance` and `ciou_segments` (event segments with a non-empty
        region). The chance levels are the exact expectations for a random map
        (i.i.d. continuous values: the median binarisation selects a uniformly
        random set of S - floor(S/2) cells, so the overlap with a region of g
        cells is hypergeometric), given each segment's region size. The
        metrics are None when no segment is scored or when the attention is
        uniform everywhere (a model without spatial attention), the chance
        levels None only without segments.

    Example:

    >>> attention = np.zeros((1, 1, 2, 2)); attention[0, 0, 0] = [0.4, 0.3]
    >>> regions = np.zeros((1, 1, 2, 2)); regions[0, 0, 0, 0] = 1
    >>> result = ciou_metrics(attention, regions, np.array([[True]]))
    >>> result["ciou"], result["ciou_ap50"], result["ciou_chance"]
    (0.5, 1.0, 0.25)
    """
    attention = np.asarray(attention)
    n, t, h, w = attention.shape
    flat_attention = attention.reshape(n, t, h * w)
    flat_regions = np.asarray(regions).reshape(n, t, h * w) > 0
    selected = np.asarray(event, bool) & flat_regions.any(-1)
    if valid is not None:
        selected &= np.asarray(valid, bool)
    count = int(selected.sum())
    result = dict.fromkeys(("ciou", "ciou_ap50", "ciou_auc", "ciou_chance",
                            "ciou_ap50_chance", "ciou_auc_chance"))
    result["ciou_segments"] = count
    if count == 0:
        return result
    ground_truth = flat_regions[selected]
    chance = _ciou_chance(h * w, ground_truth.sum(-1))
    result.update(zip(("ciou_chance", "ciou_ap50_chance", "ciou_auc_chance"), chance))
    maps = flat_attention[selected]
    if np.ptp(maps, axis=-1).max() <= 1e-7:
        return result
    values = ciou(median_binarize(maps), ground_truth)
    shares = _share_curve(values)
    result.update(ciou=float(values.mean()),
                  ciou_ap50=float(shares[CIOU_THRESHOLDS.index(0.5)]),
                  ciou_auc=_area(shares))
    return result
