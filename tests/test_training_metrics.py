"""Evaluation metrics against loop-by-loop NumPy transcriptions."""

import numpy as np

from keras_avl.training.metrics import (
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
