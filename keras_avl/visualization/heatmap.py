"""The lambda heatmap over a frame (the paper's Fig. 6): the 7 x 7 spatial
attention of eq. 5 upsampled bilinearly to the frame and blended in colour."""

import numpy as np


def upsample_attention(attention, size):
    """A (h, w) attention map scaled by its maximum and resized bilinearly.

    Args:
        attention: (h, w) non-negative weights (lambda of one segment).
        size: (height, width) of the frame.

    Returns:
        float32 (height, width) in [0, 1]; 1 on the most attended region.

    Example:

    >>> upsample_attention(np.eye(2), (4, 6)).shape
    (4, 6)
    """
    from PIL import Image

    attention = np.asarray(attention, np.float32)
    peak = float(attention.max())
    scaled = attention / peak if peak > 0 else np.zeros_like(attention)
    height, width = size
    resized = Image.fromarray(scaled).resize((width, height), Image.BILINEAR)
    return np.clip(np.asarray(resized, np.float32), 0.0, 1.0)


def heatmap_colors(attention, size, colormap="jet"):
    """RGB float32 (height, width, 3) in [0, 255]: the colour-mapped
    `upsample_attention`."""
    import matplotlib

    return matplotlib.colormaps[colormap](upsample_attention(attention, size))[..., :3].astype(
        np.float32
    ) * 255.0


def blend(frame, colors, alpha=0.5):
    """`frame` (uint8 RGB) blended with `colors` (float RGB): uint8."""
    mixed = (1.0 - alpha) * np.asarray(frame, np.float32) + alpha * colors
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def overlay_heatmap(frame, attention, alpha=0.5, colormap="jet"):
    """`frame` with the attention heatmap blended over it.

    Args:
        frame: uint8 (height, width, 3) RGB.
        attention: (h, w) lambda of the frame's segment.
        alpha: the heatmap's opacity.
        colormap: a matplotlib colormap name.

    Returns:
        uint8 (height, width, 3).

    Example:

    >>> frame = np.zeros((32, 48, 3), np.uint8)
    >>> overlay_heatmap(frame, np.random.rand(7, 7)).shape
    (32, 48, 3)
    """
    return blend(frame, heatmap_colors(attention, frame.shape[:2], colormap), alpha)
