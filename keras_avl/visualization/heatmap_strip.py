"""The PNG strip of a clip's T segments with the lambda heatmap over each
segment's middle frame, like the paper's Fig. 6."""

import numpy as np

from keras_avl.atomic import atomic_path
from keras_avl.visualization.heatmap import overlay_heatmap


def save_heatmap_strip(path, frames, attention, mask, titles, alpha=0.5, colormap="jet"):
    """Writes the strip atomically as a PNG.

    Args:
        path: the PNG file.
        frames: uint8 (T, height, width, 3), one frame per segment.
        attention: (T, h, w) lambda per segment.
        mask: (T,), 0 for padded segments (drawn empty).
        titles: T strings written above the panels.
        alpha: the heatmap's opacity.
        colormap: a matplotlib colormap name.

    Example:

    >>> import tempfile
    >>> save_heatmap_strip(tempfile.mkdtemp() + "/strip.png",
    ...     np.zeros((2, 24, 32, 3), np.uint8), np.random.rand(2, 7, 7), [1, 0], ["0s", "1s"])
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    segments = len(frames)
    height, width = frames.shape[1:3]
    figure, axes = plt.subplots(
        1, segments, figsize=(1.9 * segments, 1.9 * height / width + 0.6), squeeze=False
    )
    for axis, frame, weights, valid, title in zip(axes[0], frames, attention, mask, titles):
        if valid:
            axis.imshow(overlay_heatmap(frame, weights, alpha, colormap))
        else:
            axis.imshow(np.full_like(frame, 255))
        axis.set_title(title, fontsize=7)
        axis.axis("off")
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110)
    plt.close(figure)
