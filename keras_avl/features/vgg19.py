"""VGG-19 pool5 features of video frames, averaged per segment as AVE did.

`keras.applications.VGG19(include_top=False)` on 224x224 RGB frames ends at
block5_pool, AVE's pool5 (7, 7, 512); the features of the k frames sampled in
a one-second segment are averaged (SPEC §6).
"""

from pathlib import Path

import numpy as np

POOL5_SHAPE = (7, 7, 512)


def build_vgg19_pool5(weights="imagenet"):
    """VGG-19 without top on (224, 224, 3) RGB in [0, 255] -> (7, 7, 512).

    The ImageNet preprocessing (`keras.applications.vgg19.preprocess_input`)
    is part of the model, so it takes raw uint8-range frames.

    Args:
        weights: `"imagenet"` (Keras downloads them once), a path to a Keras
            VGG-19 no-top weights file
            (`vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`), or None
            for random weights.

    Raises:
        FileNotFoundError: a weights path that does not exist.
        ValueError: a weights file of another architecture.

    Example:

    >>> import numpy as np
    >>> model = build_vgg19_pool5(weights=None)
    >>> model.predict(np.zeros((1, 224, 224, 3)), verbose=0).shape
    (1, 7, 7, 512)
    """
    import keras

    if weights not in (None, "imagenet") and not Path(weights).is_file():
        raise FileNotFoundError(
            f"VGG-19 weights file {weights} does not exist; expected `imagenet`, None or "
            "a Keras VGG-19 no-top weights file "
            "(vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5)."
        )
    try:
        backbone = keras.applications.VGG19(
            include_top=False, weights=weights, input_shape=(224, 224, 3)
        )
    except Exception as error:  # h5py and Keras raise several types.
        if weights in (None, "imagenet"):
            raise
        raise ValueError(
            f"{weights} does not hold VGG-19 no-top weights: {error}"
        ) from error
    frames = keras.Input((224, 224, 3), name="frames")
    pool5 = backbone(keras.applications.vgg19.preprocess_input(frames))
    return keras.Model(frames, pool5, name="vgg19_pool5")


def segment_pool5(model, frames, batch_size=32):
    """pool5 averaged over the frames of each segment.

    Args:
        model: from `build_vgg19_pool5`.
        frames: uint8 (T, k, 224, 224, 3).
        batch_size: frames per forward pass.

    Returns:
        float32 (T, 7, 7, 512).

    Example:

    >>> import numpy as np
    >>> segment_pool5(build_vgg19_pool5(None), np.zeros((2, 1, 224, 224, 3), np.uint8)).shape
    (2, 7, 7, 512)
    """
    segments, per_segment = frames.shape[:2]
    flat = frames.reshape((segments * per_segment,) + frames.shape[2:])
    features = np.concatenate(
        [
            np.asarray(model.predict_on_batch(flat[i:i + batch_size].astype(np.float32)), np.float32)
            for i in range(0, len(flat), batch_size)
        ]
    )
    return features.reshape((segments, per_segment) + POOL5_SHAPE).mean(axis=1)
