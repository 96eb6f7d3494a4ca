"""VGGish in Keras and its weight loader for the released TF-Slim checkpoint
(`vggish_model.ckpt`): written here with the release's variable names from a
random-weight model (no download), loaded back, and refused when the file
holds another architecture."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")  # VGGish extraction is TensorFlow's (the .[tensorflow] extra)

from keras_avl.features import build_vggish, load_vggish_weights

# The release's variable scopes (vggish_slim.py) and the Keras layers they fill.
RELEASE_SCOPES = {
    "conv1": "vggish/conv1", "conv2": "vggish/conv2",
    "conv3_1": "vggish/conv3/conv3_1", "conv3_2": "vggish/conv3/conv3_2",
    "conv4_1": "vggish/conv4/conv4_1", "conv4_2": "vggish/conv4/conv4_2",
    "fc1_1": "vggish/fc1/fc1_1", "fc1_2": "vggish/fc1/fc1_2", "fc2": "vggish/fc2",
}


def write_v1_checkpoint(path, variables):
    """A name-based TF1 (V1 format) checkpoint, as the AudioSet release ships."""
    saver = tf.compat.v1.train.Saver(
        var_list={name: tf.Variable(value) for name, value in variables.items()},
        write_version=tf.compat.v1.train.SaverDef.V1,
    )
    saver.save(None, str(path))
    return path


@pytest.fixture(scope="module")
def source_model():
    return build_vggish()


@pytest.fixture(scope="module")
def release_checkpoint(source_model, tmp_path_factory):
    variables = {}
    for layer_name, scope in RELEASE_SCOPES.items():
        kernel, bias = source_model.get_layer(layer_name).get_weights()
        variables[f"{scope}/weights"], variables[f"{scope}/biases"] = kernel, bias
    return write_v1_checkpoint(tmp_path_factory.mktemp("vggish") / "vggish_model.ckpt", variables)


def test_architecture_size_and_shapes(source_model):
    convs = [(1, 64), (64, 128), (128, 256), (256, 256), (256, 512), (512, 512)]
    # 96 x 64 halved four times -> 6 x 4 x 512 before the fully connected layers.
    dense = [(6 * 4 * 512, 4096), (4096, 4096), (4096, 128)]
    expected = sum(9 * i * o + o for i, o in convs) + sum(i * o + o for i, o in dense)
    assert source_model.count_params() == expected
    examples = np.random.default_rng(0).normal(size=(3, 96, 64)).astype(np.float32)
    assert source_model.predict(examples, verbose=0).shape == (3, 128)


def test_release_checkpoint_loads_exactly(source_model, release_checkpoint):
    target = build_vggish(weights=release_checkpoint)
    for layer_name in RELEASE_SCOPES:
        for found, expected in zip(target.get_layer(layer_name).get_weights(),
                                   source_model.get_layer(layer_name).get_weights()):
            np.testing.assert_array_equal(found, expected)
    examples = np.random.default_rng(1).normal(size=(2, 96, 64)).astype(np.float32)
    np.testing.assert_allclose(target.predict(examples, verbose=0),
                               source_model.predict(examples, verbose=0), rtol=1e-5, atol=1e-6)


def test_embedding_relu_option(source_model):
    bare = build_vggish(embedding_relu=False)
    bare.set_weights(source_model.get_weights())
    examples = np.random.default_rng(2).normal(size=(4, 96, 64)).astype(np.float32)
    raw = bare.predict(examples, verbose=0)
    assert (raw < 0).any()
    np.testing.assert_allclose(source_model.predict(examples, verbose=0), np.maximum(raw, 0),
                               rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def blank_model():
    return build_vggish()


def test_checkpoint_of_another_architecture_is_refused(blank_model, tmp_path):
    wrong_shape = write_v1_checkpoint(tmp_path / "narrow.ckpt", {
        "vggish/conv1/weights": np.zeros((3, 3, 1, 32), np.float32),
        "vggish/conv1/biases": np.zeros(32, np.float32),
    })
    with pytest.raises(ValueError, match=r"narrow\.ckpt.*vggish/conv1/weights.*\(3, 3, 1, 32\)"):
        load_vggish_weights(blank_model, wrong_shape)
    other_net = write_v1_checkpoint(tmp_path / "resnet.ckpt",
                                    {"resnet/conv1/weights": np.zeros((7, 7, 3, 64), np.float32)})
    with pytest.raises(ValueError, match=r"resnet\.ckpt is not a VGGish checkpoint.*missing"):
        load_vggish_weights(blank_model, other_net)


def test_keras_weights_file_of_another_model_is_refused(blank_model, tmp_path):
    import keras

    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    other.save_weights(tmp_path / "other.weights.h5")
    with pytest.raises(ValueError, match="other.weights.h5"):
        load_vggish_weights(blank_model, tmp_path / "other.weights.h5")


def test_missing_or_unreadable_weights_file(blank_model, tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.ckpt"):
        load_vggish_weights(blank_model, tmp_path / "absent.ckpt")
    (tmp_path / "garbage.ckpt").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="garbage.ckpt"):
        load_vggish_weights(blank_model, tmp_path / "garbage.ckpt")
