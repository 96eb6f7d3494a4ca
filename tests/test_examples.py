"""Every script in `examples/` runs at its `--tiny` size, so that none rots.

Each example's `main(argv)` is run in this process on the embedded tiny
dataset. Under TensorFlow, Keras' train/predict functions run eagerly here:
tracing the model graph costs seconds per `fit` on a CPU, far more than the
few tiny steps themselves (the graph path is what the other tests exercise).
"""

import runpy
from pathlib import Path

import numpy as np
import pytest

from keras_avl.models import PaperConfig

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def embedded_home(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_AVL_HOME", str(tmp_path_factory.mktemp("home")))
        # As `python examples/x.py` does: the script's folder comes first.
        patch.syspath_prepend(str(EXAMPLES))
        yield


def run_example(name, *argv):
    main = runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name=f"example_{name}")["main"]
    return main(["--tiny", *argv])


def test_every_example_is_tested():
    tested = {"supervised_fit", "weakly_supervised", "unsupervised_attention_maps",
              "custom_model", "tuner_search"}
    assert {path.stem for path in EXAMPLES.glob("*.py")} == tested | {"example_setup"}


@pytest.mark.usefixtures("embedded_home", "tf_functions_eagerly")
class TestExamples:
    @pytest.mark.parametrize("name", ["supervised_fit", "weakly_supervised"])
    def test_reported_accuracy_is_that_of_its_predictions(self, monkeypatch, name):
        """The accuracy an example reports equals the one recomputed here from
        the predictions it made and the test split's labels.h5 rows."""
        import h5py
        import keras

        from keras_avl.data import embedded_default

        predictions = []
        predict = keras.Model.predict

        def recording_predict(model, *args, **kwargs):
            predictions.append(predict(model, *args, **kwargs))
            return predictions[-1]

        monkeypatch.setattr(keras.Model, "predict", recording_predict)
        accuracy = run_example(name)
        folder = embedded_default("tiny")
        with h5py.File(folder / "test_order.h5") as order, h5py.File(folder / "labels.h5") as labels:
            truth = labels["avadataset"][()][order["order"][()]].argmax(-1)
        predicted, = predictions
        if isinstance(predicted, dict):  # the weak example's per-segment outputs
            predicted = predicted["segment_probabilities"]
        assert predicted.shape[:2] == truth.shape
        assert accuracy == pytest.approx(np.mean(predicted.argmax(-1) == truth))

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
        assert isinstance(config, PaperConfig)
        assert config.hidden in (8, 16) and config.embed_dim == 8  # searched, and fixed
        assert len(list((tmp_path / "supervised").glob("trial_*"))) == 2
