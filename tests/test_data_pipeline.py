"""`make_dataset`: the batches of the three regimes (`AVEBatches`)."""

import numpy as np
import pytest

from keras_avl.data import load_ave, make_dataset
from tests.ave_fixtures import read_h5, tiny_copy, tiny_root, write_h5  # noqa: F401


def _collect(dataset):
    batches = list(dataset)
    inputs = {key: np.concatenate([b[0][key] for b in batches]) for key in batches[0][0]}
    return inputs, np.concatenate([b[1] for b in batches]), len(batches)


def test_supervised_batches_follow_the_order_file(tiny_root):
    data = load_ave(tiny_root)
    order = read_h5(tiny_root / "test_order.h5", "order")
    inputs, y, batches = _collect(make_dataset(data, "test", "supervised", batch_size=3))
    assert batches == 3  # ceil(8 / 3)
    np.testing.assert_array_equal(inputs["visual"], read_h5(tiny_root / "visual_feature.h5")[order])
    np.testing.assert_array_equal(inputs["audio"], read_h5(tiny_root / "audio_feature.h5")[order])
    np.testing.assert_array_equal(y, read_h5(tiny_root / "labels.h5")[order])
    assert sorted(inputs) == ["audio", "segment_mask", "visual"]
    np.testing.assert_array_equal(inputs["segment_mask"], np.ones((8, 10)))  # no mask file


def _padded_masks(root, noisy=False):
    """Writes segment_mask.h5 (video i has 10 - i % 4 real segments) and, with
    `noisy`, segment_mask_noisy.h5; returns the masks."""
    def mask(rows):
        real = 10 - np.arange(rows) % 4
        return (np.arange(10) < real[:, None]).astype(np.float32)

    masks = [mask(40)]
    write_h5(root / "segment_mask.h5", masks[0])
    if noisy:
        masks.append(mask(4)[::-1].copy())
        write_h5(root / "segment_mask_noisy.h5", masks[1])
    return masks


def test_batches_carry_the_segment_masks(tiny_copy):
    mask, noisy_mask = _padded_masks(tiny_copy, noisy=True)
    data = load_ave(tiny_copy)
    order = read_h5(tiny_copy / "train_order.h5", "order")
    inputs, _, _ = _collect(make_dataset(data, "train", "supervised", batch_size=5, shuffle=False))
    np.testing.assert_array_equal(inputs["segment_mask"], mask[order])
    inputs, _, _ = _collect(make_dataset(data, "train", "weak", batch_size=64, shuffle=False))
    np.testing.assert_array_equal(inputs["segment_mask"], np.concatenate([mask[order], noisy_mask]))


def test_negative_audio_comes_with_its_own_mask(tiny_copy):
    mask, = _padded_masks(tiny_copy)
    audio = read_h5(tiny_copy / "audio_feature.h5")
    inputs, _, _ = _collect(make_dataset(load_ave(tiny_copy), "train", "unsupervised", batch_size=7))

    def row_of(a):
        return int(np.flatnonzero((audio == a).all((1, 2)))[0])

    for key in ("", "_negative"):
        rows = [row_of(a) for a in inputs[f"audio{key}"]]
        np.testing.assert_array_equal(inputs[f"segment_mask{key}"], mask[rows])


def test_training_split_is_reshuffled_every_epoch(tiny_root):
    data = load_ave(tiny_root)
    dataset = make_dataset(data, "train", "supervised", batch_size=5, seed=3)
    audio = read_h5(tiny_root / "audio_feature.h5")
    order = read_h5(tiny_root / "train_order.h5", "order")
    epochs = []
    for _ in range(2):
        inputs, _, _ = _collect(dataset)
        # Which video each item is: match its audio against the file's rows.
        rows = [int(np.flatnonzero((audio == a).all((1, 2)))[0]) for a in inputs["audio"]]
        assert sorted(rows) == sorted(order.tolist())
        epochs.append(rows)
    assert epochs[0] != epochs[1]


def test_an_abandoned_pass_does_not_shift_the_epoch_order(tiny_root):
    """Keras' distributed fit peeks at one batch before training; the epochs
    after the peek must see the same orders as without it."""
    data = load_ave(tiny_root)

    def first_epoch_audio(peek):
        dataset = make_dataset(data, "train", "supervised", batch_size=3, seed=3)
        if peek:
            next(iter(dataset))
        return _collect(dataset)[0]["audio"]

    np.testing.assert_array_equal(first_epoch_audio(True), first_epoch_audio(False))


