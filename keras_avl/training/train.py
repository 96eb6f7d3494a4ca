"""`train`: trains one model of one regime and writes its run folder.

The run folder (see `keras_avl.runs`) gets `config.json` before the first
epoch, `best.keras` whenever the validation metric improves, `metrics.json`
after every epoch and TensorBoard logs under `logs/`. `backup/` holds the
training state of the last completed epoch (weights, optimizer, random seed
generators; see `TrainingBackup`), so `resume=True` continues a killed run
from there, and a finished run to more epochs. Every file is written beside
and renamed: a kill, or a full disk (a clear `OSError`), leaves the files of
the last complete epoch. Each epoch is one pass over the training
split, whose shuffle order and negative audio depend on the seed and the
epoch only (`DataPass`; the val split's negative audio is the same every
epoch, drawn from the seed): on one machine, a resumed run ends with the
weights and the `metrics.json` history of the same run never interrupted
(bit-identical on CPU; with `steps_per_epoch` a pass spans epochs and a
resumed run begins a new pass at its first epoch, so only that option's quick
checks resume inexactly).

Checkpoint selection: the supervised and weak regimes keep the epoch of best
validation accuracy (per segment for supervised, per video for weak, the
labels each regime trains on); the unsupervised regime has no labels and keeps
the epoch of lowest validation AVTGML loss, or, with
`selection="audio-consistency"`, the epoch whose spatial attention is most
consistent over time with the video's own sound, beyond what another video's
sound gives (`keras_avl.training.audio_consistency`; no labels either).
"""

import importlib.util
import json
import os
from pathlib import Path

from keras_avl.atomic import disk_full_is_clear
from keras_avl.data import make_dataset, resolve_data
from keras_avl.data.pipeline import DATA_PATHS, visual_data_path
from keras_avl.determinism import enable_determinism
from keras_avl.distribute import (
    check_global_batch,
    distribution_scope,
    even_batches,
    worker_folder,
)
from keras_avl.losses.label_free_loss import segment_mask_targets
from keras_avl.models import REGIMES, build_model
from keras_avl.models import registry
from keras_avl.precision import check_mixed_precision, precision_policy
from keras_avl.protocols import OWN, own_protocol, resolve_training
from keras_avl.runs import (
    BEST_MODEL_FILE,
    LOGS_DIR,
    METRICS_FILE,
    Run,
    load_run,
)
from keras_avl.training.audio_consistency import check_selection, selection_callbacks
from keras_avl.training.train_step import configure_train_step, resolve_jit_compile
from keras_avl.training_config import (
    DEFAULT_EPOCHS,  # noqa: F401  (keras_avl.training.DEFAULT_EPOCHS)
    SCHEDULE_FIELDS,
    TrainingConfig,
    check_fields,
)
from keras_avl.validation import check_choice

BACKUP_DIR = "backup"
MONITORS = {
    "supervised": ("val_categorical_accuracy", "max"),
    "weak": ("val_categorical_accuracy", "max"),
    "unsupervised": ("val_loss", "min"),
}


def _read_history(run_dir):
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return [], False
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
        history = metrics.get("history", [])
        if not isinstance(history, list) or not all(
            isinstance(entry, dict) and isinstance(entry.get("epoch"), int)
            for entry in history
        ):
            raise ValueError("`history` must be a list of objects with an integer `epoch`")
    except (ValueError, AttributeError) as error:
        raise ValueError(
            f"{path} is not a valid metrics file ({error}); expected the JSON "
            "that `keras-avl train` writes. Nothing was changed."
        ) from error
    return history, bool(metrics.get("completed"))


def _check_best_checkpoint(run, history, monitor, mode):
    """Before a resume changes anything: the best checkpoint that the
    history promises must exist and load."""
    from keras_avl.training.callbacks import monitored_best

    path = run.best_model_path
    if not path.exists():
        if monitored_best(history, monitor, mode) is not None:
            raise FileNotFoundError(
                f"{path} is missing: {run.path / METRICS_FILE} records a best "
                f"{monitor}, whose checkpoint it should hold. Nothing was changed."
            )
        return
    try:
        run.load_model()
    except Exception as error:  # a corrupt file fails in zipfile, h5py or Keras
        raise ValueError(
            f"{path} is not a loadable Keras model ({type(error).__name__}: "
            f"{error}); resuming would keep or replace a broken checkpoint. "
            "Nothing was changed."
        ) from error


