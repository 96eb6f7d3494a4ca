"""AVE's `Annotations.txt`: one line `Category&YouTubeID&Quality&start&end` per video.

Row i of the file is row i of every `.h5` file of the release. Class indices
follow the order of first appearance of the categories (Church bell = 0 ...
Mandolin = 27 in AVE); the background class comes last. Segment t of a video is
the event class when `start <= t < end`, background otherwise (SPEC §5), which
is how `labels.h5` is rebuilt when it is missing.
"""

import dataclasses
from pathlib import Path

import numpy as np

ANNOTATIONS_FILE = "Annotations.txt"
# The release's file sometimes starts with this header line.
HEADER_FIRST_FIELD = "Category"


@dataclasses.dataclass
class Annotations:
    """The parsed annotation file.

    Args:
        categories: the category name of each video (row order).
        video_ids: the YouTube id of each video.
        starts, ends: int arrays (N,), the event interval `[start, end)` in
            segments.
    """

    categories: list
    video_ids: list
    starts: np.ndarray
    ends: np.ndarray

    @property
    def class_names(self):
        """Event categories in order of first appearance (index = class)."""
        return list(dict.fromkeys(self.categories))

    @property
    def class_indices(self):
        """int array (N,): the class index of each video."""
        index = {name: k for k, name in enumerate(self.class_names)}
        return np.array([index[name] for name in self.categories], dtype=np.int64)

    def segment_labels(self, segments, num_classes):
        """One-hot per-segment labels (N, segments, num_classes), float32.

        The background class is `num_classes - 1`.

        Example:

        >>> a = Annotations(["Bark", "Cat"], ["x", "y"], np.array([0, 2]), np.array([2, 3]))
        >>> a.segment_labels(4, 3).argmax(-1).tolist()
        [[0, 0, 2, 2], [2, 2, 1, 2]]
        """
        t = np.arange(segments)[None, :]
        event = (self.starts[:, None] <= t) & (t < self.ends[:, None])
        classes = np.where(event, self.class_indices[:, None], num_classes - 1)
        return np.eye(num_classes, dtype=np.float32)[classes]


def read_annotations(path, segments=None):
    """Parses `Annotations.txt`; raises a `ValueError` naming the file and line
    of any malformed line.

    Args:
        path: the annotation file.
        segments: when given, each interval must satisfy
            `0 <= start <= end <= segments`.

    Example:

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "Annotations.txt"
    >>> _ = path.write_text("Bark&abc&good&2&5\\n")
    >>> read_annotations(path).class_names
    ['Bark']
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Annotation file not found: expected {path}.")
    lines = path.read_text(encoding="utf-8").splitlines()
    if lines and lines[0].split("&")[0] == HEADER_FIRST_FIELD:
        lines = lines[1:]
        first_line = 2
    else:
        first_line = 1
    categories, video_ids, starts, ends = [], [], [], []
    for number, line in enumerate(lines, start=first_line):
        if not line.strip():
            continue
        fields = line.split("&")
        try:
            if len(fields) != 5:
                raise ValueError(f"{len(fields)} '&'-separated fields")
            start, end = int(fields[3]), int(fields[4])
        except ValueError as error:
            raise ValueError(
                f"{path}, line {number}: expected 'Category&YouTubeID&Quality&start&end' "
                f"with integer start and end; found {line!r} ({error})."
            ) from None
        upper = segments if segments is not None else end
        # start == end (no event segment) occurs once in AVE's release (line 27).
        if not 0 <= start <= end <= upper:
            raise ValueError(
                f"{path}, line {number}: expected 0 <= start <= end"
                + (f" <= {segments}" if segments is not None else "")
                + f"; found start={start}, end={end}."
            )
        categories.append(fields[0])
        video_ids.append(fields[1])
        starts.append(start)
        ends.append(end)
    if not categories:
        raise ValueError(f"{path}: expected one annotation line per video; found none.")
    return Annotations(
        categories, video_ids, np.array(starts, np.int64), np.array(ends, np.int64)
    )
