"""`tune`: a keras-tuner search over `AVLConfig` on AVE-layout data.

The search folder holds:

- `tune.json`: the search's settings, written before the first trial; a
  rerun in the same folder must use the same settings and continues the
  search (keras-tuner reloads its finished trials; `max_trials` may grow);
- `tuner/`: keras-tuner's own project folder (oracle state, trials);
- `best_config.json`: the best trial's `AVLConfig` as a dict (loadable with
  `AVLConfig.from_dict`);
- `report.md`: the objective, the best trials and their hyperparameters, and a
  `keras-avl train` command that trains the best config.

Trials are scored like `keras_avl.training.train` selects checkpoints: best
validation accuracy (supervised, weak) or lowest validation AVTGML loss
(unsupervised), over `epochs` epochs per trial.
"""

import dataclasses
import json
import shlex
from pathlib import Path

import keras
import keras_tuner

from keras_avl.atomic import atomic_write_text
from keras_avl.data import make_dataset, resolve_data
from keras_avl.training.callbacks import DataPass
from keras_avl.models import REGIMES, AVLConfig
from keras_avl.precision import check_mixed_precision, precision_policy
from keras_avl.training.train import MONITORS, requested_training
from keras_avl.tuning.hypermodel import AVLHyperModel
from keras_avl.tuning.search_space import default_search_space, validate_search_space
from keras_avl.validation import check_choice, check_positive_int

SETTINGS_FILE = "tune.json"
BEST_CONFIG_FILE = "best_config.json"
REPORT_FILE = "report.md"
TUNER_PROJECT = "tuner"
TUNERS = ("random", "bayesian")
DEFAULT_TUNE_EPOCHS = 5
# The `TrainingConfig` fields a search applies.
TUNE_FIELDS = ("epochs", "batch_size", "learning_rate", "seed", "mixed_precision")
REPORTED_TRIALS = 10


@dataclasses.dataclass
class TuneResult:
    """What a search found.

    Args:
        directory: the search folder.
        best_config: the best trial's `AVLConfig`.
        best_score: its objective value.
        objective: the objective's name (e.g. `"val_categorical_accuracy"`).
        trials_completed: trials finished so far (over all resumed runs).
    """

    directory: Path
    best_config: AVLConfig
    best_score: float
    objective: str
    trials_completed: int

    @property
    def best_config_path(self):
        return Path(self.directory) / BEST_CONFIG_FILE

    @property
    def report_path(self):
        return Path(self.directory) / REPORT_FILE


def _check_settings(directory, settings, overwrite):
    """Writes `tune.json`, or checks that a resumed search has the same settings."""
    path = directory / SETTINGS_FILE
    settings = json.loads(json.dumps(settings))  # tuples -> lists, as saved
    if path.is_file() and not overwrite:
        saved = json.loads(path.read_text(encoding="utf-8"))
        changed = sorted(
            key for key in set(saved) | set(settings)
            if key != "max_trials" and saved.get(key) != settings.get(key)
        )
        if changed:
            details = ", ".join(
                f"{key}: {saved.get(key)!r} -> {settings.get(key)!r}" for key in changed
            )
            raise ValueError(
                f"{directory} holds a search with other settings ({details}); "
                "resume it with the same settings, choose a new folder, or pass "
                "overwrite=True (CLI: --overwrite) to start over."
            )
    atomic_write_text(path, json.dumps(settings, indent=2, sort_keys=True) + "\n")


def _train_command(regime, data, best_config, search_space, settings):
    """The `keras-avl train` command line that trains `best_config`."""
    words = ["keras-avl", "train", "--regime", regime]
    if data is not None:
        words += ["--data", str(data)]
    else:
        words += ["--embedded-size", settings["embedded_size"]]
    words += ["--batch-size", str(settings["batch_size"]), "--seed", str(settings["seed"])]
    values = {**settings["model_overrides"],
              **{name: getattr(best_config, name) for name in search_space}}
    learning_rate = values.pop("learning_rate", settings["learning_rate"])
    words += ["--learning-rate", repr(float(learning_rate))]
    for name, value in sorted(values.items()):
        text = value if isinstance(value, str) else json.dumps(value)
        words += ["--set", f"{name}={text}"]
    return " ".join(shlex.quote(word) for word in words)