def _disk_full_is_clear(run_dir):
    """A full disk while the run writes its files: an error that says so and
    how to go on (the files are renamed into place, so none is half-written)."""
    return disk_full_is_clear(
        f"the run {run_dir}", "its files are those of the last complete epoch, none "
        "half-written: free space and continue it with resume=True (CLI: --resume).")


# The options of `train` that the command line spells otherwise, or has not.
_FLAGS = {"jit_compile": "--jit-compile", "model": "--model"}
_CLI_OPTIONS = ("regime", "data", "embedded_size", "epochs", "batch_size", "learning_rate",
                "seed", "selection", "protocol", "distribute", "mixed_precision",
                "steps_per_execution", "deterministic")
_MODEL_FIELDS_HINT = (" Fields of the model's config go through model_config={...} "
                      "(CLI: --set FIELD=VALUE).")


def _flag(name):
    if name in _FLAGS:
        return _FLAGS[name]
    return "--" + name.replace("_", "-") if name in _CLI_OPTIONS else name


def _recorded(run, name):
    """The value of `train`'s option `name` that `run` recorded."""
    if name in ("regime", "data", "embedded_size"):
        return getattr(run, name)
    if name == "model":
        return run.variant
    return getattr(run.training, name)


def _differs(run, name, value):
    """Whether the option `name=value` given to continue `run` contradicts it."""
    if name == "data":
        folder = value if isinstance(value, (str, os.PathLike)) else value.root  # AVEData
        value = str(Path(folder).resolve())
    elif name == "embedded_size" and run.data is not None:
        return False  # the run reads its dataset folder
    elif name == "protocol" and value == OWN:
        value = own_protocol(run.variant, run.regime)
    return value != _recorded(run, name)


def check_recorded_settings(run, model_config=None, extend_epochs=False, **given):
    """Raises a clear ValueError when an option given to continue `run`
    contradicts the run's recorded settings (None: not given).

    Args:
        run: the `keras_avl.runs.Run` to continue.
        model_config: config fields given (`--set`), compared with the
            run's model config.
        extend_epochs: whether `epochs` may exceed the recorded epochs (a
            resume extends the run); otherwise they must be equal.
        **given: the options of `train` (`regime`, `model`, `data`,
            `embedded_size`) and fields of its `TrainingConfig`
            (`batch_size`, `protocol`, `epochs`, ...).

    Example:

    >>> from keras_avl.runs import Run
    >>> from keras_avl.models import PaperConfig
    >>> run = Run("r", "weak", "paper", PaperConfig(), training=TrainingConfig(
    ...     epochs=4, batch_size=64, learning_rate=1e-3, seed=0))
    >>> check_recorded_settings(run, batch_size=64, epochs=6, extend_epochs=True)
    >>> check_recorded_settings(run, batch_size=32)
    Traceback (most recent call last):
    ...
    ValueError: Cannot continue the run r with batch_size=32 (--batch-size 32): the run was recorded with batch_size=64. Nothing was changed.
    """
    problems = []
    for name, value in given.items():
        if value is None or name == "epochs" or not _differs(run, name, value):
            continue
        shown = "" if isinstance(value, bool) else f" {value}"
        problems.append(f"{name}={value!r} ({_flag(name)}{shown}): the run was recorded "
                        f"with {name}={_recorded(run, name)!r}")
    for name, value in (model_config or {}).items():
        kept = getattr(run.model_config, name, None)
        if value != kept:
            problems.append(f"{name}={value!r} (--set {name}={json.dumps(value)}): the "
                            f"run was recorded with {name}={kept!r}")
    epochs, kept = given.get("epochs"), run.training.epochs
    if epochs is not None and (epochs < kept or (epochs > kept and not extend_epochs)):
        problems.append(f"epochs={epochs!r} (--epochs {epochs}): the run was recorded "
                        f"with epochs={kept!r}"
                        + (" (more epochs extend it; fewer cannot)" if extend_epochs else ""))
    if problems:
        raise ValueError(f"Cannot continue the run {run.path} with " + "; ".join(problems)
                         + ". Nothing was changed.")


