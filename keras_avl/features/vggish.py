"""VGGish (Hershey et al., ICASSP 2017) in Keras, and a loader for its
officially released weights.

The network of the AudioSet release (`vggish_slim.py`): a (96, 64, 1) log-mel
example -> conv 64 -> pool -> conv 128 -> pool -> 2 x conv 256 -> pool ->
2 x conv 512 -> pool (3x3 convolutions, 2x2 max-pools, SAME padding, ReLU)
-> flatten -> FC 4096 -> FC 4096 -> FC 128, the embedding.

The weights are read from the TF-Slim checkpoint `vggish_model.ckpt` of the
release: https://storage.googleapis.com/audioset/vggish_model.ckpt (linked
from tensorflow/models, research/audioset/vggish/README.md), or from a Keras
`.weights.h5` file saved from `build_vggish()`.

The embedding layer's ReLU: the 2017 code kept it, the current code drops it.
AVE's released audio features are non-negative with about 65 % exact zeros
(measured on `audio_feature_noisy.h5`), i.e. they were taken after the ReLU,
so `embedding_relu=True` is the default here.
"""

from pathlib import Path

# (Keras layer name, checkpoint scope, filters or units) in network order.
CONV_LAYERS = (
    ("conv1", "vggish/conv1", 64),
    ("conv2", "vggish/conv2", 128),
    ("conv3_1", "vggish/conv3/conv3_1", 256),
    ("conv3_2", "vggish/conv3/conv3_2", 256),
    ("conv4_1", "vggish/conv4/conv4_1", 512),
    ("conv4_2", "vggish/conv4/conv4_2", 512),
)
DENSE_LAYERS = (
    ("fc1_1", "vggish/fc1/fc1_1", 4096),
    ("fc1_2", "vggish/fc1/fc1_2", 4096),
    ("fc2", "vggish/fc2", 128),
)
# A max-pool follows these convolutions.
POOLED = ("conv1", "conv2", "conv3_2", "conv4_2")
EMBEDDING_SIZE = 128


def build_vggish(embedding_relu=True, weights=None):
    """The VGGish network: (B, 96, 64) log-mel examples -> (B, 128) embeddings.

    Args:
        embedding_relu: apply ReLU to the 128-d embedding (as AVE's features).
        weights: None (random), or a path to `vggish_model.ckpt` or to a
            `.weights.h5` file (see `load_vggish_weights`).

    Example:

    >>> import numpy as np
    >>> model = build_vggish()
    >>> model.predict(np.zeros((2, 96, 64)), verbose=0).shape
    (2, 128)
    """
    import keras

    inputs = keras.Input((96, 64), name="log_mel")
    x = keras.layers.Reshape((96, 64, 1))(inputs)
    for name, _, filters in CONV_LAYERS:
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=name)(x)
        if name in POOLED:
            x = keras.layers.MaxPooling2D(2, padding="same", name=f"pool_{name}")(x)
    x = keras.layers.Flatten()(x)
    for name, _, units in DENSE_LAYERS:
        last = name == DENSE_LAYERS[-1][0]
        activation = "relu" if (embedding_relu or not last) else None
        x = keras.layers.Dense(units, activation=activation, name=name)(x)
    model = keras.Model(inputs, x, name="vggish")
    if weights is not None:
        load_vggish_weights(model, weights)
    return model


def load_vggish_weights(model, path):
    """Loads released VGGish weights into `model` (from `build_vggish`).

    Args:
        model: a model built by `build_vggish`.
        path: `vggish_model.ckpt` (the TF-Slim checkpoint of the AudioSet
            release, read with `tf.train.load_checkpoint`), or a Keras
            `.weights.h5` file.

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: the file is not a checkpoint, or holds weights of another
            architecture (a variable is missing or has another shape).

    Example:

    >>> load_vggish_weights(build_vggish(), "vggish_model.ckpt")  # doctest: +SKIP
    """
    path = Path(path)
    if not (path.exists() or Path(f"{path}.index").exists()):
        raise FileNotFoundError(
            f"VGGish weights file {path} does not exist; expected vggish_model.ckpt "
            "from https://storage.googleapis.com/audioset/vggish_model.ckpt or a "
            ".weights.h5 file."
        )
    if path.name.endswith(".weights.h5"):
        try:
            model.load_weights(path)
        except ValueError as error:
            raise ValueError(
                f"{path} does not hold VGGish weights (expected the weights of "
                f"keras_avl.features.build_vggish): {error}"
            ) from error
        return
    import tensorflow as tf

    try:
        reader = tf.train.load_checkpoint(str(path))
    except Exception as error:  # TF raises several types for unreadable files.
        raise ValueError(
            f"{path} is not a readable TensorFlow checkpoint (expected "
            f"vggish_model.ckpt of the AudioSet release): {error}"
        ) from error
    shapes = reader.get_variable_to_shape_map()
    for name, scope, _ in CONV_LAYERS + DENSE_LAYERS:
        layer = model.get_layer(name)
        values = []
        for variable, part in ((f"{scope}/weights", layer.kernel), (f"{scope}/biases", layer.bias)):
            if variable not in shapes:
                raise ValueError(
                    f"{path} is not a VGGish checkpoint: variable {variable!r} is missing "
                    f"(found {len(shapes)} variables, e.g. {sorted(shapes)[:3]})."
                )
            if tuple(shapes[variable]) != tuple(part.shape):
                raise ValueError(
                    f"{path} holds weights of another architecture: {variable} has shape "
                    f"{tuple(shapes[variable])}, VGGish expects {tuple(part.shape)}."
                )
            values.append(reader.get_tensor(variable))
        layer.set_weights(values)
