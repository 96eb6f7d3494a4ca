"""`boxes.json`: annotators' boxes of the sounding object, the ground truth of
`keras_avl.training.localization_metrics` (keras-avl extension, optional, in
the dataset folder next to `Annotations.txt`).

The format: one entry per video, keyed by its YouTube id as in
`Annotations.txt`, or by `"Category&YouTubeID"` (required for an id that
several lines of `Annotations.txt` share: AVE has 45 such ids), with the
frame size in pixels and, per annotator, per segment (at most T, missing
trailing segments have no box), the boxes `[x0, y0, x1, y1]` in pixels of
that frame (x to the right, y down, `0 <= x0 < x1 <= width`,
`0 <= y0 < y1 <= height`)::

    {
      "RUhOCu3LNXM": {
        "frame_size": [320, 240],
        "annotators": [
          [[[10, 20, 200, 180]], [], [[12, 22, 198, 181], [250, 5, 300, 60]]],
          [[[15, 18, 190, 170]], [[14, 20, 195, 175]]]
        ]
      }
    }

A box scales to the evaluated image (224 x 224) as EZ-VSL's
`datasets.load_all_bboxes` does (`int(224 * v / 256)` for Flickr's 256 x 256
frames): pixel `floor(v * size / frame)`, and covers rows `y0:y1` and columns
`x0:x1` (`bbox2gtmap`). Each annotator's mask is the union of their boxes of
the segment. Then, as EZ-VSL's `bbox2gtmap`:

- several annotators (Flickr-SoundNet): the consensus, the sum of their masks
  halved and clipped at 1 (pixels one annotator of several marks count 0.5);
- one annotator (VGG-SS): the union of the boxes.

A segment has a ground truth when some annotator drew a box in it. Bad input
(boxes outside the frame, inverted corners, a segment index beyond T, a video
of the scored split missing, an unknown or ambiguous key) raises a ValueError
naming the file, the video and the box.
"""

import json
import math
from pathlib import Path

import numpy as np

BOXES_FILE = "boxes.json"


class BoxRegions:
    """The boxes of N videos (rows) over T segments, rasterised on demand.

    Args:
        entries: per row, None (no boxes) or `(frame_size, annotators)` as in
            the file (validated by `load_boxes`).
        segments: T.

    Example:

    >>> regions = BoxRegions([((4, 4), [[[[0, 0, 2, 2]]], [[[0, 0, 4, 2]]]])], 1)
    >>> regions.masks([0], [0], (4, 4))[0].tolist()
    [[1.0, 1.0, 0.5, 0.5], [1.0, 1.0, 0.5, 0.5], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    """

    description = ("boxes.json: several annotators, their masks summed, halved and "
                   "clipped at 1 (Flickr-SoundNet); one annotator, the union (VGG-SS)")

    def __init__(self, entries, segments):
        self.entries = list(entries)
        self.present = np.zeros((len(self.entries), segments), bool)
        for row, entry in enumerate(self.entries):
            for annotator in entry[1] if entry else ():
                for t, boxes in enumerate(annotator[:segments]):
                    self.present[row, t] |= bool(boxes)

    def masks(self, videos, segments, image_size):
        """float32 (k, H, W) ground-truth maps of segments (videos[i], segments[i])."""
        height, width = image_size
        result = np.zeros((len(videos), height, width), np.float32)
        for out, (row, t) in zip(result, zip(videos, segments)):
            (frame_width, frame_height), annotators = self.entries[row]
            for annotator in annotators:
                mask = np.zeros((height, width), bool)
                for x0, y0, x1, y1 in annotator[t] if t < len(annotator) else ():
                    mask[math.floor(y0 * height / frame_height):
                         math.floor(y1 * height / frame_height),
                         math.floor(x0 * width / frame_width):
                         math.floor(x1 * width / frame_width)] = True
                out += mask
            if len(annotators) > 1:
                np.minimum(out / 2, 1, out=out)
        return result

    def blocks(self, videos, segments, image_size):
        """The masks as blocks of one pixel each, the form
        `keras_avl.training.localization_metrics.ciou_metrics` reads."""
        masks = self.masks(videos, segments, image_size)
        return (masks.reshape(len(masks), -1), np.arange(image_size[0]),
                np.arange(image_size[1]))


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_entry(path, key, entry, segments):
    where = f"{path}, video {key!r}"
    if not isinstance(entry, dict) or set(entry) != {"frame_size", "annotators"}:
        raise ValueError(f"{where}: expected an object with the keys 'frame_size' and "
                         f"'annotators'; found {entry!r:.200}.")
    frame = entry["frame_size"]
    if not (isinstance(frame, list) and len(frame) == 2 and all(_number(v) and v > 0
                                                                for v in frame)):
        raise ValueError(f"{where}: expected 'frame_size' [width, height], two positive "
                         f"numbers; found {frame!r}.")
    width, height = frame
    annotators = entry["annotators"]
    if not (isinstance(annotators, list) and annotators
            and all(isinstance(a, list) for a in annotators)):
        raise ValueError(f"{where}: expected 'annotators', a non-empty list with one list "
                         f"of segments per annotator; found {annotators!r:.200}.")
    for a, annotator in enumerate(annotators):
        for t, boxes in enumerate(annotator):
            box_where = f"{where}, annotator {a}, segment {t}"
            if not isinstance(boxes, list):
                raise ValueError(f"{box_where}: expected a list of boxes; found {boxes!r}.")
            if t >= segments and boxes:
                raise ValueError(f"{box_where}, box {boxes[0]!r}: the segment index is "
                                 f"beyond the {segments} segments (0..{segments - 1}).")
            for box in boxes:
                if not (isinstance(box, list) and len(box) == 4 and all(map(_number, box))):
                    raise ValueError(f"{box_where}: expected a box [x0, y0, x1, y1] of four "
                                     f"numbers; found {box!r}.")
                x0, y0, x1, y1 = box
                if x1 <= x0 or y1 <= y0:
                    raise ValueError(f"{box_where}, box {box}: inverted corners, expected "
                                     "x0 < x1 and y0 < y1.")
                if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
                    raise ValueError(f"{box_where}, box {box}: outside the {width} x {height} "
                                     f"frame, expected 0 <= x0 < x1 <= {width} and "
                                     f"0 <= y0 < y1 <= {height}.")
    return (width, height), annotators