def test_a_pass_index_draws_that_pass_whatever_came_before(tiny_root):
    """`pass_index` (train gives the epoch) picks the shuffle order and the
    negative audio that a counting dataset draws in that pass."""
    data = load_ave(tiny_root)
    counting = make_dataset(data, "train", "unsupervised", batch_size=5, seed=3)
    passes = [_collect(counting)[0] for _ in range(2)]
    indexed = make_dataset(data, "train", "unsupervised", batch_size=5, seed=3,
                           pass_index=lambda: 1)
    next(iter(indexed))  # a pass begun and abandoned (a peek) changes nothing
    inputs = _collect(indexed)[0]
    assert not np.array_equal(passes[0]["audio"], passes[1]["audio"])
    for key in inputs:
        np.testing.assert_array_equal(inputs[key], passes[1][key])
    with pytest.raises(TypeError, match="pass_index.*callable"):
        make_dataset(data, "train", "unsupervised", pass_index=1)


def test_weak_training_adds_the_background_videos(tiny_root):
    data = load_ave(tiny_root)
    inputs, y, _ = _collect(make_dataset(data, "train", "weak", batch_size=64, shuffle=False))
    order = read_h5(tiny_root / "train_order.h5", "order")
    noisy_visual = read_h5(tiny_root / "visual_feature_noisy.h5")
    assert len(y) == len(order) + len(noisy_visual)
    np.testing.assert_array_equal(y[: len(order)], read_h5(tiny_root / "mil_labels.h5")[order])
    np.testing.assert_array_equal(y[len(order):], read_h5(tiny_root / "labels_noisy.h5"))
    np.testing.assert_array_equal(inputs["visual"][len(order):], noisy_visual)
    _, y_val, _ = _collect(make_dataset(data, "val", "weak"))
    assert y_val.shape == (8, 5)


def test_unsupervised_negative_audio_comes_from_another_video(tiny_root):
    data = load_ave(tiny_root)
    audio = read_h5(tiny_root / "audio_feature.h5")
    order = read_h5(tiny_root / "train_order.h5", "order")
    inputs, y, _ = _collect(make_dataset(data, "train", "unsupervised", batch_size=7))
    np.testing.assert_array_equal(y, np.zeros(len(order)))

    def row_of(a):
        return int(np.flatnonzero((audio == a).all((1, 2)))[0])

    for positive, negative in zip(inputs["audio"], inputs["audio_negative"]):
        assert row_of(negative) != row_of(positive)
        assert row_of(negative) in order


def test_float64_features_are_streamed_as_float32(tiny_copy):
    visual = read_h5(tiny_copy / "visual_feature.h5").astype(np.float64)
    write_h5(tiny_copy / "visual_feature.h5", visual)
    inputs, _, _ = _collect(make_dataset(load_ave(tiny_copy), "val", "supervised"))
    assert inputs["visual"].dtype == np.float32
    order = read_h5(tiny_copy / "val_order.h5", "order")
    np.testing.assert_allclose(inputs["visual"], visual[order].astype(np.float32))


def test_bad_arguments_name_themselves(tiny_root):
    data = load_ave(tiny_root)
    with pytest.raises(ValueError, match="split"):
        make_dataset(data, "dev", "supervised")
    with pytest.raises(ValueError, match="regime"):
        make_dataset(data, "train", "semi")
    with pytest.raises(ValueError, match="batch_size"):
        make_dataset(data, "train", "weak", batch_size=0)


def test_other_class_negatives_never_share_the_video_class(tiny_root):
    data = load_ave(tiny_root)
    audio = read_h5(tiny_root / "audio_feature.h5")
    classes = read_h5(tiny_root / "mil_labels.h5").argmax(-1)
    dataset = make_dataset(data, "train", "unsupervised", batch_size=5, seed=1,
                           negative_sampling="other-class")

    def row_of(a):
        return int(np.flatnonzero((audio == a).all((1, 2)))[0])

    for _ in range(2):  # redrawn every epoch, always of another class
        inputs, _, _ = _collect(dataset)
        pairs = [(row_of(p), row_of(n)) for p, n in
                 zip(inputs["audio"], inputs["audio_negative"])]
        assert all(classes[p] != classes[n] for p, n in pairs)


