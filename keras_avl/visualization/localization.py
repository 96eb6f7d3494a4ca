"""`localize_video`: a trained run on a raw video -> per-segment events and
where the sound comes from (lambda, eq. 5), drawn like the paper's Figs. 6-8.

Writes into the output folder:

| file | content |
|---|---|
| segments.tsv | per segment: seconds, valid, predicted class, its name, probability, alpha |
| attention.npz | `spatial_attention` (T, 7, 7), `mask` (T,), and when the model has them `segment_probabilities` (T, C), `segment_attention` (T,) |
| heatmaps.png | the T middle frames with the lambda heatmap (Fig. 6) |
| overlay.mp4 | the clip with the heatmaps over its frames and its audio |

Unsupervised runs have no classifier: only maps (and alpha) are written.
"""

import dataclasses
import io
import itertools
from pathlib import Path

import numpy as np

from keras_avl.atomic import atomic_path, atomic_write_text
from keras_avl.features.decoding import iter_segment_frames, read_clips
from keras_avl.features.vgg19 import POOL5_SHAPE
from keras_avl.features.vggish import EMBEDDING_SIZE
from keras_avl.visualization.heatmap_strip import save_heatmap_strip
from keras_avl.visualization.overlay_video import write_overlay_video

SEGMENTS_FILE = "segments.tsv"
ATTENTION_FILE = "attention.npz"
STRIP_FILE = "heatmaps.png"
VIDEO_FILE = "overlay.mp4"


@dataclasses.dataclass
class Localization:
    """What `localize_video` found for a clip.

    Args:
        video_id: the clip's id.
        start: its first second.
        mask: (T,), 0 for padded segments.
        spatial_attention: (T, h, w) lambda.
        segment_probabilities: (T, C), or None (unsupervised).
        segment_attention: (T,) alpha, or None (no SWAB).
        class_names: C names, or None (indices are printed).
        out: the folder written.
    """

    video_id: str
    start: int
    mask: np.ndarray
    spatial_attention: np.ndarray
    segment_probabilities: np.ndarray
    segment_attention: np.ndarray
    class_names: list
    out: Path

    def rows(self):
        """One dict per segment: `segment`, `seconds`, `valid`, and `class`,
        `name`, `probability`, `alpha` where known."""
        rows = []
        for t, valid in enumerate(self.mask):
            row = {"segment": t, "seconds": f"{self.start + t}-{self.start + t + 1}", "valid": int(valid)}
            if self.segment_probabilities is not None:
                k = int(self.segment_probabilities[t].argmax())
                row["class"] = k
                row["name"] = self.class_names[k] if self.class_names else str(k)
                row["probability"] = round(float(self.segment_probabilities[t, k]), 4)
            if self.segment_attention is not None:
                row["alpha"] = round(float(self.segment_attention[t]), 4)
            rows.append(row)
        return rows

    def table(self):
        """`segments.tsv`'s text: a header and one tab-separated line per segment."""
        rows = self.rows()
        header = list(rows[0])
        return "".join("\t".join(str(r[key]) for key in header) + "\n" for r in [dict(zip(header, header))] + rows)


def run_class_names(run):
    """The class names of the run's dataset (`keras_avl.data.load_ave`), or
    None when the dataset is not at hand or its classes do not match C."""
    from keras_avl.data import load_ave

    if not run.data or not Path(run.data).is_dir():
        return None
    names = load_ave(run.data, check_finite_visual=False).class_names
    return names if len(names) == run.model_config.num_classes else None


def _check_run_features(run):
    config = run.model_config
    found = (tuple(config.grid), config.visual_dim, config.audio_dim)
    expected = (POOL5_SHAPE[:2], POOL5_SHAPE[2], EMBEDDING_SIZE)
    if found != expected:
        raise ValueError(
            f"Run {run.path} was trained on features with grid, visual_dim, audio_dim = {found}; "
            f"raw videos give VGG-19 pool5 / VGGish features with {expected}."
        )