def load_boxes(path, annotations, segments, rows=None, required=None):
    """Reads and validates `boxes.json` (the format: see the module docstring).

    Args:
        path: the file.
        annotations: the dataset's `keras_avl.data.annotations.Annotations`
            (its video ids and categories name the rows).
        segments: T.
        rows: the rows (videos) to load, default all.
        required: optional bool per row of `rows`: those that must have an
            entry (the scored split's videos with an event segment).

    Returns:
        A `BoxRegions` over `rows`.

    Example:

    >>> import tempfile, pathlib
    >>> from keras_avl.data.annotations import Annotations
    >>> annotations = Annotations(["Bark"], ["abc"], np.array([0]), np.array([2]))
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "boxes.json"
    >>> _ = path.write_text('{"abc": {"frame_size": [8, 8], "annotators": [[[[0, 0, 4, 4]]]]}}')
    >>> load_boxes(path, annotations, 2).present.tolist()
    [[True, False]]
    """
    path = Path(path)
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: expected a JSON object of boxes per video; "
                         f"could not read it ({error}).") from None
    if not isinstance(content, dict):
        raise ValueError(f"{path}: expected a JSON object keyed by video id; "
                         f"found a {type(content).__name__}.")
    ids = annotations.video_ids
    counts = {video: ids.count(video) for video in set(ids)}
    line_of = {f"{c}&{v}": i for i, (c, v) in enumerate(zip(annotations.categories, ids))}
    line_of.update({v: i for i, v in enumerate(ids) if counts[v] == 1})
    by_line = {}
    for key, entry in content.items():
        if key not in line_of:
            shared = counts.get(key, 0) > 1
            raise ValueError(
                f"{path}, video {key!r}: "
                + ("the id is on several lines of Annotations.txt; key it as "
                   "'Category&YouTubeID'." if shared else
                   "expected a YouTube id or 'Category&YouTubeID' of Annotations.txt; "
                   "found none such.")
            )
        by_line[line_of[key]] = _check_entry(path, key, entry, segments)
    rows = np.arange(len(ids)) if rows is None else np.asarray(rows)
    if required is not None:
        missing = [int(row) for row, need in zip(rows, required)
                   if need and int(row) not in by_line]
        if missing:
            row = missing[0]
            raise ValueError(
                f"{path}: expected boxes for every scored video; video {ids[row]!r} "
                f"({annotations.categories[row]}, row {row} of Annotations.txt) is "
                f"missing ({len(missing)} videos missing in all).")
    return BoxRegions([by_line.get(int(row)) for row in rows], segments)
