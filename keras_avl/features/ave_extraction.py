"""`extract_dataset`: a collection of videos -> a folder in the AVE layout.

Output folder (SPEC §5, read by `keras_avl.data.load_ave`):

| file | content |
|---|---|
| visual_feature.h5 | `avadataset` (N, T, 7, 7, 512) float32, VGG-19 pool5 |
| audio_feature.h5 | `avadataset` (N, T, 128) float32, VGGish |
| segment_mask.h5 | `avadataset` (N, T) float32, 1 = real segment, 0 = padding |
| video_ids.txt | N lines: the id of row i (file stem, `stem@START` for windows) |
| train_order.h5 / val_order.h5 / test_order.h5 | `order` int64 rows, a seeded split |
| Annotations.txt | with `annotations=`: the user's lines in row order |
| skipped.tsv | `path<TAB>reason<TAB>detail` of every video left out |
| extraction.json | the settings; a resumed run must use the same ones |
| parts/ | one finished file per video (`ID.npz`, or `ID.skipped`) |

Killed runs resume: a video with a file in `parts/` is not decoded again.
With `shard=(i, n)` a run handles every n-th video of the sorted collection
from the i-th on; the run that finds every video of the collection done
(in `parts/`) writes the dataset files, each atomically.
"""

import contextlib
import dataclasses
import io
import json
import queue
import sys
import threading
import time
from pathlib import Path

import numpy as np

from keras_avl.atomic import atomic_path, atomic_write_text
from keras_avl.data.annotations import ANNOTATIONS_FILE, read_annotations
from keras_avl.data.ave_dataset import (
    AUDIO_FILE,
    FEATURE_KEY,
    MASK_FILE,
    ORDER_KEY,
    SPLITS,
    VISUAL_FILE,
    order_file,
)
from keras_avl.features.decoding import VIDEO_SUFFIXES, UnusableVideoError, read_clips

# keras-avl's additions to the release's files (SPEC §5; MASK_FILE too).
VIDEO_IDS_FILE = "video_ids.txt"
SKIPPED_FILE = "skipped.tsv"
SETTINGS_FILE = "extraction.json"
PARTS_DIR = "parts"
# Settings that `extraction.json` files written before them lack, with the
# value those extractions used.
ADDED_SETTINGS = {"precision": "float32"}


@dataclasses.dataclass
class ExtractionSettings:
    """What a feature folder was extracted with (stored in `extraction.json`).

    Args:
        segments: T, segments per clip.
        frames_per_segment: k, frames averaged per segment (AVE: 16).
        start: the first second used of every video.
        windows: cut long videos into consecutive T-second windows.
        min_segments: fewest valid segments a clip needs.
        visual_weights: `"imagenet"`, a VGG-19 weights file or `"random"`.
        vggish_weights: `vggish_model.ckpt`, a `.weights.h5` file or `"random"`
            (required by `FeatureExtractor`).
        embedding_relu: ReLU on the VGGish embedding.
        precision: the backbones' compute dtype, `"float32"`, `"bfloat16"`
            or `"float16"` (`keras_avl.features.extractor.check_precision`);
            folders written before this setting existed were float32.
    """

    segments: int = 10
    frames_per_segment: int = 16
    start: int = 0
    windows: bool = False
    min_segments: int = 1
    visual_weights: str = "imagenet"
    vggish_weights: str = None
    embedding_relu: bool = True
    precision: str = "float32"

    def to_dict(self):
        return {key: str(value) if isinstance(value, Path) else value
                for key, value in dataclasses.asdict(self).items()}


@dataclasses.dataclass
class ExtractionReport:
    """What a call of `extract_dataset` did.

    Args:
        extracted: ids of the videos extracted by this call.
        resumed: ids of this shard's videos already done before the call.
        skipped: `(path, reason)` of the videos this call left out.
        pending: videos of other shards not done yet (0 once assembled).
        assembled: whether the dataset files were written.
    """

    extracted: list
    resumed: list
    skipped: list
    pending: int
    assembled: bool


def parse_shard(text):
    """`"I/N"` -> (I, N) with 0 <= I < N; raises a ValueError naming `--shard`.

    Example:

    >>> parse_shard("2/8")
    (2, 8)
    """
    try:
        index, count = (int(part) for part in str(text).split("/"))
    except ValueError:
        index = count = None
    if count is None or count < 1 or not 0 <= index < count:
        raise ValueError(
            f"`shard` must be 'I/N' with 0 <= I < N (e.g. 0/4 ... 3/4); received {text!r}."
        )
    return index, count