def test_any_video_negatives_do_share_classes_sometimes(tiny_root):
    """The paper's reading draws from any other video: with 4 classes over 24
    videos, some negatives share the positive's class (what 'other-class' avoids)."""
    data = load_ave(tiny_root)
    audio = read_h5(tiny_root / "audio_feature.h5")
    classes = read_h5(tiny_root / "mil_labels.h5").argmax(-1)
    inputs, _, _ = _collect(make_dataset(data, "train", "unsupervised", seed=1))

    def row_of(a):
        return int(np.flatnonzero((audio == a).all((1, 2)))[0])

    same = [classes[row_of(p)] == classes[row_of(n)]
            for p, n in zip(inputs["audio"], inputs["audio_negative"])]
    assert any(same)


def test_negative_sampling_the_split_cannot_serve_fails_at_once(tiny_copy):
    # Every video of one class: no 'other-class' negative exists.
    labels = read_h5(tiny_copy / "mil_labels.h5")
    write_h5(tiny_copy / "mil_labels.h5", np.eye(labels.shape[1], dtype=labels.dtype)[
        np.zeros(len(labels), int)])
    data = load_ave(tiny_copy)
    with pytest.raises(ValueError, match="every video of the split has class 0"):
        make_dataset(data, "train", "unsupervised", negative_sampling="other-class")
    with pytest.raises(ValueError, match="negative_sampling"):
        make_dataset(data, "train", "unsupervised", negative_sampling="same-class")


def test_unsupervised_split_of_one_video_fails_before_iterating(tiny_copy):
    write_h5(tiny_copy / "val_order.h5", np.array([0], np.int64), key="order")
    data = load_ave(tiny_copy)
    with pytest.raises(ValueError, match="'val' split of at least 2 videos, found 1"):
        make_dataset(data, "val", "unsupervised")


def _numpy_pass(root, seed, index, regime, sampling):
    """Pass `index` of the train split re-derived with NumPy from the files:
    `default_rng([seed, index])` draws the permutation, then the negatives (a
    shift of 1..n-1, or per class in sorted order a uniform video of another
    class)."""
    order = read_h5(root / "train_order.h5", "order")
    n = len(order)
    rng = np.random.default_rng([seed, index])
    items = rng.permutation(n)
    rows = order[items]
    want = {"visual": read_h5(root / "visual_feature.h5")[rows],
            "audio": read_h5(root / "audio_feature.h5")[rows]}
    if regime == "supervised":
        return want, read_h5(root / "labels.h5")[rows]
    if sampling == "other-class":
        classes = read_h5(root / "mil_labels.h5")[rows].argmax(-1)
        negative = np.empty(n, np.int64)
        for label in np.unique(classes):
            others = np.flatnonzero(classes != label)
            mine = np.flatnonzero(classes == label)
            negative[mine] = others[rng.integers(0, len(others), size=len(mine))]
    else:
        negative = (np.arange(n) + rng.integers(1, n, size=n)) % n
    want["audio_negative"] = read_h5(root / "audio_feature.h5")[rows[negative]]
    return want, np.zeros(n)


@pytest.mark.parametrize("data_path", ["memory", "stream"])
@pytest.mark.parametrize("regime, sampling", [("supervised", "any-video"),
                                              ("unsupervised", "any-video"),
                                              ("unsupervised", "other-class")])
def test_passes_equal_their_numpy_rederivation(tiny_root, data_path, regime, sampling):
    dataset = make_dataset(load_ave(tiny_root), "train", regime, batch_size=7, seed=5,
                           data_path=data_path, negative_sampling=sampling)
    assert len(dataset) == 4  # ceil(24 / 7)
    for index in range(3):
        inputs, y, _ = _collect(dataset)
        want, want_y = _numpy_pass(tiny_root, 5, index, regime, sampling)
        for key, value in want.items():
            np.testing.assert_array_equal(inputs[key], value, err_msg=f"{key}, pass {index}")
        np.testing.assert_array_equal(y, want_y)
        assert all(value.dtype == np.float32 for value in inputs.values())
