"""Evaluation metrics against loop-by-loop NumPy transcriptions."""

import numpy as np

from keras_avl.training.metrics import (
    ciou_metrics,
    confusion_matrix,
    per_class_accuracy,
    pointing_game,
    segment_accuracy,
)


def test_accuracy_confusion_and_per_class_match_loops():
    rng = np.random.default_rng(0)
    true = rng.integers(0, 4, (30, 10))
    predicted = np.where(rng.random((30, 10)) < 0.6, true, rng.integers(0, 4, (30, 10)))
    true[true == 2] = 1  # class 2 has no segments
    hits = total = 0
    counts = np.zeros((4, 4), int)
    for i in range(30):
        for t in range(10):
            hits += true[i, t] == predicted[i, t]
            total += 1
            counts[true[i, t], predicted[i, t]] += 1
    assert segment_accuracy(true, predicted) == hits / total
    confusion = confusion_matrix(true, predicted, 4)
    np.testing.assert_array_equal(confusion, counts)
    per_class = per_class_accuracy(confusion)
    assert per_class[2] is None
    for k in (0, 1, 3):
        mask = true == k
        assert per_class[k] == (predicted[mask] == k).mean()


def test_valid_leaves_padded_segments_out():
    rng = np.random.default_rng(2)
    true = rng.integers(0, 3, (8, 6))
    predicted = rng.integers(0, 3, (8, 6))
    valid = np.arange(6) < rng.integers(1, 7, 8)[:, None]
    hits = total = 0
    counts = np.zeros((3, 3), int)
    for i in range(8):
        for t in range(6):
            if valid[i, t]:
                hits += true[i, t] == predicted[i, t]
                total += 1
                counts[true[i, t], predicted[i, t]] += 1
    assert total < true.size
    assert segment_accuracy(true, predicted, valid) == hits / total
    np.testing.assert_array_equal(confusion_matrix(true, predicted, 3, valid.astype(float)), counts)


def test_pointing_game_matches_loop():
    rng = np.random.default_rng(1)
    attention = rng.random((6, 10, 7, 7))
    regions = rng.random((6, 10, 7, 7)) < 0.1
    event = rng.random((6, 10)) < 0.7
    hits, count, area = 0, 0, 0.0
    for i in range(6):
        for t in range(10):
            if not event[i, t] or not regions[i, t].any():
                continue
            row, col = divmod(int(np.argmax(attention[i, t])), 7)
            hits += regions[i, t, row, col]
            count += 1
            area += regions[i, t].mean()
    result = pointing_game(attention, regions, event)
    assert result["pointing_game_segments"] == count
    assert result["pointing_game"] == hits / count
    np.testing.assert_allclose(result["pointing_game_chance"], area / count)


def test_pointing_game_is_undefined_for_uniform_attention():
    regions = np.zeros((2, 3, 7, 7))
    regions[:, :, 0, 0] = 1  # the argmax of a uniform map would hit it every time
    result = pointing_game(np.full((2, 3, 7, 7), 1 / 49), regions, np.ones((2, 3), bool))
    assert result["pointing_game"] is None and result["pointing_game_segments"] == 6


def _ez_vsl_ciou(heatmap, gt_map):
    """EZ-VSL's test.py + utils.Evaluator.cal_CIOU for one map (H, W)."""
    thr = np.sort(heatmap.flatten())[int(heatmap.shape[0] * heatmap.shape[1] * 0.5)]
    infer_map = np.zeros(heatmap.shape)
    infer_map[heatmap >= thr] = 1
    return np.sum(infer_map * gt_map) / (np.sum(gt_map) + np.sum(infer_map * (gt_map == 0)))


def _ez_vsl_finals(cious):
    """Evaluator.finalize_cIoU / finalize_AP50 / finalize_AUC (sklearn's auc is
    the trapezoid rule)."""
    cious = np.array(cious)
    shares = [np.sum(cious >= 0.05 * i) / len(cious) for i in range(21)]
    area = sum((shares[i] + shares[i + 1]) / 2 * 0.05 for i in range(20))
    return cious.mean(), np.mean(cious >= 0.5), area