def find_videos(inputs):
    """The video files named by `inputs` (files, or folders scanned for the
    suffixes in `VIDEO_SUFFIXES`), sorted by id (the file stem).

    Raises:
        FileNotFoundError: an input that does not exist.
        ValueError: two videos with the same stem, or no video at all.
    """
    videos = {}
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            found = [p for p in sorted(item.iterdir()) if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES]
        elif item.is_file():
            found = [item]
        else:
            raise FileNotFoundError(f"Input {item} does not exist: expected a video file or a folder of videos.")
        for path in found:
            if path.stem in videos and videos[path.stem] != path:
                raise ValueError(
                    f"Two videos share the id {path.stem!r}: {videos[path.stem]} and {path}; "
                    "ids (file stems) must be unique."
                )
            videos[path.stem] = path
    if not videos:
        raise ValueError(f"No video found in {[str(i) for i in inputs]} (suffixes {VIDEO_SUFFIXES}).")
    return [videos[key] for key in sorted(videos)]


def extract_dataset(
    inputs,
    out,
    settings=None,
    shard=(0, 1),
    annotations=None,
    split=(0.8, 0.1, 0.1),
    seed=0,
    extractor=None,
    progress=True,
    batch_size=None,
    prefetch=2,
):
    """Extracts AVE features of the videos in `inputs` into the folder `out`.

    Args:
        inputs: video files and/or folders of videos.
        out: the output folder (see the module docstring for its files).
        settings: an `ExtractionSettings`.
        shard: (I, N): handle the I-th of N interleaved shards.
        annotations: an optional AVE-style `Annotations.txt` holding a line for
            every video id; copied in row order, so that labels can be read.
        split: fractions of rows in the train / val / test order files.
        seed: the seed of the split.
        extractor: a `FeatureExtractor` to reuse (else built from `settings`).
        progress: show a progress line (videos done, rate, ETA) on stderr.
        batch_size: frames per VGG-19 forward pass, taken from several
            segments and videos; None sizes it to the machine
            (`keras_avl.features.extractor.default_batch_frames`).
        prefetch: videos decoded ahead by a background thread while the
            backbones run; 0 decodes in the calling thread, in turn with
            the backbones (the same features, bit for bit).

    Returns:
        An `ExtractionReport`.

    Example:

    >>> report = extract_dataset(["videos/"], "ave_features",  # doctest: +SKIP
    ...     ExtractionSettings(vggish_weights="vggish_model.ckpt"))
    >>> report.assembled  # doctest: +SKIP
    True
    """
    settings = settings or ExtractionSettings()
    out = Path(out)
    videos = find_videos(inputs)
    index, count = parse_shard(f"{shard[0]}/{shard[1]}")
    annotation_lines = _annotation_lines(annotations, videos, settings)
    _check_split(split)
    from keras_avl.validation import check_non_negative_int

    check_non_negative_int("prefetch", prefetch)
    if extractor is None:
        from keras_avl.features.extractor import FeatureExtractor

        extractor = FeatureExtractor(
            settings.visual_weights, settings.vggish_weights, settings.embedding_relu, batch_size,
            precision=settings.precision,
        )
    elif getattr(extractor, "precision", settings.precision) != settings.precision:
        raise ValueError(
            f"The extractor computes in {extractor.precision}, the settings say "
            f"precision={settings.precision!r}: build it with the settings' precision."
        )
    parts = out / PARTS_DIR
    _check_settings(out, settings)
    parts.mkdir(parents=True, exist_ok=True)
    mine = videos[index::count]
    report = ExtractionReport([], [], [], 0, False)
    todo = []
    for path in mine:
        if _part(parts, path, ".npz").exists() or _part(parts, path, ".skipped").exists():
            report.resumed.append(path.stem)
        else:
            todo.append(path)
    line = _Progress(len(todo), len(report.resumed)) if progress else None

    with _decoded_videos(todo, settings, prefetch) as decoded:
        # Unusable videos go through the stream without frames, so that every
        # video's file in parts/ is written in order.
        items = (((path, error), clips or []) for path, clips, error in decoded)
        for (path, error), clips, features in extractor.stream(items):
            if error is None:
                _write_part(parts, path, clips, features)
                report.extracted.append(path.stem)
            else:
                if line is not None:
                    line.clear()
                print(f"skipped {error}", file=sys.stderr)
                _write_skip(parts, path, error.reason, str(error))
                report.skipped.append((str(path), error.reason))
            if line is not None:
                line.update(extracted=error is None, skipped=error is not None)
    if line is not None:
        line.finish()
    report.pending = sum(
        not (_part(parts, p, ".npz").exists() or _part(parts, p, ".skipped").exists())
        for p in videos
    )
    if report.pending == 0:
        report.assembled = assemble_dataset(out, videos, annotation_lines, split, seed)
    return report


