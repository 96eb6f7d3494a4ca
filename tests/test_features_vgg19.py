"""VGG-19 pool5 features: (7, 7, 512) per 224x224 frame, averaged over the
frames of each segment (AVE), random weights (no download in tests)."""

import numpy as np
import pytest

from keras_avl.features import build_vgg19_pool5, segment_pool5


@pytest.fixture(scope="module")
def vgg19():
    return build_vgg19_pool5(weights=None)


def test_pool5_is_averaged_over_each_segments_frames():
    import keras

    # A cheap stand-in with pool5's output shape: the averaging and batching
    # are under test here, not VGG-19.
    stand_in = keras.Sequential([
        keras.Input((224, 224, 3)), keras.layers.AveragePooling2D(32), keras.layers.Conv2D(512, 1),
    ])
    frames = np.random.default_rng(0).integers(0, 256, (3, 4, 224, 224, 3), dtype=np.uint8)
    found = segment_pool5(stand_in, frames, batch_size=5)
    assert found.shape == (3, 7, 7, 512) and found.dtype == np.float32
    per_frame = stand_in.predict(frames.reshape(12, 224, 224, 3).astype(np.float32), verbose=0)
    np.testing.assert_allclose(found, per_frame.reshape(3, 4, 7, 7, 512).mean(1), rtol=1e-5, atol=1e-4)


def test_vgg19_gives_pool5(vgg19):
    frames = np.random.default_rng(2).integers(0, 256, (1, 1, 224, 224, 3), dtype=np.uint8)
    found = segment_pool5(vgg19, frames)
    assert found.shape == (1, 7, 7, 512)
    assert (found >= 0).all() and found.any()  # pool5 follows a ReLU


def test_imagenet_preprocessing_is_inside_the_model(vgg19):
    import keras

    frame = np.random.default_rng(1).integers(0, 256, (1, 224, 224, 3)).astype(np.float32)
    backbone = vgg19.get_layer("vgg19")
    # Caffe preprocessing: RGB -> BGR minus the ImageNet channel means.
    bgr = frame[..., ::-1] - np.array([103.939, 116.779, 123.68], np.float32)
    np.testing.assert_allclose(vgg19.predict(frame, verbose=0),
                               keras.ops.convert_to_numpy(backbone(bgr)), rtol=1e-4, atol=1e-4)


def test_weights_file_errors(tmp_path):
    import keras

    with pytest.raises(FileNotFoundError, match="absent.h5"):
        build_vgg19_pool5(tmp_path / "absent.h5")
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    other.save_weights(tmp_path / "other.weights.h5")
    with pytest.raises(ValueError, match="other.weights.h5"):
        build_vgg19_pool5(tmp_path / "other.weights.h5")