def test_ciou_hand_computed_case():
    """3 x 3 map 1..9: the value of rank 4 is 5, so the 5 cells 5..9 are
    predicted. Region {1, 2, 5}: cIoU = 1 / (3 + 4). Region {5, 6, 8, 9}:
    cIoU = 4 / (4 + 1)."""
    attention = np.arange(1, 10, dtype=float).reshape(1, 1, 3, 3).repeat(2, axis=1)
    regions = np.zeros((1, 2, 3, 3))
    regions[0, 0].flat[[0, 1, 4]] = 1
    regions[0, 1].flat[[4, 5, 7, 8]] = 1
    result = ciou_metrics(attention, regions, np.ones((1, 2), bool))
    assert result["ciou_segments"] == 2
    np.testing.assert_allclose(result["ciou"], (1 / 7 + 4 / 5) / 2)
    assert result["ciou_ap50"] == 0.5
    # share >= threshold: 1 up to 1/7 (thresholds 0, 0.05, 0.1), 0.5 up to 0.8
    # (0.15 .. 0.8), then 0: trapezoids 2*0.05 + 0.75*0.05 + 13*0.5*0.05 + 0.25*0.05
    np.testing.assert_allclose(result["ciou_auc"], 0.05 * (2 + 0.75 + 6.5 + 0.25))


def test_ciou_chance_hand_computed():
    """S = 4: the median binarisation keeps 2 random cells. Region of 2 cells:
    overlap 0, 1, 2 with probabilities 1/6, 4/6, 1/6 and cIoU 0, 1/3, 1."""
    regions = np.zeros((1, 1, 2, 2))
    regions[0, 0, 0] = 1
    attention = np.array([[[[0.1, 0.2], [0.3, 0.4]]]])
    result = ciou_metrics(attention, regions, np.ones((1, 1), bool))
    np.testing.assert_allclose(result["ciou_chance"], 4 / 6 / 3 + 1 / 6)
    np.testing.assert_allclose(result["ciou_ap50_chance"], 1 / 6)
    # share curve: 1 at 0, 5/6 on (0, 1/3], 1/6 on (1/3, 1]
    curve = [1] + [5 / 6] * 6 + [1 / 6] * 14  # thresholds 0, 0.05..0.3, 0.35..1
    np.testing.assert_allclose(
        result["ciou_auc_chance"], sum((curve[i] + curve[i + 1]) / 2 * 0.05 for i in range(20)))


def test_ciou_metrics_match_the_ez_vsl_evaluation():
    rng = np.random.default_rng(2)
    attention = rng.random((5, 10, 7, 7))
    regions = rng.random((5, 10, 7, 7)) < 0.3
    event = rng.random((5, 10)) < 0.8
    valid = rng.random((5, 10)) < 0.9
    cious = [
        _ez_vsl_ciou(attention[i, t], regions[i, t].astype(float))
        for i in range(5) for t in range(10)
        if event[i, t] and valid[i, t] and regions[i, t].any()
    ]
    result = ciou_metrics(attention, regions, event, valid)
    assert result["ciou_segments"] == len(cious)
    expected = _ez_vsl_finals(cious)
    np.testing.assert_allclose(
        [result["ciou"], result["ciou_ap50"], result["ciou_auc"]], expected, rtol=1e-12)
    everything = ciou_metrics(attention, regions, event)
    assert everything["ciou_segments"] > result["ciou_segments"]


def test_ciou_chance_matches_a_seeded_monte_carlo():
    """The exact chance levels against random maps scored the EZ-VSL way."""
    rng = np.random.default_rng(3)
    regions = np.zeros((1, 2, 7, 7))
    regions[0, 0, 1:4, 2:5] = 1  # 9 cells
    regions[0, 1, :, :4] = 1  # 28 cells
    exact = ciou_metrics(rng.random((1, 2, 7, 7)), regions, np.ones((1, 2), bool))
    cious = [_ez_vsl_ciou(rng.random((7, 7)), regions[0, t]) for _ in range(4000)
             for t in range(2)]
    sampled = _ez_vsl_finals(cious)
    np.testing.assert_allclose(
        [exact["ciou_chance"], exact["ciou_ap50_chance"], exact["ciou_auc_chance"]],
        sampled, atol=0.015)


def test_ciou_is_undefined_without_spatial_attention_or_segments():
    regions = np.zeros((2, 3, 7, 7))
    regions[:, :, 0, :3] = 1
    uniform = ciou_metrics(np.full((2, 3, 7, 7), 1 / 49), regions, np.ones((2, 3), bool))
    assert uniform["ciou"] is None and uniform["ciou_auc"] is None
    assert uniform["ciou_segments"] == 6 and uniform["ciou_chance"] > 0
    empty = ciou_metrics(np.random.default_rng(0).random((2, 3, 7, 7)), regions,
                         np.zeros((2, 3), bool))
    assert empty["ciou_segments"] == 0
    assert empty["ciou"] is None and empty["ciou_chance"] is None