def _check_history(run, history, backup_epoch):
    """A run folder edited by hand or copied in part: its history must cover
    the epochs its backup and its best checkpoint say were trained."""
    if backup_epoch > len(history):
        raise ValueError(
            f"Cannot continue the run {run.path}: its training backup holds epoch "
            f"{backup_epoch} but {run.path / METRICS_FILE} records "
            f"{len(history)} epochs (missing or edited by hand). Nothing was changed."
        )
    if not history and run.best_model_path.exists():
        raise ValueError(
            f"Cannot continue the run {run.path}: it has a best checkpoint but no "
            f"{METRICS_FILE} history (missing or edited by hand). Nothing was changed."
        )


def model_config_for(model, regime, data, learning_rate, overrides):
    """The config of the model named `model` for `regime` on `data`, with the
    config values `overrides` (a protocol's, then the caller's)."""
    base_fields = {**data.model_config_kwargs(), "learning_rate": learning_rate}
    # The preset's config in the regime (its method's own config class).
    return registry.get(model).config(regime, **{**base_fields, **overrides})


def plan_run(run_dir, regime=None, model=None, data=None, training=None, model_config=None,
             embedded_size=None):
    """The `Run` that `train` starts in `run_dir` (not written) and its data
    (`AVEData`), from `train`'s arguments of the same names: the
    `TrainingConfig` asked for is resolved against the model's protocols
    (`keras_avl.protocols.resolve_training`) and its XLA choice made."""
    model = model or "paper"
    if regime is None:
        raise ValueError(f"`regime` must be one of {REGIMES}; received regime=None.")
    check_choice("regime", regime, REGIMES)
    check_choice("model", model, registry.model_names())
    training, recipe_values = resolve_training(training or TrainingConfig(), model, regime)
    # One kernel choice per run, recorded and kept by its resumes.
    training = training.replace(jit_compile=resolve_jit_compile(training.jit_compile))
    check_selection(training.selection, regime)
    embedded_size = embedded_size or "small"
    dataset, _ = resolve_data(data, embedded_size)
    config = model_config_for(model, regime, dataset, training.learning_rate,
                              {**recipe_values, **(model_config or {})})
    run = Run(path=run_dir, regime=regime, variant=model, model_config=config,
              data=None if data is None else str(Path(dataset.root).resolve()),
              training=training, embedded_size=embedded_size if data is None else None)
    return run, dataset


def _open_run(run_dir, resume, given, **arguments):
    """The run `train` trains in `run_dir` (read back on resume, once the
    options `given` are checked against it; planned otherwise) and its data."""
    if resume:
        run = load_run(run_dir)
        check_recorded_settings(run, arguments["model_config"], extend_epochs=True, **given)
        data, _ = resolve_data(run.data, run.embedded_size or "small")
        return run, data
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise FileExistsError(
            f"Run folder {run_dir} already exists; choose a new folder, or pass "
            "resume=True (CLI: --resume) to continue it."
        )
    return plan_run(run_dir, **arguments)


def _monitor(run):
    """The validation metric that selects `run`'s epoch, and its mode."""
    return check_selection(run.training.selection, run.regime) or MONITORS[run.regime]


def _resume_point(run, resume, epochs):
    """Where `run` goes on: `(history, initial_epoch, backup_state)`, the
    history of the epochs kept (those after the backup are trained again), or
    None for a completed run that `epochs` does not extend. More `epochs`
    than recorded are recorded (`config.json`)."""
    from keras_avl.training.callbacks import read_backup

    history, completed = _read_history(run.path)
    if resume:
        _check_best_checkpoint(run, history, *_monitor(run))
    initial_epoch, backup_state = read_backup(run.path / BACKUP_DIR)
    if resume:
        _check_history(run, history, initial_epoch)
    extended = epochs is not None and epochs > run.training.epochs
    if completed and not extended:
        return None
    if extended:
        if completed and backup_state is None:
            raise ValueError(
                f"Cannot extend {run.path} to epochs={epochs}: the run finished without "
                f"a training backup ({run.path / BACKUP_DIR}; runs finished before "
                "keras-avl kept it). Train a new run instead."
            )
        run.training = run.training.replace(epochs=epochs)
        run.save_config()
    history = [entry for entry in history if entry["epoch"] <= initial_epoch]
    return history, initial_epoch, backup_state


