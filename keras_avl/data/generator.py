"""`generate_dataset`: a seeded synthetic dataset in the AVE release layout.

Each video has T one-second segments on an H x W grid. A video's object of
class c sits on a 1-2 x 1-2 block of the grid. A segment is an **event**
exactly when that object is both visible and audible; in the other segments it
is visible but silent, audible but off-screen, or absent. Distractors make sure
neither modality alone solves the task: a silent visible object of another
class (its own block) and an off-screen sound of a third class appear in random
segments. So the label of a segment is the one class that is both seen and
heard (else background), and the ground-truth sounding region (`regions.h5`)
is the object's block in the event segments.

The features have the statistics of the real ones (generator v2; v1 had
|N(0, 1)| visual noise in every channel of every cell and signed Gaussian
audio, see docs/reproducing_the_paper.md, "The embedded default"): both are
post-ReLU, `gain * max(pre-activation, 0)`, so non-negative with many exact
zeros and heavy tails.

- Visual (like VGG-19 pool5): per channel a bias that keeps most channels off,
  the video's scene (the same in every cell: scene channels fire everywhere),
  a texture per cell, noise, and on the object's cells, when it is visible,
  its class's pattern: heavy-tailed values on a quarter of the channels.
- Audio (like VGGish): per dimension a bias, the video's background sound,
  noise, plus the sound of each audible class. The background videos' rows
  match the real VGGish rows of AVE's background videos: ~65% exact zeros,
  mean ~0.12, RMS ~0.29 per element (norm ~3.2 at d_a = 128), cosine ~0.7 to
  the mean row.

The files are those of `keras_avl.data.load_ave` (SPEC §5), plus `regions.h5`.
Rows are generated and written block by block, so AVE's full size needs little RAM.
"""

from pathlib import Path

import h5py
import numpy as np

from keras_avl.atomic import atomic_path, atomic_write_text
from keras_avl.data.ave_dataset import (
    FEATURE_KEY,
    NOISY_FILES,
    ORDER_KEY,
    REGIONS_FILE,
    SPLITS,
    order_file,
)
from keras_avl.data.annotations import ANNOTATIONS_FILE

# Bump when the generated data change, so that cached copies are regenerated.
GENERATOR_VERSION = 2
SIZES = {
    # For tests: seconds.
    "tiny": dict(num_train=24, num_val=8, num_test=8, num_noisy=4, num_events=4,
                 visual_dim=8, audio_dim=8),
    # The embedded default: a CPU run takes minutes.
    "small": dict(num_train=480, num_val=100, num_test=100, num_noisy=40, num_events=10,
                  visual_dim=64, audio_dim=32),
    # AVE's sizes (SPEC §5): 4143 videos, 178 noisy ones, 28 events, VGG/VGGish dims.
    "full": dict(num_train=3339, num_val=402, num_test=402, num_noisy=178, num_events=28,
                 visual_dim=512, audio_dim=128),
}
# Segment states of the video's own object outside its event interval.
VISIBLE_SILENT, AUDIBLE_OFFSCREEN, ABSENT = 0, 1, 2
ROWS_PER_BLOCK = 64
# Pre-activation statistics (see `_render`), chosen so that the background
# audio rows match the real VGGish rows of AVE's background videos (65% exact
# zeros, mean 0.12, RMS 0.29 per element, cosine 0.67 to the mean row; see
# docs/reproducing_the_paper.md) and the visual cells look like VGG-19 pool5.
VISUAL_BIAS = (-0.5, 0.3)  # mean, std over channels
VISUAL_SCENE_STD = 0.4  # per video and channel, the same in every cell
VISUAL_TEXTURE_STD = 0.2  # per cell and channel, the same in every segment
OBJECT_CHANNELS = 0.25  # share of channels a class's object pattern fires on
AUDIO_BIAS = (-0.3, 0.45)
AUDIO_VIDEO_STD = 0.35  # the video's background sound
AUDIO_CLASS_STD = 0.4  # a class sound's change of the pre-activation
AUDIO_SCALE = 0.8
GAIN_SIGMA = 0.1  # log-normal gain per cell / audio row


def _box(rng, grid, avoid=None):
    """A random 1-2 x 1-2 block of the grid as a boolean (H, W) mask, not
    overlapping `avoid`."""
    height, width = grid
    while True:
        h, w = rng.integers(1, 3, size=2)
        h, w = min(h, height), min(w, width)
        top, left = rng.integers(0, height - h + 1), rng.integers(0, width - w + 1)
        mask = np.zeros(grid, bool)
        mask[top : top + h, left : left + w] = True
        if avoid is None or not (mask & avoid).any():
            return mask


