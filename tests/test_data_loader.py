"""`load_ave`: the AVE release layout, its validation, and the real metadata."""

import os

import numpy as np
import pytest

from keras_avl.data import load_ave, read_annotations
from keras_avl.data.ave_dataset import NOISY_FILES as NOISY
from tests.ave_fixtures import SHARED_AVE_META, read_h5, tiny_copy, tiny_root, write_h5  # noqa: F401


def test_reads_every_file_of_the_layout(tiny_root):
    data = load_ave(tiny_root)
    assert data.visual_shape == (40, 10, 7, 7, 8)
    np.testing.assert_array_equal(data.audio, read_h5(tiny_root / "audio_feature.h5"))
    np.testing.assert_array_equal(data.segment_labels, read_h5(tiny_root / "labels.h5"))
    np.testing.assert_array_equal(data.video_labels, read_h5(tiny_root / "mil_labels.h5"))
    np.testing.assert_array_equal(data.regions, read_h5(tiny_root / "regions.h5"))
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(data.orders[split],
                                      read_h5(tiny_root / f"{split}_order.h5", "order"))
    assert data.num_classes == 5 and data.background == 4
    assert data.class_names[-1] == "background"
    assert data.noisy.audio.shape == (4, 10, 8)
    assert data.model_config_kwargs() == {
        "num_classes": 5, "segments": 10, "grid": (7, 7), "visual_dim": 8, "audio_dim": 8,
    }


def test_rebuilds_segment_labels_from_annotations(tiny_copy):
    expected = read_h5(tiny_copy / "labels.h5")
    os.remove(tiny_copy / "labels.h5")
    np.testing.assert_array_equal(load_ave(tiny_copy).segment_labels, expected)


def test_derives_video_labels_when_mil_labels_missing(tiny_copy):
    expected = read_h5(tiny_copy / "mil_labels.h5")
    os.remove(tiny_copy / "mil_labels.h5")
    np.testing.assert_array_equal(load_ave(tiny_copy).video_labels, expected)


def test_a_video_without_event_segments_gets_the_background_video_label(tiny_copy):
    """Annotations.txt with start == end (AVE has one such line): every segment
    is background, and so is the derived video label (not class 0)."""
    expected = read_h5(tiny_copy / "mil_labels.h5")
    lines = (tiny_copy / "Annotations.txt").read_text().splitlines()
    first_class = lines[0].split("&")[0]
    row = next(i for i, line in enumerate(lines) if line.split("&")[0] != first_class)
    fields = lines[row].split("&")
    lines[row] = "&".join(fields[:3] + [fields[3], fields[3]])
    (tiny_copy / "Annotations.txt").write_text("\n".join(lines) + "\n")
    os.remove(tiny_copy / "labels.h5")
    os.remove(tiny_copy / "mil_labels.h5")
    data = load_ave(tiny_copy)
    assert (data.segment_labels[row].argmax(-1) == data.background).all()
    expected[row] = np.eye(data.num_classes)[data.background]
    np.testing.assert_array_equal(data.video_labels, expected)
def test_reads_the_segment_masks(tiny_copy):
    assert (load_ave(tiny_copy).segment_mask == 1).all()  # no mask file: all real
    assert (load_ave(tiny_copy).noisy.segment_mask == 1).all()
    mask = np.ones((40, 10), np.uint8)
    mask[3, 7:] = mask[5, 1:] = 0
    noisy_mask = np.ones((4, 10))
    noisy_mask[2, 4:] = 0
    write_h5(tiny_copy / "segment_mask.h5", mask)
    write_h5(tiny_copy / "segment_mask_noisy.h5", noisy_mask)
    data = load_ave(tiny_copy)
    assert data.segment_mask.dtype == np.float32
    np.testing.assert_array_equal(data.segment_mask, mask)
    np.testing.assert_array_equal(data.noisy.segment_mask, noisy_mask)


def _mask(name="segment_mask.h5", rows=40, segments=10, change=None):
    def write(root):
        mask = np.ones((rows, segments), np.float32)
        mask[1, 8:] = 0
        write_h5(root / name, mask if change is None else change(mask))
    return write


def _set(index, value):
    def change(mask):
        mask[index] = value
        return mask
    return change