def _decode(path, settings):
    """(path, clips, None), or (path, None, error) for an unusable video."""
    try:
        clips = list(read_clips(
            path, settings.segments, settings.frames_per_segment, start=settings.start,
            windows=settings.windows, min_segments=settings.min_segments,
        ))
    except UnusableVideoError as error:
        return path, None, error
    return path, clips, None


@contextlib.contextmanager
def _decoded_videos(paths, settings, prefetch):
    """Yields an iterator of `_decode(path)` over `paths` in order: decoded
    by a background thread at most `prefetch` videos ahead (PyAV and
    FFmpeg's scaler release the GIL), or in the caller's thread (0)."""
    if prefetch == 0 or not paths:
        yield (_decode(path, settings) for path in paths)
        return
    ready = queue.Queue(maxsize=prefetch)
    stop = threading.Event()
    done = object()

    def put(item):
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work():
        try:
            for path in paths:
                if not put(("ok", _decode(path, settings))):
                    return
        except BaseException as error:  # handed to the caller, raised there
            put(("error", error))
            return
        put(("ok", done))

    def results():
        while True:
            kind, item = ready.get()
            if kind == "error":
                raise item
            if item is done:
                return
            yield item

    worker = threading.Thread(target=work, name="keras-avl-decode", daemon=True)
    worker.start()
    try:
        yield results()
    finally:
        stop.set()
        worker.join(timeout=10)


class _Progress:
    """One progress line on stderr: videos done of this run's, skipped,
    resumed, the rate over this run's videos and the ETA."""

    def __init__(self, total, resumed, stream=None):
        self.total, self.resumed = total, resumed
        self.extracted = self.skipped = 0
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.started = self.last = time.monotonic()
        self.width = 0
        self.show(force=True)

    def update(self, extracted=0, skipped=0):
        self.extracted += extracted
        self.skipped += skipped
        self.show()

    def text(self, now=None):
        done = self.extracted + self.skipped
        elapsed = (time.monotonic() if now is None else now) - self.started
        rate = done / elapsed if done and elapsed > 0 else None
        eta = (self.total - done) / rate if rate else None
        return (f"extract: {done}/{self.total} videos ({self.skipped} skipped"
                f"{f', {self.resumed} done before' if self.resumed else ''})"
                f"{f', {rate:.3g} videos/s' if rate else ''}, elapsed {_duration(elapsed)}"
                f"{f', ETA {_duration(eta)}' if eta is not None else ''}")

    def show(self, force=False):
        now = time.monotonic()
        # Not a terminal (a log file): a line a minute at most, and the last.
        if not (self.tty or force or now - self.last >= 60
                or self.extracted + self.skipped == self.total):
            return
        self.last = now
        text = self.text(now)
        if self.tty:
            self.stream.write("\r" + text.ljust(self.width))
            self.width = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def clear(self):
        """Ends the line, so that a message can be printed under it."""
        if self.tty and self.width:
            self.stream.write("\n")
            self.width = 0

    def finish(self):
        if self.tty and self.width:
            self.stream.write("\n")
            self.stream.flush()


def _duration(seconds):
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def _part(parts, path, suffix):
    return parts / f"{path.stem}{suffix}"


def _write_skip(parts, path, reason, message):
    atomic_write_text(_part(parts, path, ".skipped"), f"{path}\t{reason}\t{message}\n")


def _write_part(parts, path, clips, features):
    """Writes `parts/ID.npz`; features: `(visual, audio)` per clip, or a
    `FeatureExtractor` to compute them."""
    if callable(features):
        features = [features(clip) for clip in clips]
    visual, audio = zip(*features)
    buffer = io.BytesIO()
    np.savez(
        buffer,
        ids=np.array([clip.video_id for clip in clips]),
        visual=np.stack(visual),
        audio=np.stack(audio),
        mask=np.stack([clip.mask for clip in clips]),
    )
    with atomic_path(_part(parts, path, ".npz")) as tmp:
        tmp.write_bytes(buffer.getvalue())


def _check_settings(out, settings):
    """Writes `extraction.json`, or checks that a resumed run matches it."""
    path = out / SETTINGS_FILE
    wanted = settings.to_dict()
    if path.is_file():
        found = json.loads(path.read_text(encoding="utf-8"))
        # Settings added later: older folders were extracted with their defaults.
        found = {**{k: v for k, v in ADDED_SETTINGS.items() if k in wanted}, **found}
        if found != wanted:
            changed = sorted(k for k in set(found) | set(wanted) if found.get(k) != wanted.get(k))
            raise ValueError(
                f"{out} was extracted with other settings ({path}): {changed} differ "
                f"(found {({k: found.get(k) for k in changed})}, requested "
                f"{({k: wanted.get(k) for k in changed})}); use another --out or the same settings."
            )
        return
    atomic_write_text(path, json.dumps(wanted, indent=2) + "\n")


