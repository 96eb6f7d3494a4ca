import keras
import numpy as np
import pytest
from keras import ops

from keras_avl.losses import (
    GramTripletLoss,
    InfoNCELoss,
    gram_triplet_loss,
    info_nce_loss,
    segment_triplet_loss,
)
from tests.numpy_reference import gram_triplet, info_nce, segment_triplet

pytestmark = pytest.mark.multibackend

B, T, D = 4, 10, 6


def _sequences(rng):
    return [rng.normal(size=(B, T, D)).astype("float32") for _ in range(3)]


@pytest.mark.parametrize("margin", [0.7, 0.1])
def test_equations_13_to_16_against_numpy(rng, margin):
    visual, positive, negative = _sequences(rng)
    first, last = slice(0, T // 2), slice(T // 2, T)
    # Video 0 is below the margin (hinge inactive): its positive is nearly its
    # visual sequence, its negative lives on the other segments (Gram
    # matrices with disjoint support: d- = 0, d+ ~ 1, loss 0).
    visual[0, last] = 0.0
    positive[0] = visual[0] + 0.01 * np.abs(positive[0]) * (np.arange(T) < T // 2)[:, None]
    negative[0, first] = 0.0
    # Video 1 is above it (hinge active): the roles are swapped (loss ~ 1 + margin).
    visual[1, last] = 0.0
    negative[1] = visual[1] + 0.01 * np.abs(negative[1]) * (np.arange(T) < T // 2)[:, None]
    positive[1, first] = 0.0
    loss = ops.convert_to_numpy(gram_triplet_loss(visual, positive, negative, margin))
    expected = [gram_triplet(visual[b], positive[b], negative[b], margin) for b in range(B)]
    assert expected[0] == 0.0 and expected[1] > 1.0 + margin - 0.01
    np.testing.assert_allclose(loss, expected, rtol=1e-5, atol=1e-6)
    assert loss.shape == (B,)


def test_loss_class_reads_the_packed_triplet(rng):
    visual, positive, negative = _sequences(rng)
    packed = np.stack([visual, positive, negative], axis=1)
    expected = np.mean([gram_triplet(visual[b], positive[b], negative[b], 0.7) for b in range(B)])
    loss = GramTripletLoss()(np.zeros((B,), "float32"), packed)
    np.testing.assert_allclose(ops.convert_to_numpy(loss), expected, rtol=1e-5)
    loss_without_labels = GramTripletLoss()(None, packed)
    np.testing.assert_allclose(ops.convert_to_numpy(loss_without_labels), expected, rtol=1e-5)


def test_loss_is_finite_with_all_zero_sequences(rng):
    visual, positive, negative = _sequences(rng)
    visual[0] = 0.0
    loss = ops.convert_to_numpy(gram_triplet_loss(visual, positive, negative))
    assert np.all(np.isfinite(loss))
    np.testing.assert_allclose(loss[0], 0.7, rtol=1e-6)  # both distances are 0


def test_config_round_trip():
    loss = GramTripletLoss(margin=0.3)
    revived = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(revived, GramTripletLoss) and revived.margin == 0.3


def test_mil_cross_entropy_against_numpy(rng):
    from keras_avl.losses import mil_cross_entropy
    from tests.numpy_reference import softmax

    probabilities = softmax(rng.normal(size=(B, T, 5))).astype("float32")
    labels = np.eye(5, dtype="float32")[rng.integers(0, 5, B)]
    expected = [
        -np.log(probabilities[b].mean(axis=0)[labels[b].argmax()]) for b in range(B)
    ]
    loss = ops.convert_to_numpy(mil_cross_entropy(labels, probabilities))
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_gram_triplet_loss_honours_a_segment_mask(rng):
    visual, positive, negative = _sequences(rng)
    mask = np.ones((B, T), "float32")
    mask[1, 6:] = 0
    mask[2, 3:] = 0
    loss = ops.convert_to_numpy(gram_triplet_loss(visual, positive, negative, 0.7, mask=mask))
    expected = [
        gram_triplet(*(x[b][mask[b] > 0] for x in (visual, positive, negative)), 0.7)
        for b in range(B)
    ]
    np.testing.assert_allclose(loss, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("weight", [0.5, 2.0])
def test_segment_term_added_to_avtgml_against_numpy(rng, weight):
    visual, positive, negative = _sequences(rng)
    loss = ops.convert_to_numpy(
        gram_triplet_loss(visual, positive, negative, 0.3, segment_weight=weight)
    )
    expected = [
        gram_triplet(visual[b], positive[b], negative[b], 0.3)
        + weight * segment_triplet(visual[b], positive[b], negative[b], 0.3)
        for b in range(B)
    ]
    np.testing.assert_allclose(loss, expected, rtol=1e-5, atol=1e-6)
    packed = np.stack([visual, positive, negative], axis=1)
    from_class = GramTripletLoss(margin=0.3, segment_weight=weight)(None, packed)
    np.testing.assert_allclose(ops.convert_to_numpy(from_class), np.mean(expected), rtol=1e-5)


def test_segment_triplet_loss_honours_a_segment_mask(rng):
    visual, positive, negative = _sequences(rng)
    mask = np.ones((B, T), "float32")
    mask[0, 4:] = 0
    loss = ops.convert_to_numpy(segment_triplet_loss(visual, positive, negative, 0.7, mask))
    expected = [
        segment_triplet(*(x[b][mask[b] > 0] for x in (visual, positive, negative)), 0.7)
        for b in range(B)
    ]
    np.testing.assert_allclose(loss, expected, rtol=1e-5, atol=1e-6)


def _cross(rng):
    return rng.uniform(-1, 1, size=(B, T, B)).astype("float32")


@pytest.mark.parametrize("tau", [0.03, 0.5])
def test_info_nce_against_numpy(rng, tau):
    cross = _cross(rng)
    loss = ops.convert_to_numpy(info_nce_loss(cross, tau))
    expected = info_nce(cross, tau, np.ones((B, T), bool))
    np.testing.assert_allclose(loss, expected, rtol=1e-4, atol=1e-4)
    from_class = InfoNCELoss(temperature=tau)(None, cross)
    np.testing.assert_allclose(ops.convert_to_numpy(from_class), expected.mean(), rtol=1e-4)


def test_info_nce_honours_a_segment_mask(rng):
    cross = _cross(rng)
    mask = np.ones((B, T), bool)
    mask[1, 5:] = False
    mask[3, :] = False  # a video without real segments contributes 0
    loss = ops.convert_to_numpy(info_nce_loss(cross, 0.1, mask.astype("float32")))
    np.testing.assert_allclose(loss, info_nce(cross, 0.1, mask), rtol=1e-4, atol=1e-4)
    assert loss[3] == 0.0


def test_info_nce_is_lowest_when_every_video_matches_its_own_audio():
    matched = np.eye(B, dtype="float32")[:, None, :].repeat(T, 1)
    swapped = matched[:, :, ::-1].copy()
    assert float(np.mean(keras.ops.convert_to_numpy(info_nce_loss(matched, 0.1)))) < 1e-3
    assert float(np.mean(keras.ops.convert_to_numpy(info_nce_loss(swapped, 0.1)))) > 10


def test_label_free_losses_round_trip():
    for loss, field, value in ((InfoNCELoss(temperature=0.2), "temperature", 0.2),
                               (GramTripletLoss(segment_weight=1.5), "segment_weight", 1.5)):
        revived = keras.losses.deserialize(keras.losses.serialize(loss))
        assert type(revived) is type(loss) and getattr(revived, field) == value
    with pytest.raises(ValueError, match="temperature"):
        InfoNCELoss(temperature=0)
