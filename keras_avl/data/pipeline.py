"""`make_dataset`: `tf.data` pipelines for the three regimes of the paper.

The visual features are streamed from their HDF5 file batch by batch (one
contiguous row read per video), so AVE's 7.7 GB file never needs to fit in
RAM; audio, labels and orders are small and stay in memory. Batches are
shuffled per epoch (a new permutation each pass) and prefetched.

- supervised: targets are the one-hot segment labels (B, T, C) (§3.6);
- weak: targets are the video labels (B, C); the training split also holds
  the background-only ("noisy") videos when the folder has them (§3.6, §4.1);
- unsupervised: inputs also carry `audio_negative`, the audio of a different
  video of the same split (`negative_sampling="any-video"`, the paper's
  reading) or of a video of another class (`"other-class"`, from the video
  labels); targets are zeros (B,) (§3.7, AVTGML).
"""


import h5py
import numpy as np

from keras_avl.data.ave_dataset import FEATURE_KEY, SPLITS
from keras_avl.models import REGIMES
from keras_avl.models.config import NEGATIVE_SAMPLINGS
from keras_avl.validation import check_choice, check_positive_int


def _split_items(data, split, regime, include_noisy):
    """Where each video of the split lives: (file, row) pairs, audio, targets."""
    order = data.orders[split]
    sources = [(data.visual_path, row) for row in order]
    audio = [data.audio[order]]
    if regime == "weak":
        targets = [data.video_labels[order]]
    elif regime == "supervised":
        targets = [data.segment_labels[order]]
    else:
        targets = [np.zeros(len(order), np.float32)]
    if include_noisy and data.noisy is not None:
        noisy = data.noisy
        sources += [(noisy.visual_path, row) for row in range(len(noisy.audio))]
        audio.append(noisy.audio)
        targets.append(noisy.video_labels)
    return sources, np.concatenate(audio), np.concatenate(targets)


def check_negative_pool(n, split=None):
    """Raises unless a split of n videos can give every video a negative."""
    if n < 2:
        where = f"the {split!r} split" if split else "a split"
        raise ValueError(
            f"The unsupervised regime draws the negative audio from a different "
            f"video; expected {where} of at least 2 videos, found {n}."
        )


def negative_indices(rng, n):
    """For each of n items, the index of a different item (uniform).

    Example:

    >>> j = negative_indices(np.random.default_rng(0), 5)
    >>> bool((j != np.arange(5)).all())
    True
    """
    check_negative_pool(n)
    # Shift by 1..n-1 (mod n): never the same item, uniform over the others.
    return (np.arange(n) + rng.integers(1, n, size=n)) % n


def other_class_indices(rng, classes):
    """For each item, the index of an item of another class (uniform over them).

    Example:

    >>> classes = np.array([0, 0, 1, 2])
    >>> j = other_class_indices(np.random.default_rng(0), classes)
    >>> bool((classes[j] != classes).all())
    True
    """
    classes = np.asarray(classes)
    negatives = np.empty(len(classes), np.int64)
    for label in np.unique(classes):
        items = np.flatnonzero(classes == label)
        candidates = np.flatnonzero(classes != label)
        if len(candidates) == 0:
            raise ValueError(
                "negative_sampling='other-class' draws the negative audio from a "
                f"video of another class; every video of the split has class {label}."
            )
        negatives[items] = candidates[rng.integers(0, len(candidates), size=len(items))]
    return negatives


def make_dataset(
    data,
    split,
    regime,
    batch_size=64,
    shuffle=None,
    seed=0,
    include_noisy=None,
    negative_sampling="any-video",
):
    """A `tf.data.Dataset` of `(inputs, targets)` batches for `keras_avl.models`.

    Args:
        data: an `AVEData` (see `keras_avl.data.load_ave`).
        split: `"train"`, `"val"` or `"test"`.
        regime: `"supervised"`, `"weak"` or `"unsupervised"`.
        batch_size: videos per batch (the last batch may be smaller).
        shuffle: a new order every epoch; default: only for `"train"`.
        seed: seeds the shuffling and the negative audio.
        include_noisy: add the background-only videos; default: for the weak
            regime's training split.
        negative_sampling: unsupervised regime: `"any-video"` (any other
            video) or `"other-class"` (a video whose label, the argmax of the
            video labels, differs).

    Returns:
        A dataset of `({"visual": (B,T,H,W,d_v), "audio": (B,T,d_a)
        [, "audio_negative": (B,T,d_a)]}, targets)`, float32, with a known
        cardinality (batches per epoch).

    Example:

    >>> import tempfile
    >>> from keras_avl.data import generate_dataset, load_ave
    >>> data = load_ave(generate_dataset(tempfile.mkdtemp() + "/ave", size="tiny"))
    >>> inputs, y = next(iter(make_dataset(data, "train", "supervised", batch_size=4)))
    >>> tuple(inputs["visual"].shape), tuple(y.shape)
    ((4, 10, 7, 7, 8), (4, 10, 5))
    """
    import tensorflow as tf

    check_choice("split", split, SPLITS)
    check_choice("regime", regime, REGIMES)
    check_choice("negative_sampling", negative_sampling, NEGATIVE_SAMPLINGS)
    batch_size = check_positive_int("batch_size", batch_size)
    shuffle = split == "train" if shuffle is None else bool(shuffle)
    if include_noisy is None:
        include_noisy = regime == "weak" and split == "train"
    sources, audio, targets = _split_items(data, split, regime, include_noisy)
    n = len(sources)
    negatives = regime == "unsupervised"
    classes = None
    if negatives:  # Bad splits fail here, before training starts.
        check_negative_pool(n, split)
        if negative_sampling == "other-class":
            classes = data.video_labels[data.orders[split]].argmax(-1)
            other_class_indices(np.random.default_rng(0), classes)
    row_shape = tuple(data.visual_shape[1:])
    # Counts completed passes only: an iterator abandoned mid-pass (Keras'
    # distributed fit peeks at one batch for the input shapes) must not shift
    # the shuffle order of the epochs that follow.
    completed_passes = 0

    def batches():
        nonlocal completed_passes
        rng = np.random.default_rng([seed, completed_passes])
        items = rng.permutation(n) if shuffle else np.arange(n)
        if classes is not None:
            negative = items[other_class_indices(rng, classes[items])]
        elif negatives:
            negative = items[negative_indices(rng, n)]
        else:
            negative = None
        files = {}
        try:
            for start in range(0, n, batch_size):
                batch = items[start : start + batch_size]
                visual = np.empty((len(batch),) + row_shape, np.float32)
                for k, item in enumerate(batch):
                    path, row = sources[item]
                    if path not in files:
                        files[path] = h5py.File(path, "r")[FEATURE_KEY]
                    # HDF5 converts float64 files (AVE's release) to float32 here.
                    files[path].read_direct(visual, np.s_[row], np.s_[k])
                inputs = {"visual": visual, "audio": audio[batch]}
                if negatives:
                    inputs["audio_negative"] = audio[negative[start : start + batch_size]]
                yield inputs, targets[batch]
            completed_passes += 1
        finally:
            for dataset in files.values():
                dataset.file.close()

    spec = tf.TensorSpec
    input_spec = {
        "visual": spec((None,) + row_shape, tf.float32),
        "audio": spec((None,) + audio.shape[1:], tf.float32),
    }
    if negatives:
        input_spec["audio_negative"] = input_spec["audio"]
    signature = (input_spec, spec((None,) + targets.shape[1:], tf.float32))
    dataset = tf.data.Dataset.from_generator(batches, output_signature=signature)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(-(-n // batch_size)))
    return dataset.prefetch(2)