def _video_plan(rng, event_class, num_events, segments, grid, has_event):
    """What is seen and heard in each segment of one video."""
    if has_event and rng.random() < 0.4:
        start, end = 0, segments
    elif has_event:
        start = int(rng.integers(0, segments))
        end = int(rng.integers(start + 1, segments + 1))
    else:
        start = end = 0
    others = rng.permutation([k for k in range(num_events) if k != event_class])
    t = np.arange(segments)
    event = (start <= t) & (t < end)
    state = rng.integers(0, 3, size=segments)
    main_box = _box(rng, grid)
    return {
        "start": start,
        "end": end,
        "event": event,
        "main_visible": event | (state == VISIBLE_SILENT),
        "main_audible": event | (state == AUDIBLE_OFFSCREEN),
        "main_box": main_box,
        "silent_class": int(others[0]),
        "silent_box": _box(rng, grid, avoid=main_box),
        "silent_visible": rng.random(segments) < 0.5,
        "offscreen_class": int(others[1 % len(others)]),
        "offscreen_audible": rng.random(segments) < 0.3,
    }


def _prototypes(rng, num_events, visual_dim, audio_dim):
    """The class patterns and the biases shared by all videos."""
    fires = rng.random((num_events, visual_dim)) < OBJECT_CHANNELS
    return {
        # Heavy-tailed, class-specific channels (exact zeros elsewhere).
        "visual": (fires * (0.5 + rng.exponential(1.0, fires.shape))).astype(np.float32),
        "visual_bias": rng.normal(*VISUAL_BIAS, visual_dim).astype(np.float32),
        "audio": rng.normal(0.0, AUDIO_CLASS_STD, (num_events, audio_dim)).astype(np.float32),
        "audio_bias": rng.normal(*AUDIO_BIAS, audio_dim).astype(np.float32),
    }


def _relu_features(rng, pre_activation, noise):
    """`gain * max(pre_activation + noise * N(0, 1), 0)` with a log-normal
    gain per row (heavy tails, as VGG/VGGish activations)."""
    shape = pre_activation.shape
    pre_activation = pre_activation + noise * rng.standard_normal(shape, np.float32)
    gain = rng.lognormal(0.0, GAIN_SIGMA, shape[:-1] + (1,)).astype(np.float32)
    return gain * np.maximum(pre_activation, 0.0)


def _render(rng, plans, classes, prototypes, segments, grid, noise):
    """Visual (n, T, H, W, d_v) and audio (n, T, d_a) float32 of some videos
    (the pre-activations of the module docstring, then `_relu_features`)."""
    n, (height, width) = len(plans), grid
    d_v, d_a = prototypes["visual"].shape[1], prototypes["audio"].shape[1]
    scene = VISUAL_SCENE_STD * rng.standard_normal((n, 1, 1, 1, d_v), np.float32)
    texture = VISUAL_TEXTURE_STD * rng.standard_normal((n, 1, height, width, d_v), np.float32)
    visual = np.broadcast_to(prototypes["visual_bias"] + scene + texture,
                             (n, segments, height, width, d_v)).copy()
    background_sound = AUDIO_VIDEO_STD * rng.standard_normal((n, 1, d_a), np.float32)
    audio = np.broadcast_to(prototypes["audio_bias"] + background_sound,
                            (n, segments, d_a)).copy()
    for i, plan in enumerate(plans):
        seen = [
            (classes[i], plan["main_box"], plan["main_visible"]),
            (plan["silent_class"], plan["silent_box"], plan["silent_visible"]),
        ]
        for k, box, visible in seen:
            # Each video's instance of a class differs a little from the
            # prototype, on the class's channels only.
            pattern = prototypes["visual"][k]
            instance = np.maximum(pattern + 0.25 * rng.standard_normal(d_v, np.float32), 0)
            instance *= pattern > 0
            amplitude = rng.uniform(0.5, 1.5, size=segments).astype(np.float32) * visible
            visual[i][:, box] += amplitude[:, None, None] * instance
        heard = [
            (classes[i], plan["main_audible"]),
            (plan["offscreen_class"], plan["offscreen_audible"]),
        ]
        for k, audible in heard:
            amplitude = rng.uniform(0.5, 1.5, size=segments).astype(np.float32) * audible
            audio[i] += amplitude[:, None] * prototypes["audio"][k]
    return _relu_features(rng, visual, noise), AUDIO_SCALE * _relu_features(rng, audio, noise)


def _write_h5(path, key, array):
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as handle:
            handle.create_dataset(key, data=array)


def _write_features(root, stem, plans, classes, prototypes, segments, grid, noise, seed):
    """Writes `<stem>visual/audio` files block by block (bounded RAM)."""
    d_v, d_a = prototypes["visual"].shape[1], prototypes["audio"].shape[1]
    n = len(plans)
    visual_name, audio_name = f"visual_feature{stem}.h5", f"audio_feature{stem}.h5"
    with atomic_path(root / visual_name) as visual_tmp, atomic_path(root / audio_name) as audio_tmp:
        with h5py.File(visual_tmp, "w") as visual_file, h5py.File(audio_tmp, "w") as audio_file:
            visual = visual_file.create_dataset(FEATURE_KEY, (n, segments, *grid, d_v), np.float32)
            audio = audio_file.create_dataset(FEATURE_KEY, (n, segments, d_a), np.float32)
            for block, start in enumerate(range(0, n, ROWS_PER_BLOCK)):
                stop = min(start + ROWS_PER_BLOCK, n)
                rng = np.random.default_rng([seed, int(stem == "_noisy"), block])
                visual[start:stop], audio[start:stop] = _render(
                    rng, plans[start:stop], classes[start:stop], prototypes, segments, grid, noise
                )


