"""`make_dataset`: the batches of the three regimes of the paper, for every
Keras backend.

The visual features of a split are read into memory once when they fit
(`visual_data_path`: `"memory"`, each batch one NumPy gather) and streamed
from their HDF5 file batch by batch otherwise (`"stream"`: one contiguous row
read per video), so AVE's 7.7 GB file never needs to fit in RAM; both paths
give the same batches. Audio, labels, segment masks and orders are small and
stay in memory. Batches are shuffled per epoch (a new permutation each pass). Every batch carries `segment_mask` (B, T), 1 = real segment:
the models leave padded segments out of their outputs at real segments, of
the loss and of the accuracy.

- supervised: targets are the one-hot segment labels (B, T, C) (§3.6);
- weak: targets are the video labels (B, C); the training split also holds
  the background-only ("noisy") videos when the folder has them (§3.6, §4.1);
- unsupervised: inputs also carry `audio_negative`, the audio of a different
  video of the same split (`negative_sampling="any-video"`, the paper's
  reading) or of a video of another class (`"other-class"`, from the video
  labels), and its mask `segment_mask_negative`; targets are zeros (B,)
  (§3.7, AVTGML).

The batches come from `AVEBatches`, a `keras.utils.PyDataset`: NumPy only,
index-based (`batches[i]`), which `fit`/`evaluate`/`predict` read under
TensorFlow, JAX and PyTorch alike, and it holds nothing process-wide itself.
Under TensorFlow, Keras feeds it to `fit` through
`tf.data.Dataset.from_generator`, whose generator TensorFlow keeps in its
global graph (with the split's arrays and the `pass_index` callback, i.e. the
model): `keras_avl.training` calls `AVEBatches.close()` (`keras_avl.data.batches`) after `fit`/`predict`
so that a long `compare` does not keep every run's data and model.
"""


import h5py
import numpy as np

from keras_avl.data.ave_dataset import FEATURE_KEY, SPLITS
from keras_avl.regimes import NEGATIVE_SAMPLINGS, REGIMES
from keras_avl.validation import check_choice, check_positive_int

DATA_PATHS = ("auto", "memory", "stream")
WEAK_TARGETS = ("video", "class-shares")
# `data_path="auto"` holds a split in memory when it takes at most this share
# of the memory available (train and val are held at once, beside the model).
MEMORY_SHARE = 0.4


def class_shares(segment_labels, segment_mask):
    """Per video and class, the share of its real segments labelled with that
    class, background included (B, C): the weak target PSP's release reads
    from `prob_label.h5` (github:jasongief/PSP_CVPR_2021 issue 7, "the
    proportion of the background and event segments").

    Example:

    >>> labels = np.eye(3, dtype="float32")[[[0, 0, 2, 2, 2]]]
    >>> class_shares(labels, np.array([[1, 1, 1, 1, 0]], "float32")).tolist()
    [[0.5, 0.0, 0.5]]
    """
    counts = (segment_labels * segment_mask[..., None]).sum(axis=1)
    return counts / np.maximum(counts.sum(axis=-1, keepdims=True), 1.0)


def _split_items(data, split, regime, include_noisy, weak_targets="video"):
    """Where each video of the split lives: (file, row) pairs, audio, segment
    masks, targets."""
    order = data.orders[split]
    sources = [(data.visual_path, row) for row in order]
    audio = [data.audio[order]]
    masks = [data.segment_mask[order]]
    if regime == "weak" and weak_targets == "class-shares":
        targets = [class_shares(data.segment_labels[order], data.segment_mask[order])]
    elif regime == "weak":
        targets = [data.video_labels[order]]
    elif regime == "supervised":
        targets = [data.segment_labels[order]]
    else:
        targets = [np.zeros(len(order), np.float32)]
    if include_noisy and data.noisy is not None:
        noisy = data.noisy
        sources += [(noisy.visual_path, row) for row in range(len(noisy.audio))]
        audio.append(noisy.audio)
        masks.append(noisy.segment_mask)
        targets.append(noisy.video_labels)
    return sources, np.concatenate(audio), np.concatenate(masks), np.concatenate(targets)


def available_memory_bytes(meminfo="/proc/meminfo"):
    """MemAvailable of `meminfo` in bytes (None where it cannot be read)."""
    try:
        with open(meminfo, encoding="utf-8") as lines:
            for line in lines:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def visual_data_path(data, split, regime, data_path="auto", include_noisy=None,
                     available=None):
    """How `make_dataset` reads the split's visual features, and why.

    Args:
        data, split, regime, include_noisy: as for `make_dataset`.
        data_path: `"memory"`, `"stream"` or `"auto"`: memory when the split's
            float32 rows take at most `MEMORY_SHARE` of the available memory.
        available: bytes available; None reads `available_memory_bytes()`.

    Returns:
        `(path, needed_bytes, available_bytes)`, path `"memory"` or `"stream"`.

    Example:

    >>> import tempfile
    >>> from keras_avl.data import generate_dataset, load_ave
    >>> data = load_ave(generate_dataset(tempfile.mkdtemp() + "/ave", size="tiny"))
    >>> visual_data_path(data, "train", "supervised", available=10**9)
    ('memory', 376320, 1000000000)
    >>> visual_data_path(data, "train", "supervised", available=10**5)[0]
    'stream'
    """
    check_choice("data_path", data_path, DATA_PATHS)
    if include_noisy is None:
        include_noisy = regime == "weak" and split == "train"
    sources = _split_items(data, split, regime, include_noisy)[0]
    needed = len(sources) * int(np.prod(data.visual_shape[1:])) * 4
    available = available_memory_bytes() if available is None else available
    if data_path == "auto":
        fits = available is not None and needed <= MEMORY_SHARE * available
        data_path = "memory" if fits else "stream"
    return data_path, needed, available


