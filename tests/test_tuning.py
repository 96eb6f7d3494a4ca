"""`AVLHyperModel`, the search space checks and `keras-avl tune`."""

import json

import keras_tuner
import numpy as np
import pytest

from keras_avl.cli.main import main
from keras_avl.models import AVLConfig
from keras_avl.tuning import AVLHyperModel, default_search_space, tune, validate_search_space
from keras_avl.tuning.tune import BEST_CONFIG_FILE, REPORT_FILE, SETTINGS_FILE, TUNER_PROJECT

# Small dims so that a trial builds and trains in seconds.
TINY = dict(num_classes=3, segments=4, grid=(2, 2), visual_dim=8, audio_dim=6,
            embed_dim=8, mfb_factor=2, mfb_output_dim=4, hidden=4, swab_units=4)
FIXED = dict(embed_dim=8, mfb_output_dim=4, swab_units=4)


@pytest.mark.multibackend
@pytest.mark.parametrize(
    "space, message",
    [
        ({"hiden": [4]}, r"Unknown hyperparameter\(s\) \['hiden'\]"),
        ({"margin": [0.5]}, "only act in the unsupervised regime"),
        ({"dropout": {"min": 0.0, "max": 1.5}}, r"dropout=1.5 is out of range"),
        ({"hidden": [0, 8]}, r"hidden=0 is out of range"),
        ({"hidden": [4.5]}, "takes integers"),
        ({"hidden": {"min": 8, "max": 4}}, "needs min < max"),
        ({"learning_rate": {"min": 0.0, "max": 0.1, "sampling": "log"}},
         "out of range"),
        ({"mfb_factor": {"min": 1, "max": 4, "sampling": "cubic"}}, "sampling"),
        ({"fusion": {"min": 0, "max": 1}}, "takes a list of choices"),
        ({"fusion": ["avfb", "gated"]}, r"fusion='gated' is out of range"),
        ({"swab_units": []}, "non-empty list"),
        ({}, "non-empty dict"),
    ],
)
def test_bad_search_space_names_the_hyperparameter(space, message):
    with pytest.raises(ValueError, match=message):
        validate_search_space(space, "supervised")


@pytest.mark.multibackend
def test_default_search_space_covers_the_issue_list():
    supervised = default_search_space("supervised")
    assert set(supervised) == {
        "mfb_factor", "mfb_output_dim", "embed_dim", "hidden", "swab_units",
        "swab_pooling", "fusion", "dropout", "learning_rate",
    }
    assert set(default_search_space("unsupervised")) == set(supervised) | {"margin"}
    # Every default bound is accepted by AVLConfig.
    validate_search_space(default_search_space("unsupervised"), "unsupervised")


@pytest.mark.multibackend
def test_hypermodel_builds_the_trial_values():
    space = {
        "hidden": [4, 6],
        "swab_units": [3, 5],
        "swab_pooling": ["mean", "max"],
        "mfb_factor": [2, 3],
        "margin": {"min": 0.2, "max": 0.9, "step": 0.1},
        "learning_rate": {"min": 1e-4, "max": 1e-2, "sampling": "log"},
    }
    hypermodel = AVLHyperModel("unsupervised", AVLConfig(**TINY), space)
    hp = keras_tuner.HyperParameters()
    hp.values.update(hidden=6, swab_units=5, swab_pooling="max", mfb_factor=3,
                     margin=0.4, learning_rate=2e-3)
    config = hypermodel.config(hp)
    assert (config.hidden, config.swab_units, config.swab_pooling, config.mfb_factor) == (
        6, 5, "max", 3)
    assert config.num_classes == 3 and config.grid == (2, 2)  # from the base
    model = hypermodel.build(hp)
    # The values reach the layers and the compiled loss, not only the config.
    assert model.get_layer("visual_lstm").units == 6
    swab = model.get_layer("visual_swab")
    assert (swab.units, swab.pooling) == (5, "max")
    assert model.get_layer("avfb").get_config()["mfb_factor"] == 3
    assert model.loss.margin == pytest.approx(0.4)
    assert float(model.optimizer.learning_rate) == pytest.approx(2e-3)


@pytest.mark.usefixtures("tf_functions_eagerly")
def test_random_search_on_arrays_tries_values_of_the_space(tmp_path):
    rng = np.random.default_rng(0)
    x = {"visual": rng.random((8, 4, 2, 2, 8), dtype="float32"),
         "audio": rng.random((8, 4, 6), dtype="float32")}
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, (8, 4))]
    space = {"hidden": [3, 5, 7], "dropout": {"min": 0.0, "max": 0.4, "step": 0.2}}
    tuner = keras_tuner.RandomSearch(
        AVLHyperModel("supervised", AVLConfig(**TINY), space),
        objective=keras_tuner.Objective("val_categorical_accuracy", "max"),
        max_trials=2, seed=1, directory=str(tmp_path), project_name="arrays",
    )
    tuner.search(x, y, validation_data=(x, y), epochs=1, batch_size=4, verbose=0)
    trials = list(tuner.oracle.trials.values())
    assert [trial.status for trial in trials] == ["COMPLETED", "COMPLETED"]
    tried = [trial.hyperparameters.values for trial in trials]
    assert tried[0] != tried[1]
    for values in tried:
        assert values["hidden"] in (3, 5, 7)
        assert min(abs(values["dropout"] - v) for v in (0.0, 0.2, 0.4)) < 1e-9
    # Each score is the validation accuracy of the trial's checkpoint,
    # recomputed here from its predictions.
    for trial in trials:
        predicted = tuner.load_model(trial).predict(x, verbose=0).argmax(-1)
        assert trial.score == pytest.approx(np.mean(predicted == y.argmax(-1)), abs=1e-6)