def _check_split(split):
    if len(split) != 3 or any(f < 0 for f in split) or abs(sum(split) - 1) > 1e-6:
        raise ValueError(
            f"`split` must be three fractions >= 0 (train, val, test) summing to 1; received {split!r}."
        )


def _annotation_lines(annotations, videos, settings):
    """id -> the user's annotation line, checked to cover every video."""
    if annotations is None:
        return None
    if settings.windows:
        raise ValueError("`annotations` cannot be used with `windows`: a window has no annotation line.")
    parsed = read_annotations(annotations, settings.segments)
    lines = [line for line in Path(annotations).read_text(encoding="utf-8").splitlines() if line.strip()]
    lines = lines[len(lines) - len(parsed.video_ids):]  # drops the header line if any
    by_id = dict(zip(parsed.video_ids, lines))
    missing = [p.stem for p in videos if p.stem not in by_id]
    if missing:
        raise ValueError(
            f"{annotations} has no line for the video id(s) {missing[:5]}"
            f"{' ...' if len(missing) > 5 else ''}; expected one 'Category&ID&Quality&start&end' "
            "line per video (ID = the file stem)."
        )
    return by_id


def split_orders(rows, split, seed):
    """Seeded (train, val, test) row indices; every split gets a row when
    rows >= 3 (fewer rows: every split holds all rows)."""
    if rows < 3:
        return [np.arange(rows, dtype=np.int64)] * 3
    order = np.random.default_rng(seed).permutation(rows).astype(np.int64)
    val = max(1, int(round(split[1] * rows)))
    test = max(1, int(round(split[2] * rows)))
    train = max(1, rows - val - test)
    return [np.sort(order[:train]), np.sort(order[train:train + val]), np.sort(order[train + val:])]


def assemble_dataset(out, videos, annotation_lines=None, split=(0.8, 0.1, 0.1), seed=0):
    """Writes the dataset files from `out/parts/` for `videos` (all done).

    All files are written to temporary names first and renamed together at
    the end, so that the folder never mixes two assemblies. Returns False
    (writing only `skipped.tsv`) when no video gave a clip.
    """
    import h5py

    parts = out / PARTS_DIR
    finished = [p for p in videos if _part(parts, p, ".npz").exists()]
    skipped = [_part(parts, p, ".skipped").read_text(encoding="utf-8") for p in videos
               if not _part(parts, p, ".npz").exists()]
    ids = []  # one per row, in part order
    for path in finished:
        with np.load(_part(parts, path, ".npz")) as part:
            ids += [str(video_id) for video_id in part["ids"]]
    with contextlib.ExitStack() as stack:
        def target(name):
            return stack.enter_context(atomic_path(out / name))

        atomic_write = {SKIPPED_FILE: "".join(skipped)}
        if ids:
            with np.load(_part(parts, finished[0], ".npz")) as part:
                visual_shape, audio_shape = part["visual"].shape[1:], part["audio"].shape[1:]
            n = len(ids)
            with h5py.File(target(VISUAL_FILE), "w") as visual, \
                    h5py.File(target(AUDIO_FILE), "w") as audio, \
                    h5py.File(target(MASK_FILE), "w") as mask:
                visual_set = visual.create_dataset(FEATURE_KEY, (n,) + visual_shape, "float32")
                audio_set = audio.create_dataset(FEATURE_KEY, (n,) + audio_shape, "float32")
                mask_set = mask.create_dataset(FEATURE_KEY, (n, visual_shape[0]), "float32")
                row = 0
                for path in finished:
                    with np.load(_part(parts, path, ".npz")) as part:
                        size = len(part["ids"])
                        visual_set[row:row + size] = part["visual"]
                        audio_set[row:row + size] = part["audio"]
                        mask_set[row:row + size] = part["mask"]
                    row += size
            for name, order in zip(SPLITS, split_orders(n, split, seed)):
                with h5py.File(target(order_file(name)), "w") as handle:
                    handle.create_dataset(ORDER_KEY, data=order)
            atomic_write[VIDEO_IDS_FILE] = "".join(f"{video_id}\n" for video_id in ids)
            if annotation_lines is not None:
                atomic_write[ANNOTATIONS_FILE] = "".join(
                    f"{annotation_lines[video_id]}\n" for video_id in ids
                )
        for name, text in atomic_write.items():
            target(name).write_text(text, encoding="utf-8")
    return bool(ids)
