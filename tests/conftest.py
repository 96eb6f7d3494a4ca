import keras
import numpy as np
import pytest
from keras import ops


@pytest.fixture(autouse=True)
def _seed_and_reset_policy():
    keras.utils.set_random_seed(0)
    yield
    keras.config.set_dtype_policy("float32")


def weights_by_name(layer):
    """A layer's weights as NumPy arrays, keyed by their (paper) names."""
    return {weight.name: ops.convert_to_numpy(weight) for weight in layer.weights}


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def tf_functions_eagerly():
    """Runs `tf.function`s (Keras' train step included) eagerly under TensorFlow."""
    if keras.backend.backend() != "tensorflow":
        yield
        return
    import tensorflow as tf

    tf.config.run_functions_eagerly(True)
    try:
        yield
    finally:
        tf.config.run_functions_eagerly(False)