@pytest.mark.usefixtures("tf_functions_eagerly")
def test_tune_cli_writes_the_folder_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_AVL_HOME", str(tmp_path / "home"))
    directory = tmp_path / "search"
    space_file = tmp_path / "space.json"
    space_file.write_text(json.dumps({"hidden": [3, 5], "swab_pooling": ["mean", "max"]}))
    argv = ["tune", "--regime", "weak", "--max-trials", "1", "--epochs", "1",
            "--embedded-size", "tiny", "--directory", str(directory),
            "--search-space", str(space_file), "--verbose", "0"]
    argv += [f"--set={name}={value}" for name, value in FIXED.items()]
    assert main(argv) == 0
    assert {p.name for p in directory.iterdir()} >= {
        SETTINGS_FILE, BEST_CONFIG_FILE, REPORT_FILE, TUNER_PROJECT}
    first = json.loads((directory / TUNER_PROJECT / "trial_0" / "trial.json").read_text())
    best = AVLConfig.from_json((directory / BEST_CONFIG_FILE).read_text())
    assert (best.hidden, best.swab_pooling) == (
        first["hyperparameters"]["values"]["hidden"],
        first["hyperparameters"]["values"]["swab_pooling"])
    assert (best.embed_dim, best.num_classes) == (8, 5)  # fixed, and from the data
    report = (directory / REPORT_FILE).read_text()
    assert "val_categorical_accuracy" in report and "keras-avl train --regime weak" in report

    # The same search with more trials continues: trial 0 is kept, one more runs.
    result = tune(directory, "weak", max_trials=2, epochs=1, embedded_size="tiny",
                  search_space={"hidden": [3, 5], "swab_pooling": ["mean", "max"]},
                  verbose=0, model_config=FIXED)
    assert result.trials_completed == 2
    again = json.loads((directory / TUNER_PROJECT / "trial_0" / "trial.json").read_text())
    assert again["score"] == first["score"]
    scores = [json.loads(p.read_text())["score"]
              for p in (directory / TUNER_PROJECT).glob("trial_*/trial.json")]
    assert result.best_score == max(scores)
    assert AVLConfig.from_json((directory / BEST_CONFIG_FILE).read_text()) == result.best_config

    with pytest.raises(ValueError, match="other settings .*epochs"):
        tune(directory, "weak", max_trials=2, epochs=3, embedded_size="tiny",
             search_space={"hidden": [3, 5], "swab_pooling": ["mean", "max"]},
             verbose=0, model_config=FIXED)


def test_tune_rejects_a_field_both_searched_and_fixed(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_AVL_HOME", str(tmp_path / "home"))
    with pytest.raises(ValueError, match=r"\['hidden'\] are both searched and fixed"):
        tune(tmp_path, "supervised", embedded_size="tiny", search_space={"hidden": [4]},
             model_config=dict(hidden=8))


def test_tune_cli_with_a_backend_not_installed_says_what_to_do(monkeypatch, capsys):
    import importlib.util

    if importlib.util.find_spec("torch") is not None:
        pytest.skip("torch is installed here")
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    assert main(["tune", "--regime", "supervised"]) == 2
    assert "pip install 'keras-avl[torch]'" in capsys.readouterr().err


def test_tune_cli_bad_search_space_file_is_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_AVL_HOME", str(tmp_path / "home"))
    space_file = tmp_path / "space.json"
    space_file.write_text('{"hidden": [4], "dropout": {"min": 0.0, "max": 1.5}}')
    argv = ["tune", "--regime", "supervised", "--embedded-size", "tiny",
            "--search-space", str(space_file), "--directory", str(tmp_path / "s")]
    assert main(argv) == 2
    assert "dropout=1.5 is out of range" in capsys.readouterr().err
    assert not (tmp_path / "home").exists() and not (tmp_path / "s").exists()
    assert main(argv[:-4] + ["--search-space", str(tmp_path / "missing.json")]) == 2
    assert "missing.json not found" in capsys.readouterr().err


@pytest.mark.usefixtures("tf_functions_eagerly")
def test_each_epoch_of_a_trial_draws_its_own_pass(tmp_path, monkeypatch):
    """As `train` does: epoch e of a trial trains on pass e of the train split
    (its own shuffle order), and validates on the same pairs every epoch."""
    monkeypatch.setenv("KERAS_AVL_HOME", str(tmp_path / "home"))
    drawn, default_rng = [], np.random.default_rng

    def recording_rng(seed=None):
        drawn.append(seed)
        return default_rng(seed)

    monkeypatch.setattr(np.random, "default_rng", recording_rng)
    tune(tmp_path / "search", "supervised", max_trials=1, epochs=3, embedded_size="tiny", seed=4,
         search_space={"hidden": [3]}, verbose=0, model_config=FIXED)
    # Drawn by the pipeline ([seed, pass]); the dataset's generation draws others.
    passes = [seed for seed in drawn if isinstance(seed, list) and len(seed) == 2]
    assert passes == [[4, 0], [4, 0], [4, 1], [4, 0], [4, 2], [4, 0]]