def _format(value):
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _report(regime, objective, direction, trials, completed, settings, command):
    names = sorted(settings["search_space"])
    lines = [
        f"# keras-avl tune: {regime}",
        "",
        f"Objective: `{objective}` ({direction}) on the validation split of "
        f"{settings['data'] or 'the embedded default (' + settings['embedded_size'] + ')'}; "
        f"{completed} trial(s) completed of max_trials={settings['max_trials']}; "
        f"{settings['epochs']} epoch(s) per trial, batch size {settings['batch_size']}, "
        f"seed {settings['seed']}, {settings['tuner']} search.",
        "",
        "| rank | trial | " + " | ".join([objective] + names) + " |",
        "|" + "---|" * (len(names) + 3),
    ]
    for rank, trial in enumerate(trials, 1):
        values = [_format(trial.hyperparameters.values.get(name)) for name in names]
        lines.append(
            f"| {rank} | {trial.trial_id} | " + " | ".join([_format(trial.score)] + values) + " |"
        )
    lines += [
        "",
        f"Best config: `{BEST_CONFIG_FILE}` (`AVLConfig.from_dict`). Train it:",
        "",
        f"    {command}",
        "",
    ]
    return "\n".join(lines)


def _checked_search_space(search_space, regime, model_overrides):
    """The search space (default: `default_search_space(regime)` less the
    fields fixed by `model_overrides`), checked before any data is generated
    or read."""
    if search_space is None:
        return {name: spec for name, spec in default_search_space(regime).items()
                if name not in model_overrides}
    both = sorted(set(search_space) & set(model_overrides))
    if both:
        raise ValueError(
            f"Hyperparameter(s) {both} are both searched and fixed; remove them "
            "from the search space or from the fixed fields (CLI: --set)."
        )
    validate_search_space(search_space, regime)
    return search_space


def _search(directory, hypermodel, dataset, regime, training, tuner, max_trials, overwrite,
            verbose):
    """Runs (or resumes) keras-tuner's search; returns the tuner."""
    monitor, mode = MONITORS[regime]
    tuner_class = {
        "random": keras_tuner.RandomSearch,
        "bayesian": keras_tuner.BayesianOptimization,
    }[tuner]
    seed, batch_size = training.seed, training.batch_size
    keras.utils.set_random_seed(seed)
    with precision_policy(training.mixed_precision):
        search = tuner_class(
            hypermodel,
            objective=keras_tuner.Objective(monitor, direction=mode),
            max_trials=max_trials,
            seed=seed,
            directory=str(directory),
            project_name=TUNER_PROJECT,
            overwrite=overwrite,
        )
        # As in `train`: epoch e of every trial draws pass e of the train
        # split, and the val split the same pairs every epoch.
        data_pass = DataPass()
        search.search(
            make_dataset(dataset, "train", regime, batch_size, seed=seed, pass_index=data_pass),
            validation_data=make_dataset(dataset, "val", regime, batch_size, seed=seed,
                                         pass_index=lambda: 0),
            epochs=training.epochs,
            shuffle=False,  # the dataset shuffles itself, once per epoch
            verbose=verbose,
            callbacks=[data_pass],
        )
    return search


def _trial_training(training, training_fields):
    """The `TrainingConfig` of every trial, with its epochs, batch size and
    rate set (5, 64, 1e-3 where None); a clear error for a field that the
    search does not apply."""
    training = requested_training(training, training_fields)
    ignored = sorted(set(training.changes()) - set(TUNE_FIELDS))
    if ignored:
        raise ValueError(f"`tune` trains every trial with Adam and the model's loss from "
                         f"the fields {list(TUNE_FIELDS)} of its TrainingConfig; received "
                         f"{ignored}, which it does not apply.")
    if training.epochs is None:
        training = training.replace(epochs=DEFAULT_TUNE_EPOCHS)
    return training.with_defaults()


