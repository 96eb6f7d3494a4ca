"""Every script in `examples/` runs at its `--tiny` size, so that none rots.

Each example's `main(argv)` is run in this process on the embedded tiny
dataset. Under TensorFlow, Keras' train/predict functions run eagerly here:
tracing the model graph costs seconds per `fit` on a CPU, far more than the
few tiny steps themselves (the graph path is what the other tests exercise).
"""

import runpy
import shutil
from pathlib import Path

import numpy as np
import pytest

from keras_avl.models import AVLConfig
from tests.ave_fixtures import read_h5, write_h5

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def embedded_home(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_AVL_HOME", str(tmp_path_factory.mktemp("home")))
        # As `python examples/x.py` does: the script's folder comes first.
        patch.syspath_prepend(str(EXAMPLES))
        yield


@pytest.fixture(scope="module")
def easy_data(embedded_home, tmp_path_factory):
    """The tiny embedded dataset with audio that spells out each segment's
    class (3 x its one-hot label): learnable in a few epochs, so that a
    trained example must beat the majority class of the test split."""
    from keras_avl.data import embedded_default

    folder = Path(shutil.copytree(embedded_default("tiny"),
                                  tmp_path_factory.mktemp("easy") / "data"))
    labels = read_h5(folder / "labels.h5")
    noisy = read_h5(folder / "labels_noisy.h5")  # video labels: all background
    for name, segment_labels in (("audio_feature.h5", labels),
                                 ("audio_feature_noisy.h5",
                                  np.repeat(noisy[:, None], labels.shape[1], axis=1))):
        audio = np.zeros_like(read_h5(folder / name))
        audio[..., : labels.shape[-1]] = 3 * segment_labels
        write_h5(folder / name, audio)
    test_labels = labels[read_h5(folder / "test_order.h5", "order")].argmax(-1)
    majority_share = np.bincount(test_labels.ravel()).max() / test_labels.size
    return folder, majority_share


def run_example(name, *argv):
    main = runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name=f"example_{name}")["main"]
    return main(["--tiny", *argv])


def test_every_example_is_tested():
    tested = {"supervised_fit", "weakly_supervised", "unsupervised_attention_maps",
              "custom_model", "tuner_search"}
    assert {path.stem for path in EXAMPLES.glob("*.py")} == tested | {"example_setup"}


@pytest.mark.usefixtures("embedded_home", "tf_functions_eagerly")
class TestExamples:
    def test_supervised_fit(self, easy_data):
        folder, majority_share = easy_data
        accuracy = run_example("supervised_fit", "--data", str(folder), "--epochs", "5")
        assert accuracy > majority_share

    def test_weakly_supervised(self, easy_data):
        folder, majority_share = easy_data
        accuracy = run_example("weakly_supervised", "--data", str(folder), "--epochs", "5")
        assert accuracy > majority_share

    def test_unsupervised_attention_maps(self, tmp_path):
        attention = run_example("unsupervised_attention_maps", "--out", str(tmp_path))
        # lambda is a distribution over the regions of every segment.
        np.testing.assert_allclose(attention.sum(axis=(-2, -1)), 1.0, rtol=1e-4)
        pngs = sorted(tmp_path.glob("video*.png"))
        assert len(pngs) == 3
        assert all(path.read_bytes()[:8] == PNG_SIGNATURE for path in pngs)

    def test_custom_model(self, tmp_path):
        assert run_example("custom_model", "--out", str(tmp_path)) is True
        assert (tmp_path / "event_detector.keras").is_file()

    def test_tuner_search(self, tmp_path):
        config = run_example("tuner_search", "--out", str(tmp_path))
        assert isinstance(config, AVLConfig)
        assert config.hidden in (8, 16) and config.embed_dim == 8  # searched, and fixed
        assert len(list((tmp_path / "supervised").glob("trial_*"))) == 2