def _datasets(run, data, data_path, data_pass, verbose):
    """The train and val splits of `run`, built before the run folder is
    written: a split the regime cannot use (e.g. an unsupervised split of one
    video) leaves nothing behind."""

    training = run.training
    if verbose:
        for split in ("train", "val"):
            path, needed, available = visual_data_path(data, split, run.regime, data_path)
            print(f"{split} visual features: {path} ({needed / 2**30:.2f} GiB; "
                  f"{'unknown' if available is None else f'{available / 2**30:.1f} GiB'}"
                  " available)", flush=True)
    sampling = getattr(run.model_config, "negative_sampling", "any-video")
    # The train split draws the pass of each epoch; the val split the same
    # negative audio every epoch, so that the epochs are compared on the
    # same pairs.
    # PSP's weak model trains on class shares (its release's target); the
    # val split keeps the video labels, so that every method's epoch is
    # chosen by the same video accuracy.
    return tuple(
        make_dataset(data, split, run.regime, training.batch_size, seed=training.seed,
                     pass_index=index, data_path=data_path, negative_sampling=sampling,
                     weak_targets=targets)
        for split, index, targets in (
            ("train", data_pass, registry.weak_targets(run.variant)),
            ("val", lambda: 0, "video"))
    )


def _build_model(run, steps_per_epoch, verbose):
    """`run`'s compiled model: its recipe's optimizer (the schedule counts
    optimizer steps) and loss where the recipe is not the common one, its
    train step's kernels. Built before the run folder is written: an invalid
    model/regime pair leaves nothing behind."""
    training = run.training
    if verbose:
        print(f"train step: {'XLA' if training.jit_compile else 'without XLA'}", flush=True)
    if training.deterministic:
        enable_determinism(xla=training.jit_compile)
    optimizer = loss = None
    if training.protocol is not None or any(
            getattr(training, name) != getattr(TrainingConfig, name) for name in SCHEDULE_FIELDS):
        optimizer = training.optimizer(steps_per_epoch)
        loss = training.loss_function()
    model = build_model(run.model_config, run.regime, optimizer=optimizer, loss=loss)
    configure_train_step(model, training.jit_compile, training.steps_per_execution)
    return model


def _fit_data(run, model, datasets, replicas):
    """The splits as `fit` takes them: the losses read the real segments
    from their targets (the methods' from labels zeroed at padding, the
    label-free ones from the mask), in batches even over the replicas."""
    targets = (segment_mask_targets if run.regime == "unsupervised"
               else registry.fit_targets(model))
    if targets is not None:
        datasets = tuple(d.map(targets) for d in datasets)
    return tuple(even_batches(d, replicas) for d in datasets)


def _callbacks(run, history, monitor, mode, first, backup_state, extra):
    """`fit`'s callbacks, in their order: `first` (the data pass, the
    selection's), the best checkpoint, the metrics file (also returned),
    TensorBoard, the training backup, then the caller's `extra`."""
    import keras

    from keras_avl.training.callbacks import (
        BestCheckpoint,
        RunMetrics,
        TrainingBackup,
        monitored_best,
    )

    metrics = RunMetrics(run.path / METRICS_FILE, monitor, mode, history)
    return metrics, [
        *first,  # the selection's before the checkpoint: they add the monitored value
        # Before the backup: an epoch whose backup was not written is redone.
        BestCheckpoint(run.best_model_path, monitor, mode,
                       monitored_best(history, monitor, mode)),
        metrics,
        # Keras' TensorBoard writes through TensorFlow: no logs without it.
        # Each epoch's scalars reach the disk as the epoch ends (a killed
        # run keeps them): TensorFlow flushes a writer as Keras leaves its
        # `as_default()` block (tests/test_tensorboard_logs.py).
        *([keras.callbacks.TensorBoard(str(run.path / LOGS_DIR))]
          if importlib.util.find_spec("tensorflow") else []),
        TrainingBackup(run.path / BACKUP_DIR, backup_state),
        *extra,
    ]


