"""`load_ave`: reads and validates a folder in the layout of the AVE release.

The layout (SPEC §5): one HDF5 dataset per file, key `avadataset` (key `order`
for the split files):

| file | shape |
|---|---|
| visual_feature.h5 | (N, T, H, W, d_v) |
| audio_feature.h5 | (N, T, d_a) |
| labels.h5 (optional: rebuilt from Annotations.txt) | (N, T, C), background C-1 |
| mil_labels.h5 (optional: derived from the segment labels; background for a video without event segments) | (N, C) one-hot |
| train_order.h5 / val_order.h5 / test_order.h5 | (n,) row indices |
| *_noisy.h5 (optional, all three or none) | (M, T, H, W, d_v) / (M, T, d_a) / (M, C) |
| regions.h5 (keras-avl extension, optional) | (N, T, H, W), 1 on the sounding object |
| segment_mask.h5 (keras-avl extension, optional) | (N, T), 1 = real segment, 0 = padding |
| segment_mask_noisy.h5 (optional, with the noisy files) | (M, T) |

Everything is checked before any training starts: a missing file or key, a
wrong shape or dtype, row counts that disagree, order indices out of range,
NaN/Inf features, an empty split or a segment mask that is not 1s followed
by 0s (at least one 1: padding only at the end of a clip) raise an error
naming the file, the key, what was expected and what was found. Without a
mask file every segment is real. Only the visual features stay on disk
(7.7 GB for AVE); they are streamed by `keras_avl.data.make_dataset`.
"""

import contextlib
import dataclasses
from pathlib import Path

import h5py
import numpy as np

from keras_avl.data.annotations import ANNOTATIONS_FILE, read_annotations

FEATURE_KEY = "avadataset"
ORDER_KEY = "order"
SPLITS = ("train", "val", "test")
VISUAL_FILE = "visual_feature.h5"
AUDIO_FILE = "audio_feature.h5"
LABELS_FILE = "labels.h5"
VIDEO_LABELS_FILE = "mil_labels.h5"
REGIONS_FILE = "regions.h5"
NOISY_FILES = ("visual_feature_noisy.h5", "audio_feature_noisy.h5", "labels_noisy.h5")
MASK_FILE = "segment_mask.h5"
NOISY_MASK_FILE = "segment_mask_noisy.h5"
# Rows of the visual file checked for NaN/Inf per read (about 64 MB at AVE size).
FINITE_CHECK_BYTES = 64 * 2**20


def order_file(split):
    return f"{split}_order.h5"