def _rewrite(name, change, key="avadataset"):
    def corrupt(root):
        write_h5(root / name, change(read_h5(root / name, key)), key)
    return corrupt


def _remove(name):
    return lambda root: os.remove(root / name)


def _with_nan(array, index, value):
    array = array.copy()
    array[index] = value
    return array


def _replace_line(number, text):
    def corrupt(root):
        lines = (root / "Annotations.txt").read_text().splitlines()
        lines[number - 1] = text
        (root / "Annotations.txt").write_text("\n".join(lines) + "\n")
    return corrupt


BAD_INPUTS = {
    "missing visual file": (_remove("visual_feature.h5"), FileNotFoundError,
                            ["visual_feature.h5", "'avadataset'"]),
    "missing order file": (_remove("test_order.h5"), FileNotFoundError, ["test_order.h5"]),
    "incomplete noisy files": (_remove("labels_noisy.h5"), FileNotFoundError,
                               ["labels_noisy.h5", "all three"]),
    "missing key": (lambda root: write_h5(root / "audio_feature.h5",
                                          read_h5(root / "audio_feature.h5"), "features"),
                    ValueError, ["audio_feature.h5", "'avadataset'", "features"]),
    "not an HDF5 file": (lambda root: (root / "mil_labels.h5").write_text("nope"),
                         ValueError, ["mil_labels.h5", "HDF5"]),
    "wrong shape": (_rewrite("audio_feature.h5", lambda a: a[:, :9]), ValueError,
                    ["audio_feature.h5", "T=10", "(40, 9, 8)"]),
    "wrong dtype": (_rewrite("visual_feature.h5", lambda a: a.astype(np.int32)), ValueError,
                    ["visual_feature.h5", "floating-point", "int32"]),
    "row counts disagree": (_rewrite("labels.h5", lambda a: a[:39]), ValueError,
                            ["labels.h5", "N=40", "(39, 10, 5)"]),
    "annotation rows disagree": (lambda root: (root / "Annotations.txt").write_text(
        "".join((root / "Annotations.txt").read_text().splitlines(True)[:39])),
        ValueError, ["Annotations.txt", "40", "39"]),
    "malformed annotation": (_replace_line(3, "Bark&x&good&2"), ValueError,
                             ["Annotations.txt", "line 3", "Bark&x&good&2"]),
    "order index out of range": (_rewrite("train_order.h5", lambda a: np.append(a, 40), "order"),
                                 ValueError, ["train_order.h5", "[0, 40)", "40]"]),
    "float order indices": (_rewrite("val_order.h5", lambda a: a.astype(float), "order"),
                            ValueError, ["val_order.h5", "integer", "float64"]),
    "empty split": (_rewrite("val_order.h5", lambda a: a[:0], "order"), ValueError,
                    ["val_order.h5", "empty"]),
    "NaN visual feature": (_rewrite("visual_feature.h5",
                                    lambda a: _with_nan(a, (3, 2, 1, 1, 0), np.nan)),
                           ValueError, ["visual_feature.h5", "NaN", "(3, 2, 1, 1, 0)"]),
    "Inf audio feature": (_rewrite("audio_feature.h5", lambda a: _with_nan(a, (5, 0, 2), np.inf)),
                          ValueError, ["audio_feature.h5", "NaN/Inf", "(5, 0, 2)"]),
    "NaN noisy visual feature": (_rewrite("visual_feature_noisy.h5",
                                          lambda a: _with_nan(a, (1, 0, 0, 0, 0), np.nan)),
                                 ValueError, ["visual_feature_noisy.h5", "NaN"]),
    "labels not one-hot": (_rewrite("labels.h5", lambda a: 2 * a), ValueError,
                           ["labels.h5", "one-hot"]),
    "video labels not one-hot": (_rewrite("mil_labels.h5",
                                          lambda a: np.maximum(a, np.roll(a, 1, axis=-1))),
                                 ValueError, ["mil_labels.h5", "one-hot"]),
    "mask rows disagree": (_mask(rows=39), ValueError,
                           ["segment_mask.h5", "N=40", "T=10", "(39, 10)"]),
    "mask segments disagree": (_mask(segments=9), ValueError,
                               ["segment_mask.h5", "T=10", "(40, 9)"]),
    "mask not 0/1": (_mask(change=_set((4, 2), 0.5)), ValueError,
                     ["segment_mask.h5", "0/1", "0.5"]),
    "mask of a video without real segment": (_mask(change=_set(6, 0)), ValueError,
                                             ["segment_mask.h5", "at least one", "[6]"]),
    "mask padding before a real segment": (
        _mask(change=_set((7, 3), 0)), ValueError,
        ["segment_mask.h5", "padding (0) at the end", "row 7", "[1, 1, 1, 0, 1, 1, 1, 1, 1, 1]"]),
    "NaN mask": (_mask(change=_set((2, 2), np.nan)), ValueError, ["segment_mask.h5", "NaN"]),
    "noisy mask rows disagree": (_mask("segment_mask_noisy.h5", rows=5), ValueError,
                                 ["segment_mask_noisy.h5", "M=4", "(5, 10)"]),
    "noisy mask without noisy videos": (
        lambda root: [_mask("segment_mask_noisy.h5", rows=4)(root)]
        + [os.remove(root / name) for name in NOISY],
        FileNotFoundError, ["segment_mask_noisy.h5", "visual_feature_noisy.h5"]),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_raises_a_clear_error(tiny_copy, case):
    corrupt, error, fragments = BAD_INPUTS[case]
    corrupt(tiny_copy)
    with pytest.raises(error) as info:
        load_ave(tiny_copy)
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_ave(tmp_path / "nowhere")


needs_shared = pytest.mark.skipif(
    not SHARED_AVE_META.is_dir(), reason="../shared/ave_meta (real AVE metadata) not present"
)


@needs_shared
def test_real_annotations_give_ave_class_order():
    annotations = read_annotations(SHARED_AVE_META / "Annotations.txt", segments=10)
    assert len(annotations.categories) == 4143
    names = annotations.class_names
    assert len(names) == 28 and names[0] == "Church bell" and names[27] == "Mandolin"
    mil_labels = read_h5(SHARED_AVE_META / "mil_labels.h5")
    np.testing.assert_array_equal(mil_labels.argmax(-1), annotations.class_indices)


@needs_shared
def test_real_labels_closs_agree_with_annotation_rule_on_every_row():
    annotations = read_annotations(SHARED_AVE_META / "Annotations.txt", segments=10)
    labels = annotations.segment_labels(10, 29)
    labels_closs = read_h5(SHARED_AVE_META / "labels_closs.h5")
    assert labels_closs.shape == (4143, 10)
    np.testing.assert_array_equal(labels.argmax(-1) != 28, labels_closs == 1)


@needs_shared
def test_load_ave_on_real_metadata(tmp_path):
    """The real metadata files with stand-in features (the real ones are 7.7 GB)."""
    root = tmp_path / "ave"
    root.mkdir()
    for name in ("Annotations.txt", "train_order.h5", "val_order.h5", "test_order.h5",
                 "mil_labels.h5", "labels_noisy.h5", "audio_feature_noisy.h5"):
        os.symlink(SHARED_AVE_META / name, root / name)
    write_h5(root / "visual_feature.h5", np.zeros((4143, 10, 7, 7, 1), np.float32))
    write_h5(root / "audio_feature.h5", np.zeros((4143, 10, 128), np.float32))
    write_h5(root / "visual_feature_noisy.h5", np.zeros((178, 10, 7, 7, 1), np.float32))
    data = load_ave(root)
    assert {split: len(order) for split, order in data.orders.items()} == {
        "train": 3339, "val": 402, "test": 402}
    assert data.num_classes == 29 and data.class_names[28] == "background"
    labels_closs = read_h5(SHARED_AVE_META / "labels_closs.h5")
    np.testing.assert_array_equal(data.segment_labels.argmax(-1) != 28, labels_closs == 1)
    # The release's noisy audio is float64; it is read as float32.
    real_noisy = read_h5(SHARED_AVE_META / "audio_feature_noisy.h5")
    assert real_noisy.dtype == np.float64 and data.noisy.audio.dtype == np.float32
    np.testing.assert_allclose(data.noisy.audio, real_noisy, rtol=1e-6)
    assert (data.noisy.video_labels.argmax(-1) == 28).all()