def _fit(run, model, datasets, initial_epoch, callbacks, verbose):
    """Keras' `fit` from `initial_epoch` to the recorded epochs; a full disk
    is a clear error. Lets go of the splits' arrays afterwards (TensorFlow's
    `fit` keeps its datasets in the global graph)."""
    train_data, val_data = datasets
    with _disk_full_is_clear(run.path):
        model.fit(
            train_data,
            validation_data=val_data,
            epochs=run.training.epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=run.training.steps_per_epoch,
            validation_steps=run.training.validation_steps,
            callbacks=callbacks,
            verbose=verbose,
            shuffle=False,  # the dataset shuffles itself, once per epoch
        )
    for dataset in datasets:
        dataset.close()


def requested_training(training=None, fields=None):
    """The `TrainingConfig` asked for: `training` (default
    `TrainingConfig()`) with the `TrainingConfig` fields `fields` (those None
    left out: not given); a clear error names a field that is not one.

    Example:

    >>> requested_training(None, {"epochs": 2, "seed": None}).epochs
    2
    >>> requested_training(None, {"hidden": 8})
    Traceback (most recent call last):
    ...
    ValueError: ['hidden'] is not TrainingConfig field(s); expected some of ['epochs', 'batch_size', 'learning_rate', 'decay_epochs', 'decay', 'step_lr', 'loss', 'clipnorm', 'dtype_policy', 'protocol', 'selection', 'seed', 'deterministic', 'mixed_precision', 'jit_compile', 'steps_per_execution', 'steps_per_epoch', 'validation_steps', 'distribute']. Fields of the model's config go through model_config={...} (CLI: --set FIELD=VALUE).
    """
    fields = {name: value for name, value in (fields or {}).items() if value is not None}
    check_fields(fields, _MODEL_FIELDS_HINT)
    return (training or TrainingConfig()).replace(**fields)


def _given(training, training_fields):
    """The `TrainingConfig` fields given to `train`: those of `training` that
    differ from the defaults, and `training_fields` (None: not given)."""
    return {**(training.changes() if training is not None else {}),
            **{name: value for name, value in training_fields.items() if value is not None}}