@contextlib.contextmanager
def open_h5_dataset(path, key):
    """Yields the HDF5 dataset `key` of file `path`, or raises an error naming both."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Missing file {path}: expected an HDF5 file with key {key!r}.")
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise ValueError(f"{path} is not a readable HDF5 file: {error}") from None
    with handle:
        if key not in handle or not isinstance(handle[key], h5py.Dataset):
            raise ValueError(
                f"{path}: expected a dataset under key {key!r}; found keys {sorted(handle)}."
            )
        yield handle[key]


def check_shape(path, key, found, expected, names):
    """`expected` holds ints or None (any size); `names` names each axis."""
    ok = len(found) == len(expected) and all(
        e is None or e == f for f, e in zip(found, expected)
    )
    if not ok:
        wanted = "(" + ", ".join(
            f"{n}={e}" if e is not None else n for n, e in zip(names, expected)
        ) + ")"
        raise ValueError(f"{path} [{key!r}]: expected shape {wanted}; found {tuple(found)}.")


def check_dtype(path, key, dtype, kinds, description):
    if dtype.kind not in kinds:
        raise ValueError(f"{path} [{key!r}]: expected {description} values; found dtype {dtype}.")


def check_finite(path, key, values):
    bad = ~np.isfinite(values)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{path} [{key!r}]: expected finite values; found {int(bad.sum())} NaN/Inf "
            f"(first at index {first})."
        )


def check_visual_finite(path, key, dataset):
    """Scans the visual features block by block, so that RAM stays bounded."""
    row_bytes = max(1, int(np.prod(dataset.shape[1:])) * dataset.dtype.itemsize)
    step = max(1, FINITE_CHECK_BYTES // row_bytes)
    for start in range(0, dataset.shape[0], step):
        block = dataset[start : start + step]
        if not np.isfinite(block).all():
            bad = np.argwhere(~np.isfinite(block))[0]
            bad[0] += start
            raise ValueError(
                f"{path} [{key!r}]: expected finite values; found NaN/Inf at index "
                f"{tuple(int(i) for i in bad)}."
            )


def read_array(path, key, expected, names, kinds, description, dtype=np.float32):
    """Reads a whole (small) dataset after checking its shape and dtype."""
    with open_h5_dataset(path, key) as dataset:
        check_shape(path, key, dataset.shape, expected, names)
        check_dtype(path, key, dataset.dtype, kinds, description)
        values = dataset[()].astype(dtype)
    if values.dtype.kind == "f":
        check_finite(path, key, values)
    return values


def check_one_hot(path, key, labels):
    if not (np.isin(labels, (0.0, 1.0)).all() and (labels.sum(-1) == 1).all()):
        raise ValueError(
            f"{path} [{key!r}]: expected one-hot labels (one 1 per row along the "
            "class axis); found other values."
        )


@dataclasses.dataclass
class NoisyVideos:
    """The background-only videos used by the weakly supervised regime
    (`segment_mask`: (M, T), all ones without `segment_mask_noisy.h5`)."""

    visual_path: Path
    audio: np.ndarray
    video_labels: np.ndarray
    segment_mask: np.ndarray


@dataclasses.dataclass
class AVEData:
    """A validated dataset folder in the AVE layout (see `load_ave`).

    Attributes:
        root: the folder.
        visual_path: `visual_feature.h5`, streamed (never fully read).
        visual_shape: (N, T, H, W, d_v).
        audio: float32 (N, T, d_a).
        segment_labels: float32 one-hot (N, T, C); background = C - 1.
        video_labels: float32 (N, C), the video-level (MIL) labels.
        orders: dict split -> int64 row indices.
        class_names: C names (events in Annotations order, then "background").
        noisy: `NoisyVideos` or None.
        regions: uint8 (N, T, H, W) ground-truth sounding regions, or None.
        segment_mask: float32 (N, T), 1 = real segment, 0 = padding (all
            ones without `segment_mask.h5`).
    """

    root: Path
    visual_path: Path
    visual_shape: tuple
    audio: np.ndarray
    segment_labels: np.ndarray
    video_labels: np.ndarray
    orders: dict
    class_names: list
    noisy: NoisyVideos = None
    regions: np.ndarray = None
    segment_mask: np.ndarray = None

    def __post_init__(self):
        if self.segment_mask is None:
            self.segment_mask = np.ones(self.visual_shape[:2], np.float32)

    @property
    def num_videos(self):
        return self.visual_shape[0]

    @property
    def segments(self):
        return self.visual_shape[1]

    @property
    def grid(self):
        return tuple(self.visual_shape[2:4])

    @property
    def visual_dim(self):
        return self.visual_shape[4]

    @property
    def audio_dim(self):
        return self.audio.shape[-1]

    @property
    def num_classes(self):
        return self.segment_labels.shape[-1]

    @property
    def background(self):
        return self.num_classes - 1

    def model_config_kwargs(self):
        """The config fields fixed by the data (of every method's `MethodConfig`)."""
        return {
            "num_classes": self.num_classes,
            "segments": self.segments,
            "grid": self.grid,
            "visual_dim": self.visual_dim,
            "audio_dim": self.audio_dim,
        }


def _read_orders(root, num_videos):
    orders = {}
    for split in SPLITS:
        path = root / order_file(split)
        order = read_array(path, ORDER_KEY, (None,), ("n",), "iu", "integer", np.int64)
        if order.size == 0:
            raise ValueError(
                f"{path} [{ORDER_KEY!r}]: the {split} split is empty; expected at least one row index."
            )
        if order.min() < 0 or order.max() >= num_videos:
            raise ValueError(
                f"{path} [{ORDER_KEY!r}]: expected row indices in [0, {num_videos}) "
                f"(the rows of {VISUAL_FILE}); found values in [{order.min()}, {order.max()}]."
            )
        orders[split] = order
    return orders


def _read_segment_labels(root, n, t, annotations):
    path = root / LABELS_FILE
    if path.exists() or annotations is None:
        labels = read_array(path, FEATURE_KEY, (n, t, None), ("N", "T", "C"), "biuf", "numeric")
        check_one_hot(path, FEATURE_KEY, labels)
        return labels
    # labels.h5 missing: rebuild it (AVE: 28 categories + background).
    return annotations.segment_labels(t, len(annotations.class_names) + 1)


def _read_noisy(root, shape, num_classes):
    present = [name for name in NOISY_FILES if (root / name).exists()]
    if not present:
        if (root / NOISY_MASK_FILE).exists():
            raise FileNotFoundError(
                f"{root}: found {NOISY_MASK_FILE} but none of {list(NOISY_FILES)}; "
                "the mask of the noisy background videos needs their features."
            )
        return None
    if len(present) != len(NOISY_FILES):
        missing = sorted(set(NOISY_FILES) - set(present))
        raise FileNotFoundError(
            f"{root}: found {present} but not {missing}; the noisy background videos "
            "need all three files (or none)."
        )
    visual_path = root / NOISY_FILES[0]
    _, t, h, w, d_v = shape
    with open_h5_dataset(visual_path, FEATURE_KEY) as visual:
        check_shape(visual_path, FEATURE_KEY, visual.shape, (None, t, h, w, d_v),
                    ("M", "T", "H", "W", "d_v"))
        check_dtype(visual_path, FEATURE_KEY, visual.dtype, "f", "floating-point")
        check_visual_finite(visual_path, FEATURE_KEY, visual)
        m = visual.shape[0]
    audio = read_array(root / NOISY_FILES[1], FEATURE_KEY, (m, t, None),
                       ("M", "T", "d_a"), "f", "floating-point")
    labels = read_array(root / NOISY_FILES[2], FEATURE_KEY, (m, num_classes),
                        ("M", "C"), "biuf", "numeric")
    check_one_hot(root / NOISY_FILES[2], FEATURE_KEY, labels)
    return NoisyVideos(visual_path, audio, labels, read_segment_mask(root / NOISY_MASK_FILE, m, t, "M"))


def check_segment_mask(path, key, mask):
    """A mask must be 0/1, each row 1s then 0s with at least one 1."""
    values = np.unique(mask)
    if not np.isin(values, (0.0, 1.0)).all():
        raise ValueError(
            f"{path} [{key!r}]: expected 0/1 values (1 = real segment, 0 = padding); "
            f"found values {values[~np.isin(values, (0.0, 1.0))][:5].tolist()}."
        )
    real = mask.sum(-1)
    empty = np.flatnonzero(real == 0)
    if empty.size:
        raise ValueError(
            f"{path} [{key!r}]: expected at least one real segment (a 1) per video; "
            f"found none in row(s) {empty[:5].tolist()}."
        )
    # Padding only at the end: row i must equal [1] * real_i + [0] * (T - real_i).
    expected = np.arange(mask.shape[-1]) < real[:, None]
    holes = np.flatnonzero((mask != expected).any(-1))
    if holes.size:
        row = int(holes[0])
        raise ValueError(
            f"{path} [{key!r}]: expected real segments (1) first, then padding (0) at "
            f"the end of the clip; found row {row} = {mask[row].astype(int).tolist()}."
        )


def read_segment_mask(path, n, t, rows="N"):
    """The (n, t) mask of `path`, checked; all ones when the file is absent.
    `rows` names the first axis in errors."""
    if not path.exists():
        return np.ones((n, t), np.float32)
    mask = read_array(path, FEATURE_KEY, (n, t), (rows, "T"), "biuf", "numeric")
    check_segment_mask(path, FEATURE_KEY, mask)
    return mask


def load_ave(root, check_finite_visual=True):
    """Reads and validates the dataset folder `root` (AVE release layout).

    Args:
        root: the folder (the official release, or one written by
            `keras_avl.data.generate_dataset`).
        check_finite_visual: scan the visual features for NaN/Inf, block by
            block (a few seconds for AVE's 7.7 GB).

    Returns:
        An `AVEData`.

    Example:

    >>> import tempfile
    >>> from keras_avl.data import generate_dataset
    >>> root = generate_dataset(tempfile.mkdtemp() + "/ave", size="tiny")
    >>> data = load_ave(root)
    >>> data.visual_shape[1:4], data.class_names[-1]
    ((10, 7, 7), 'background')
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"Dataset folder not found: expected a folder at {root}.")
    visual_path = root / VISUAL_FILE
    with open_h5_dataset(visual_path, FEATURE_KEY) as visual:
        check_shape(visual_path, FEATURE_KEY, visual.shape, (None,) * 5,
                    ("N", "T", "H", "W", "d_v"))
        check_dtype(visual_path, FEATURE_KEY, visual.dtype, "f", "floating-point")
        shape = tuple(int(s) for s in visual.shape)
        if check_finite_visual:
            check_visual_finite(visual_path, FEATURE_KEY, visual)
    n, t, h, w, _ = shape
    audio = read_array(root / AUDIO_FILE, FEATURE_KEY, (n, t, None), ("N", "T", "d_a"),
                       "f", "floating-point")
    annotations_path = root / ANNOTATIONS_FILE
    annotations = read_annotations(annotations_path, t) if annotations_path.exists() else None
    if annotations is not None and len(annotations.categories) != n:
        raise ValueError(
            f"{annotations_path}: expected {n} lines (one per row of {visual_path}); "
            f"found {len(annotations.categories)}."
        )
    labels = _read_segment_labels(root, n, t, annotations)
    num_classes = labels.shape[-1]
    video_labels_path = root / VIDEO_LABELS_FILE
    if video_labels_path.exists():
        video_labels = read_array(video_labels_path, FEATURE_KEY, (n, num_classes),
                                  ("N", "C"), "biuf", "numeric")
        check_one_hot(video_labels_path, FEATURE_KEY, video_labels)
    else:
        # The event class of each video: the most frequent non-background
        # class; a video without event segments is background, like the
        # background-only videos of labels_noisy.h5.
        counts = labels[..., :-1].sum(1)
        classes = np.where(counts.any(-1), counts.argmax(-1), num_classes - 1)
        video_labels = np.eye(num_classes, dtype=np.float32)[classes]
    if annotations is not None and len(annotations.class_names) != num_classes - 1:
        raise ValueError(
            f"{annotations_path}: expected {num_classes - 1} categories (the classes of "
            f"{root / LABELS_FILE} but background); found {len(annotations.class_names)}."
        )
    class_names = (
        annotations.class_names if annotations is not None
        else [f"class {k}" for k in range(num_classes - 1)]
    ) + ["background"]
    regions = None
    if (root / REGIONS_FILE).exists():
        regions = read_array(root / REGIONS_FILE, FEATURE_KEY, (n, t, h, w),
                             ("N", "T", "H", "W"), "biuf", "numeric", np.uint8)
    return AVEData(
        root=root,
        visual_path=visual_path,
        visual_shape=shape,
        audio=audio,
        segment_labels=labels,
        video_labels=video_labels,
        orders=_read_orders(root, n),
        class_names=class_names,
        noisy=_read_noisy(root, shape, num_classes),
        regions=regions,
        segment_mask=read_segment_mask(root / MASK_FILE, n, t),
    )
