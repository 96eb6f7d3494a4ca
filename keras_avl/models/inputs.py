"""The inputs every model of `keras_avl.models` takes: `visual` (B, T, H, W,
d_v), `audio` (B, T, d_a) and the optional `segment_mask` (B, T), 1 = real
segment, 0 = padding at the end of a clip shorter than T (and `audio_negative`,
`segment_mask_negative` for the unsupervised regime).
"""

import keras

from keras_avl.layers import SegmentMask


def model_inputs(config, negative_audio=False):
    """The named `keras.Input`s of a model: `visual`, `audio`, the optional
    `segment_mask` (and `audio_negative`, `segment_mask_negative` for the
    unsupervised regime)."""
    height, width = config.grid
    inputs = {
        "visual": keras.Input(
            (config.segments, height, width, config.visual_dim), name="visual"
        ),
        "audio": keras.Input((config.segments, config.audio_dim), name="audio"),
        "segment_mask": keras.Input((config.segments,), name="segment_mask", optional=True),
    }
    if negative_audio:
        inputs["audio_negative"] = keras.Input(
            (config.segments, config.audio_dim), name="audio_negative"
        )
        inputs["segment_mask_negative"] = keras.Input(
            (config.segments,), name="segment_mask_negative", optional=True
        )
    return inputs


def real_segments(inputs, suffix=""):
    """The boolean (B, T) mask of `segment_mask{suffix}` (all True when None)."""
    return SegmentMask(name=f"real_segments{suffix}")(
        inputs[f"audio{suffix}"], inputs[f"segment_mask{suffix}"]
    )