def train(run_dir, regime=None, model=None, data=None, training=None, model_config=None,
          resume=False, verbose=1, callbacks=(), data_path="auto", embedded_size=None,
          **training_fields):
    """Trains a model and writes the run folder `run_dir`.

    Args:
        run_dir: the run folder; it must not exist (or be empty) unless `resume`.
        regime: `"supervised"`, `"weak"` or `"unsupervised"`.
        model: (default `"paper"`) a preset's name (`keras_avl.models.presets()`,
            `keras-avl models`: `"paper"`, `"audio"`, `"avatt"`, `"fusion-mfb"`,
            `"psp"`, ...).
        data: the dataset folder (AVE layout) or an `AVEData`; None: the
            embedded default (`keras_avl.data.embedded_default(embedded_size)`).
        training: the `keras_avl.training_config.TrainingConfig` (default:
            `TrainingConfig()`): epochs, batch size, learning rate and
            schedule, loss, clipping, protocol, selection, precision, XLA,
            determinism, seed, distribution. Its `protocol` names a recipe of
            `keras_avl.protocols` (e.g. `"psp-cvpr21-supervised"`), `"own"`
            (the model's own recipe where it has one) or None (the common
            keras-avl recipe, or the loss and schedule of the model's default
            protocol: `avatt` trains with AVE-ECCV18's for the epochs, batch
            size and rate given); a protocol chosen by name sets the batch
            size, the rate and its schedule, the loss, the clipping, its
            config values (`model_config` still wins) and, unless `epochs` is
            given, the epochs (`keras_avl.protocols.resolve_training`). The
            resolved config is recorded whole in `config.json` (`training`).
            The epoch is always selected on val.
        model_config: fields of the model's config to change (e.g.
            `{"hidden": 64}`; CLI: `--set hidden=64`) of the config class of
            the preset's method (`PaperConfig`, `AVAttConfig`, `PSPConfig`, ...).
        resume: continue the interrupted run in `run_dir` from its last
            completed epoch with the settings and the recipe recorded in its
            `config.json` (not today's protocol of that name); a completed
            run is returned as is. Every other option is then left out
            (None) or equal to the recorded one (a clear ValueError names the
            option, the recorded and the given value; see
            `check_recorded_settings`), except `epochs`: more epochs than
            recorded extend the run, finished or not, as if it had been
            started with them (its backup is kept for that).
        verbose: Keras' `fit` verbosity (1: a progress bar).
        callbacks: extra Keras callbacks.
        data_path: how the visual features are read: `"auto"`, `"memory"` or
            `"stream"` (`keras_avl.data.pipeline.visual_data_path`); the
            batches are the same. Not saved in the run: a resumed run chooses
            again.
        embedded_size: the embedded default's size when `data` is None
            (default `"small"`).
        **training_fields: fields of `TrainingConfig` applied over `training`
            (`epochs=2`, `seed=3`, `protocol="own"`, ...; None: not given).
            Notably: `deterministic` (default True) makes the run repeat
            exactly for its seed on one machine and equal the same seed's run
            of `compare`; False lets TensorFlow choose other kernels. `jit_compile`
            None: XLA on JAX and on a TensorFlow GPU, not on a CPU-only
            TensorFlow (`keras_avl.training.train_step`). `distribute`
            `"multiworker"`: worker i > 0 writes `<run_dir>.worker<i>`
            (`keras_avl.distribute`); `batch_size` is then the global batch.
            `mixed_precision` is refused on a CPU without bfloat16 hardware
            (`keras_avl.precision.check_mixed_precision`).

    Returns:
        The `keras_avl.runs.Run`.

    Example:

    >>> import os, tempfile
    >>> os.environ["KERAS_AVL_HOME"] = tempfile.mkdtemp()
    >>> run = train(tempfile.mkdtemp() + "/run", "supervised", epochs=1, verbose=0,
    ...             embedded_size="tiny", model_config=dict(
    ...                 hidden=8, embed_dim=8, mfb_output_dim=8, swab_units=8))
    >>> sorted(p.name for p in run.path.iterdir())
    ['backup', 'best.keras', 'config.json', 'logs', 'metrics.json']
    >>> run.training.epochs, run.training.batch_size, run.training.protocol
    (1, 64, None)
    """
    import keras

    from keras_avl.training.callbacks import DataPass

    requested = requested_training(training, training_fields)
    given = _given(training, training_fields)
    run_dir = Path(run_dir)
    if requested.distribute == "multiworker":
        run_dir = worker_folder(run_dir)
    run, data = _open_run(run_dir, resume, dict(regime=regime, model=model, data=data,
                                               embedded_size=embedded_size, **given),
                          regime=regime, model=model, data=data, training=requested,
                          model_config=model_config, embedded_size=embedded_size)
    resume_point = _resume_point(run, resume, given.get("epochs"))
    if resume_point is None:
        return run
    history, initial_epoch, backup_state = resume_point
    check_choice("data_path", data_path, DATA_PATHS)
    settings = run.training
    if settings.mixed_precision:
        check_mixed_precision()
    keras.utils.set_random_seed(settings.seed)
    with distribution_scope(settings.distribute) as replicas, \
            precision_policy(settings.mixed_precision, policy=settings.dtype_policy):
        check_global_batch(settings.batch_size, replicas)
        data_pass = DataPass(initial_epoch)
        datasets = _datasets(run, data, data_path, data_pass, verbose)
        network = _build_model(run, settings.steps_per_epoch or len(datasets[0]), verbose)
        # Models of several outputs (PSP, CMBS) log their main output's metrics.
        monitor, mode = _monitor(run)
        monitor = registry.monitored_metric(network, run.regime, monitor)
        selecting = selection_callbacks(settings.selection, network, data,
                                        settings.batch_size, settings.seed)
        if not resume:
            run_dir.mkdir(parents=True, exist_ok=True)
            run.save_config()
        datasets = _fit_data(run, network, datasets, replicas)
        metrics, fit_callbacks = _callbacks(run, history, monitor, mode,
                                            [data_pass, *selecting], backup_state, callbacks)
        _fit(run, network, datasets, initial_epoch, fit_callbacks, verbose)
    metrics.completed = True
    with _disk_full_is_clear(run_dir):
        metrics.write()
    return run
