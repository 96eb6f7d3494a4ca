"""`save_attention_figure`: lambda heatmaps of several runs over the segments of
a few videos of a dataset with ground-truth regions, in the spirit of the
paper's Fig. 6. One row per (video, run), one column per segment; the true
sounding region is outlined on event segments and the attention peak (the
pointing game's pick, eq. 5's argmax) is marked with a cross.
"""

import numpy as np

from keras_avl.atomic import atomic_path
from keras_avl.validation import check_positive_int
from keras_avl.visualization.heatmap import heatmap_colors

PANEL_PIXELS = 70  # upsampled size of one 7 x 7 map


def figure_videos(regions, count):
    """Indices (into a split's rows) of the first `count` videos that have at
    least one event segment with a ground-truth region.

    Example:

    >>> regions = np.zeros((3, 2, 2, 2)); regions[1, 0, 0, 0] = regions[2, 1, 1, 1] = 1
    >>> figure_videos(regions, 1).tolist()
    [1]
    """
    has_region = np.asarray(regions).reshape(len(regions), -1).any(-1)
    chosen = np.flatnonzero(has_region)[:count]
    if len(chosen) < count:
        raise ValueError(
            f"Only {len(chosen)} video(s) of the split have a ground-truth region; "
            f"{count} were asked for."
        )
    return chosen


def _attention_of_run(run, data, split, rows):
    from keras_avl.data import make_dataset
    from keras_avl.models import inference_model

    model = inference_model(run.load_model())
    inputs = make_dataset(data, split, run.regime, 64, shuffle=False)
    attention = model.predict(inputs, verbose=0).get("spatial_attention")
    inputs.close()
    if attention is None:
        raise ValueError(f"Run {run.path} has no spatial attention (lambda) to draw.")
    return attention[rows]


def save_attention_figure(path, runs, videos=3, split="test", data=None, labels=None):
    """Writes the PNG of lambda heatmaps of `runs` on `videos` videos of `split`.

    Args:
        path: the PNG file (written atomically).
        runs: run folders or `keras_avl.runs.Run`s (e.g. one per regime).
        videos: how many videos (the first of `split` that have an event).
        split: `"train"`, `"val"` or `"test"`.
        data: the dataset (folder or `AVEData`) with `regions.h5`; default:
            the first run's own.
        labels: a row label per run; default: `regime (variant)`.

    Returns:
        The indices of the drawn videos in the dataset.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.patches import Rectangle

    from keras_avl.runs import Run, load_run
    from keras_avl.training.train import resolve_data

    runs = [run if isinstance(run, Run) else load_run(run) for run in runs]
    if not runs:
        raise ValueError("`runs` is empty; give at least one run folder.")
    videos = check_positive_int("videos", videos)
    if data is None:
        data, _ = resolve_data(runs[0].data, runs[0].embedded_size or "small")
    else:
        data, _ = resolve_data(data)
    if data.regions is None:
        raise ValueError(f"Dataset {data.root} has no regions.h5 (ground-truth regions).")
    order = data.orders[split]
    rows = figure_videos(data.regions[order], videos)
    labels = labels or [f"{run.regime} ({run.variant})" for run in runs]
    if len(labels) != len(runs):
        raise ValueError(f"{len(labels)} labels for {len(runs)} runs; give one label per run.")
    maps = [_attention_of_run(run, data, split, rows) for run in runs]
    regions = data.regions[order][rows] > 0
    classes = data.segment_labels[order][rows].argmax(-1)
    segments, (height, width) = data.segments, data.grid
    scale_y, scale_x = PANEL_PIXELS / height, PANEL_PIXELS / width
    figure, axes = plt.subplots(
        videos * len(runs), segments, squeeze=False,
        figsize=(0.95 * segments + 1.6, 0.95 * videos * len(runs) + 0.3),
    )
    for v in range(videos):
        for r, (label, attention) in enumerate(zip(labels, maps)):
            line = axes[v * len(runs) + r]
            for t, axis in enumerate(line):
                axis.imshow(heatmap_colors(attention[v, t], (PANEL_PIXELS, PANEL_PIXELS)) / 255)
                for y, x in zip(*np.nonzero(regions[v, t])):
                    axis.add_patch(Rectangle((x * scale_x - 0.5, y * scale_y - 0.5), scale_x,
                                             scale_y, fill=False, edgecolor="white", lw=1.2))
                y, x = np.unravel_index(np.argmax(attention[v, t]), (height, width))
                axis.plot((x + 0.5) * scale_x - 0.5, (y + 0.5) * scale_y - 0.5, "+",
                          color="black", ms=6, mew=1.5)
                axis.set_xticks([])
                axis.set_yticks([])
                if r == 0:
                    name = "bg" if classes[v, t] == data.background else f"event {classes[v, t]}"
                    axis.set_title(f"{t}s {name}", fontsize=6)
            line[0].set_ylabel(f"video {order[rows[v]]}\n{label}", fontsize=6)
    figure.tight_layout(h_pad=0.2, w_pad=0.1)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
    plt.close(figure)
    return order[rows]