def tune(directory, regime, data=None, training=None, max_trials=10, search_space=None,
         tuner="random", embedded_size="small", overwrite=False, verbose=1,
         model_config=None, **training_fields):
    """Runs (or resumes) a hyperparameter search and writes its folder.

    Args:
        directory: the search folder (created; reused to resume).
        regime: `"supervised"`, `"weak"` or `"unsupervised"`.
        data: the dataset folder (AVE layout) or an `AVEData`; None: the
            embedded default of size `embedded_size`.
        training: the `keras_avl.training_config.TrainingConfig` of every
            trial: its `epochs` per trial (default 5, `DEFAULT_TUNE_EPOCHS`),
            `batch_size`, `learning_rate` (when it is not searched), `seed`
            (the tuner's, the weights', the data order's) and
            `mixed_precision` (`keras_avl.precision`'s mixed policy); the
            other fields are refused.
        max_trials: the total number of trials of the search.
        search_space: dict of `AVLConfig` field -> list of choices or
            `{"min", "max"[, "step", "sampling"]}` range; default
            `keras_avl.tuning.default_search_space(regime)` less the fields
            fixed by `model_config`.
        tuner: `"random"` (`keras_tuner.RandomSearch`) or `"bayesian"`
            (`keras_tuner.BayesianOptimization`).
        embedded_size: the embedded default's size when `data` is None.
        overwrite: discard a previous search in `directory` instead of
            resuming it.
        verbose: keras-tuner / Keras verbosity.
        model_config: `AVLConfig` fields fixed for every trial (not
            searched).
        **training_fields: `TrainingConfig` fields applied over `training`.

    Returns:
        A `TuneResult`.

    Example:

    >>> import os, tempfile
    >>> os.environ["KERAS_AVL_HOME"] = tempfile.mkdtemp()
    >>> result = tune(tempfile.mkdtemp(), "supervised", max_trials=1, epochs=1,
    ...               embedded_size="tiny", verbose=0, search_space={"hidden": [4, 8]},
    ...               model_config=dict(embed_dim=8, mfb_output_dim=4, swab_units=4))
    >>> result.trials_completed, result.best_config.hidden in (4, 8)
    (1, True)
    """
    training = _trial_training(training, training_fields)
    model_overrides = dict(model_config or {})
    embedded_size = embedded_size or "small"
    directory = Path(directory)
    check_choice("regime", regime, REGIMES)
    check_choice("tuner", tuner, TUNERS)
    max_trials = check_positive_int("max_trials", max_trials)
    search_space = _checked_search_space(search_space, regime, model_overrides)
    dataset, folder = resolve_data(data, embedded_size)
    base_config = AVLConfig(
        **dataset.model_config_kwargs(), learning_rate=training.learning_rate
    ).replace(**model_overrides)
    hypermodel = AVLHyperModel(regime, base_config, search_space)
    settings = {
        "regime": regime,
        "data": None if data is None else str(Path(folder).resolve()),
        "embedded_size": embedded_size,
        "search_space": hypermodel.search_space,
        "model_overrides": model_overrides,
        "max_trials": max_trials,
        "epochs": training.epochs,
        "batch_size": training.batch_size,
        "learning_rate": training.learning_rate,
        "seed": training.seed,
        "tuner": tuner,
        "mixed_precision": training.mixed_precision,
    }
    if training.mixed_precision:
        check_mixed_precision()
    directory.mkdir(parents=True, exist_ok=True)
    _check_settings(directory, settings, overwrite)

    monitor, mode = MONITORS[regime]
    search = _search(directory, hypermodel, dataset, regime, training, tuner, max_trials,
                     overwrite, verbose)
    best_trials = [
        trial
        for trial in search.oracle.get_best_trials(len(search.oracle.trials))
        if trial.status == "COMPLETED"
    ]
    completed = len(best_trials)
    best_trials = best_trials[:REPORTED_TRIALS]
    if not best_trials:
        raise RuntimeError(
            f"The search in {directory} completed no trial; see the errors "
            f"keras-tuner logged above (its state is in {directory / TUNER_PROJECT})."
        )
    best_config = hypermodel.config(best_trials[0].hyperparameters.copy())
    atomic_write_text(directory / BEST_CONFIG_FILE, best_config.to_json() + "\n")
    command = _train_command(regime, settings["data"], best_config,
                             hypermodel.search_space, settings)
    atomic_write_text(
        directory / REPORT_FILE,
        _report(regime, monitor, mode, best_trials, completed, settings, command),
    )
    return TuneResult(directory, best_config, float(best_trials[0].score), monitor, completed)