def generate_dataset(
    out_dir,
    size="small",
    seed=0,
    segments=10,
    grid=(7, 7),
    noise=0.25,
    overwrite=False,
    **sizes,
):
    """Writes a synthetic dataset in the AVE layout and returns its folder.

    Args:
        out_dir: the folder to write (must not exist or be empty, unless
            `overwrite`).
        size: a preset of `SIZES`: `"tiny"` (tests), `"small"` (the embedded
            default) or `"full"` (AVE's sizes: 4143 videos, d_v=512, ~4 GB).
        seed: the random seed; the same seed gives the same files.
        segments: T.
        grid: (H, W).
        noise: the scale of the Gaussian noise added to every visual and
            audio pre-activation.
        overwrite: replace the files of a non-empty `out_dir`.
        **sizes: overrides of the preset: `num_train`, `num_val`, `num_test`,
            `num_noisy`, `num_events`, `visual_dim`, `audio_dim`.

    Example:

    >>> import tempfile
    >>> root = generate_dataset(tempfile.mkdtemp() + "/ave", size="tiny", seed=1)
    >>> sorted(p.name for p in root.iterdir())[:3]
    ['Annotations.txt', 'audio_feature.h5', 'audio_feature_noisy.h5']
    """
    if size not in SIZES:
        raise ValueError(f"`size` must be one of {tuple(SIZES)}; received size={size!r}.")
    unknown = sorted(set(sizes) - set(SIZES[size]))
    if unknown:
        raise ValueError(f"Unknown size argument(s) {unknown}; expected some of {sorted(SIZES[size])}.")
    settings = {**SIZES[size], **sizes}
    num_events = settings["num_events"]
    if num_events < 3:
        raise ValueError(f"`num_events` must be >= 3 (an event and two distractors); received {num_events}.")
    root = Path(out_dir)
    if root.exists() and any(root.iterdir()) and not overwrite:
        raise FileExistsError(f"{root} exists and is not empty; pass overwrite=True to replace it.")
    root.mkdir(parents=True, exist_ok=True)
    grid = tuple(grid)
    rng = np.random.default_rng(seed)
    split_sizes = [settings[f"num_{split}"] for split in SPLITS]
    n = sum(split_sizes)
    # Balanced classes, numbered by first appearance as AVE's Annotations.txt.
    drawn = rng.permutation(np.arange(n) % num_events)
    first_seen = list(dict.fromkeys(drawn.tolist()))
    classes = np.array([first_seen.index(k) for k in drawn])
    prototypes = _prototypes(rng, num_events, settings["visual_dim"], settings["audio_dim"])
    plans = [_video_plan(rng, k, num_events, segments, grid, True) for k in classes]
    # Background-only videos: their object is never seen and heard together.
    noisy_classes = rng.integers(0, num_events, settings["num_noisy"])
    noisy_plans = [
        _video_plan(rng, int(k), num_events, segments, grid, False) for k in noisy_classes
    ]
    _write_features(root, "", plans, classes, prototypes, segments, grid, noise, seed)

    num_classes = num_events + 1
    event = np.stack([p["event"] for p in plans])
    segment_classes = np.where(event, classes[:, None], num_events)
    one_hot = np.eye(num_classes, dtype=np.float32)
    _write_h5(root / "labels.h5", FEATURE_KEY, one_hot[segment_classes])
    _write_h5(root / "labels_closs.h5", FEATURE_KEY, event.astype(np.float32))
    _write_h5(root / "mil_labels.h5", FEATURE_KEY, one_hot[classes])
    regions = np.stack([p["main_box"][None] & p["event"][:, None, None] for p in plans])
    _write_h5(root / REGIONS_FILE, FEATURE_KEY, regions.astype(np.uint8))
    rows = rng.permutation(n)
    for split, rows_of_split in zip(SPLITS, np.split(rows, np.cumsum(split_sizes)[:-1])):
        _write_h5(root / order_file(split), ORDER_KEY, np.sort(rows_of_split).astype(np.int64))
    names = [f"synthetic event {k:02d}" for k in range(num_events)]
    atomic_write_text(
        root / ANNOTATIONS_FILE,
        "".join(
            f"{names[k]}&synthetic{i:05d}&good&{p['start']}&{p['end']}\n"
            for i, (k, p) in enumerate(zip(classes, plans))
        ),
    )
    if noisy_plans:
        _write_features(
            root, "_noisy", noisy_plans, noisy_classes, prototypes, segments, grid, noise, seed
        )
        _write_h5(root / NOISY_FILES[2], FEATURE_KEY,
                  np.tile(one_hot[num_events], (len(noisy_plans), 1)))
    return root