def localize_video(run, video, out, extractor, frames_per_segment=16, start=0, alpha=0.5, colormap="jet"):
    """Runs the model of `run` on `video` and writes the files listed in the
    module docstring into `out`.

    Args:
        run: a run folder or a `keras_avl.runs.Run`.
        video: the video file.
        out: the output folder.
        extractor: a `keras_avl.features.FeatureExtractor` (the backbones).
        frames_per_segment: k, frames averaged per segment.
        start: the first second of the clip (T = the run's `segments`).
        alpha: the heatmap's opacity.
        colormap: a matplotlib colormap name.

    Returns:
        A `Localization`.

    Example:

    >>> from keras_avl.features import FeatureExtractor
    >>> result = localize_video("runs/paper", "dog.mp4", "dog_maps",  # doctest: +SKIP
    ...     FeatureExtractor("imagenet", "vggish_model.ckpt"))
    >>> result.rows()[0]  # doctest: +SKIP
    {'segment': 0, 'seconds': '0-1', 'valid': 1, 'class': 1, 'name': 'Dog', ...}
    """
    from keras_avl.models import inference_model
    from keras_avl.runs import Run, load_run

    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"`alpha` (the heatmap's opacity) must be in [0, 1]; received alpha={alpha!r}.")
    run = run if isinstance(run, Run) else load_run(run)
    _check_run_features(run)
    video, out = Path(video), Path(out)
    segments = run.model_config.segments
    clip = next(read_clips(video, segments, frames_per_segment, start=start))
    visual, audio = extractor(clip)
    inputs = {"visual": visual[None], "audio": audio[None], "segment_mask": clip.mask[None]}
    if run.regime == "unsupervised":
        # Only the maps are wanted; the positive audio stands in for the negative.
        inputs["audio_negative"] = audio[None]
        inputs["segment_mask_negative"] = clip.mask[None]
    outputs = inference_model(run.load_model()).predict(inputs, verbose=0)
    result = Localization(
        video_id=clip.video_id,
        start=start,
        mask=clip.mask,
        spatial_attention=np.asarray(outputs["spatial_attention"][0]),
        segment_probabilities=_first(outputs.get("segment_probabilities")),
        segment_attention=_first(outputs.get("segment_attention")),
        class_names=run_class_names(run),
        out=out,
    )
    _write(result, video, alpha=alpha, colormap=colormap)
    return result


def _first(batch):
    return None if batch is None else np.asarray(batch[0])


def _write(result, video, alpha, colormap):
    out = result.out
    atomic_write_text(out / SEGMENTS_FILE, result.table())
    arrays = {"spatial_attention": result.spatial_attention, "mask": result.mask}
    for name in ("segment_probabilities", "segment_attention"):
        if getattr(result, name) is not None:
            arrays[name] = getattr(result, name)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with atomic_path(out / ATTENTION_FILE) as tmp:
        tmp.write_bytes(buffer.getvalue())
    # The middle frame of each segment (k = 1), at the video's own size.
    segments = len(result.mask)
    frames = [f[0] for f, _ in itertools.islice(iter_segment_frames(video, 1, None, result.start), segments)]
    frames = np.stack((frames + [np.zeros_like(frames[0])] * segments)[:segments])
    titles = []
    for row in result.rows():
        title = f"{row['seconds']} s"
        if "name" in row and row["valid"]:
            title += f"\n{row['name']} {row['probability']:.2f}"
        if "alpha" in row and row["valid"]:
            title += f"\nα {row['alpha']:.2f}"
        titles.append(title)
    save_heatmap_strip(out / STRIP_FILE, frames, result.spatial_attention, result.mask, titles, alpha, colormap)
    write_overlay_video(video, out / VIDEO_FILE, result.spatial_attention, result.mask, result.start,
                        alpha, colormap)
