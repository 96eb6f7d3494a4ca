"""`boxes.json`: loading, and clear errors naming the file, the video and the box."""

import json

import numpy as np
import pytest

from keras_avl.data.annotations import Annotations
from keras_avl.data.boxes import load_boxes

ANNOTATIONS = Annotations(["Bark", "Cat", "Ukulele", "Accordion"],
                          ["dog1", "cat1", "dup", "dup"],
                          np.zeros(4, np.int64), np.full(4, 3))


def _entry(boxes, frame=(320, 240)):
    return {"frame_size": list(frame), "annotators": [boxes]}


def _write(tmp_path, content):
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps(content))
    return path


def test_rows_keys_and_presence(tmp_path):
    path = _write(tmp_path, {
        "dog1": _entry([[], [[0, 0, 160, 120]]]),
        "Accordion&dup": _entry([[[10, 10, 320, 240]]]),
    })
    regions = load_boxes(path, ANNOTATIONS, 3, rows=[3, 0, 1], required=[True, True, False])
    assert regions.present.tolist() == [[True, False, False], [False, True, False],
                                        [False, False, False]]
    # 160 of 320 pixels -> 112 of 224 (floor(v * 224 / 320)).
    mask = regions.masks([1], [1], (224, 224))[0]
    assert mask[:112, :112].all() and mask.sum() == 112 * 112


@pytest.mark.parametrize("content, words", [
    ({"dog1": _entry([[[0, 0, 321, 100]]])}, ["outside the 320 x 240 frame", "[0, 0, 321, 100]"]),
    ({"dog1": _entry([[[-1, 0, 10, 10]]])}, ["outside", "[-1, 0, 10, 10]"]),
    ({"dog1": _entry([[[50, 0, 10, 10]]])}, ["inverted corners", "[50, 0, 10, 10]"]),
    ({"dog1": _entry([[[0, 20, 10, 20]]])}, ["inverted corners", "[0, 20, 10, 20]"]),
    ({"dog1": _entry([[], [], [], [[0, 0, 10, 10]]])},
     ["segment 3", "beyond the 3 segments", "[0, 0, 10, 10]"]),
    ({"dog1": _entry([[[0, 0, 10]]])}, ["four numbers", "[0, 0, 10]"]),
    ({"dog1": {"frame_size": [0, 240], "annotators": [[]]}}, ["frame_size"]),
    ({"dog1": {"annotators": [[]]}}, ["'frame_size' and 'annotators'"]),
    ({"dog1": _entry([[]]), "dup": _entry([[]])}, ["'dup'", "Category&YouTubeID"]),
    ({"dog1": _entry([[]]), "nobody": _entry([[]])}, ["'nobody'", "found none such"]),
])
def test_bad_boxes_are_clear_errors(tmp_path, content, words):
    path = _write(tmp_path, content)
    with pytest.raises(ValueError) as error:
        load_boxes(path, ANNOTATIONS, 3)
    message = str(error.value)
    assert str(path) in message
    for word in words:
        assert word in message, message
    video = next(iter(content)) if "nobody" not in content and "dup" not in content else None
    if video:
        assert repr(video) in message


def test_a_missing_video_of_the_split_is_a_clear_error(tmp_path):
    path = _write(tmp_path, {"dog1": _entry([[[0, 0, 10, 10]]])})
    load_boxes(path, ANNOTATIONS, 3, rows=[0, 1], required=[True, False])
    with pytest.raises(ValueError) as error:
        load_boxes(path, ANNOTATIONS, 3, rows=[0, 1], required=[True, True])
    message = str(error.value)
    assert str(path) in message and "'cat1'" in message and "missing" in message


def test_unreadable_file_is_a_clear_error(tmp_path):
    path = tmp_path / "boxes.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="boxes.json"):
        load_boxes(path, ANNOTATIONS, 3)
    path.write_text("[]")
    with pytest.raises(ValueError, match="keyed by video id"):
        load_boxes(path, ANNOTATIONS, 3)