def read_visual_rows(sources, row_shape, chunk_rows=256):
    """The visual rows of `sources` ((file, row) pairs) in one float32 array,
    each file read in contiguous chunks of `chunk_rows` rows (no per-row
    Python reads)."""
    visual = np.empty((len(sources),) + tuple(row_shape), np.float32)
    by_path = {}
    for position, (path, row) in enumerate(sources):
        by_path.setdefault(path, []).append((row, position))
    for path, pairs in by_path.items():
        rows, positions = (np.array(x) for x in zip(*pairs))
        with h5py.File(path, "r") as file:
            dataset = file[FEATURE_KEY]
            for start in range(rows.min(), rows.max() + 1, chunk_rows):
                stop = start + chunk_rows
                wanted = (rows >= start) & (rows < stop)
                if wanted.any():
                    # HDF5 converts float64 files (AVE's release) to float32.
                    chunk = dataset[start:min(stop, dataset.shape[0])].astype(np.float32, copy=False)
                    visual[positions[wanted]] = chunk[rows[wanted] - start]
    return visual


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
    pass_index=None,
    data_path="auto",
    negative_sampling="any-video",
    weak_targets="video",
):
    """The `(inputs, targets)` batches of a split for `keras_avl.models`: an
    `AVEBatches` (a `keras.utils.PyDataset`, for every backend).

    Args:
        data: an `AVEData` (see `keras_avl.data.load_ave`).
        split: `"train"`, `"val"` or `"test"`.
        regime: `"supervised"`, `"weak"` or `"unsupervised"`.
        batch_size: videos per batch (the last batch may be smaller).
        shuffle: a new order every epoch; default: only for `"train"`.
        seed: seeds the shuffling and the negative audio.
        include_noisy: add the background-only videos; default: for the weak
            regime's training split.
        pass_index: shuffle order and negative audio are drawn per pass,
            from `seed` and the pass's index. None: the dataset counts its
            completed passes (0, 1, ...; a pass abandoned before its end does
            not count). A callable: called as each pass begins, it returns
            the pass's index; `keras_avl.training.train` gives the training
            split the epoch being trained
            (`keras_avl.training.callbacks.DataPass`), so that epoch k draws
            the same data in an uninterrupted run and in one resumed at k.
        data_path: `"memory"` (read the split's visual rows once), `"stream"`
            (read them batch by batch from the file) or `"auto"` (memory when
            they fit; see `visual_data_path`). The batches are the same.
        negative_sampling: unsupervised regime: `"any-video"` (any other
            video) or `"other-class"` (a video whose label, the argmax of the
            video labels, differs).
        weak_targets: weak regime: `"video"` (the video labels) or
            `"class-shares"` (`class_shares` of the segment labels; the
            background-only videos keep their all-background label).

    Returns:
        An `AVEBatches` of `len()` batches per pass, each `({"visual":
        (B,T,H,W,d_v), "audio": (B,T,d_a), "segment_mask": (B,T) [,
        "audio_negative": (B,T,d_a), "segment_mask_negative": (B,T)]},
        targets)`, float32 NumPy arrays.

    Example:

    >>> import tempfile
    >>> from keras_avl.data import generate_dataset, load_ave
    >>> data = load_ave(generate_dataset(tempfile.mkdtemp() + "/ave", size="tiny"))
    >>> inputs, y = next(iter(make_dataset(data, "train", "supervised", batch_size=4)))
    >>> tuple(inputs["visual"].shape), tuple(y.shape)
    ((4, 10, 7, 7, 8), (4, 10, 5))
    """
    check_choice("split", split, SPLITS)
    check_choice("regime", regime, REGIMES)
    check_choice("negative_sampling", negative_sampling, NEGATIVE_SAMPLINGS)
    check_choice("weak_targets", weak_targets, WEAK_TARGETS)
    batch_size = check_positive_int("batch_size", batch_size)
    if pass_index is not None and not callable(pass_index):
        raise TypeError(
            f"`pass_index` must be None or a callable returning the index of the "
            f"pass that begins; received {pass_index!r}."
        )
    shuffle = split == "train" if shuffle is None else bool(shuffle)
    if include_noisy is None:
        include_noisy = regime == "weak" and split == "train"
    sources, *arrays = _split_items(data, split, regime, include_noisy, weak_targets)
    audio, masks, targets = (array.astype(np.float32, copy=False) for array in arrays)
    n = len(sources)
    negatives = regime == "unsupervised"
    classes = None
    if negatives:  # Bad splits fail here, before training starts.
        check_negative_pool(n, split)
        if negative_sampling == "other-class":
            classes = data.video_labels[data.orders[split]].argmax(-1)
            other_class_indices(np.random.default_rng(0), classes)
    row_shape = tuple(data.visual_shape[1:])
    in_memory = visual_data_path(data, split, regime, data_path, include_noisy)[0] == "memory"
    rows = read_visual_rows(sources, row_shape) if in_memory else None
    from keras_avl.data.batches import AVEBatches

    return AVEBatches(sources, audio, masks, targets, rows, row_shape, batch_size,
                      shuffle, seed, pass_index, negatives, classes)
