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
    DISTRIBUTIONS,
    check_global_batch,
    distribution_scope,
    even_batches,
    worker_folder,
)
from keras_avl.losses.label_free_loss import segment_mask_targets
from keras_avl.models import REGIMES, build_model
from keras_avl.models import registry
from keras_avl.precision import check_mixed_precision, precision_policy
from keras_avl.runs import (
    BEST_MODEL_FILE,
    LOGS_DIR,
    METRICS_FILE,
    Run,
    load_run,
)
from keras_avl.training.audio_consistency import (
    DEFAULT_SELECTION,
    check_selection,
    selection_callbacks,
)
from keras_avl.protocols import OWN, Protocol, own_protocol, resolve_protocol
from keras_avl.training.train_step import configure_train_step, resolve_jit_compile
from keras_avl.validation import check_choice, check_positive_int

BACKUP_DIR = "backup"
DEFAULT_EPOCHS = 15
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


def recorded_protocol(recorded):
    """The `Protocol` recorded in a run's `config.json` (`training.protocol`),
    as it was when the run started, whatever the protocol of that name is in
    today's code."""
    fields = {key: tuple(value) if isinstance(value, list) else value
              for key, value in recorded.items()}
    return Protocol(**fields)


# Option of `train` -> (its CLI flag, the value the run recorded).
def _recorded_options(run):
    training = run.training
    protocol = training.get("protocol") or {}
    return {
        "regime": ("--regime", run.regime),
        "variant": ("--model", run.variant),
        "data": ("--data", run.data),
        "embedded_size": ("--embedded-size", training.get("embedded_size")),
        "batch_size": ("--batch-size", training["batch_size"]),
        "learning_rate": ("--learning-rate", training["learning_rate"]),
        "seed": ("--seed", training["seed"]),
        "steps_per_epoch": ("steps_per_epoch", training.get("steps_per_epoch")),
        "validation_steps": ("validation_steps", training.get("validation_steps")),
        "distribute": ("--distribute", training.get("distribute", "none")),
        "mixed_precision": ("--mixed-precision", training.get("mixed_precision", False)),
        "jit_compile": ("--jit-compile", training.get("jit_compile")),
        "steps_per_execution": ("--steps-per-execution",
                                training.get("steps_per_execution", 1)),
        "deterministic": ("--deterministic", training.get("deterministic", False)),
        "protocol": ("--protocol", protocol.get("name")),
        "selection": ("--selection", training.get("selection", DEFAULT_SELECTION)),
    }


def check_recorded_settings(run, model_overrides=None, extend_epochs=False, **given):
    """Raises a clear ValueError when an option given to continue `run`
    contradicts the run's recorded settings (None: not given).

    Args:
        run: the `keras_avl.runs.Run` to continue.
        model_overrides: config fields given (`--set`), compared with the
            run's model config.
        extend_epochs: whether `epochs` may exceed the recorded epochs (a
            resume extends the run); otherwise they must be equal.
        **given: the options of `train` (`regime`, `variant`, `batch_size`,
            `protocol`, `epochs`, ...).

    Example:

    >>> from keras_avl.runs import Run
    >>> from keras_avl.models import PaperConfig
    >>> run = Run("r", "weak", "paper", PaperConfig(), training=dict(
    ...     epochs=4, batch_size=64, learning_rate=1e-3, seed=0))
    >>> check_recorded_settings(run, batch_size=64, epochs=6, extend_epochs=True)
    >>> check_recorded_settings(run, batch_size=32)
    Traceback (most recent call last):
    ...
    ValueError: Cannot continue the run r with batch_size=32 (--batch-size 32): the run was recorded with batch_size=64. Nothing was changed.
    """
    recorded = _recorded_options(run)
    problems = []
    for name, value in given.items():
        if value is None or name == "epochs":
            continue
        flag, kept = recorded[name]
        asked = value
        if name == "data":
            folder = value if isinstance(value, (str, os.PathLike)) else value.root  # AVEData
            value = str(Path(folder).resolve())
        elif name == "embedded_size" and run.data is not None:
            continue  # the run reads its dataset folder
        elif name == "protocol" and value == OWN:
            value = own_protocol(run.variant, run.regime)
        if value != kept:
            shown = "" if isinstance(asked, bool) else f" {asked}"
            problems.append(f"{name}={asked!r} ({flag}{shown}): the run was recorded "
                            f"with {name}={kept!r}")
    for name, value in (model_overrides or {}).items():
        kept = getattr(run.model_config, name, None)
        if value != kept:
            problems.append(f"{name}={value!r} (--set {name}={json.dumps(value)}): the "
                            f"run was recorded with {name}={kept!r}")
    epochs, kept = given.get("epochs"), run.training["epochs"]
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


def plan_run(run_dir, given, overrides):
    """The `Run` that `train` starts in `run_dir` (not written) from the
    options `given` (`train`'s arguments by name; None: the default) and the
    config fields `overrides`, and its data (`AVEData`)."""
    regime, variant = given.get("regime"), given.get("variant") or "paper"
    if regime is None:
        raise ValueError(f"`regime` must be one of {REGIMES}; received regime=None.")
    check_choice("regime", regime, REGIMES)
    check_choice("variant", variant, registry.model_names())
    epochs, batch_size, learning_rate = (given.get(key) for key in (
        "epochs", "batch_size", "learning_rate"))
    recipe, chosen = resolve_protocol(given.get("protocol"), variant, regime)
    if chosen:
        batch_size, learning_rate = recipe.batch_size, recipe.learning_rate
        epochs = recipe.epochs if epochs is None else epochs
    if recipe is not None:
        overrides = {**recipe.config, **overrides}
    training = {
        "epochs": check_positive_int("epochs", DEFAULT_EPOCHS if epochs is None else epochs),
        "batch_size": check_positive_int("batch_size", batch_size or 64),
        "learning_rate": float(1e-3 if learning_rate is None else learning_rate),
        "seed": int(given.get("seed") or 0),
    }
    for name in ("steps_per_epoch", "validation_steps"):
        if given.get(name) is not None:
            training[name] = check_positive_int(name, given.get(name))
    if given.get("distribute") not in (None, "none"):
        training["distribute"] = given.get("distribute")
    if given.get("mixed_precision"):
        training["mixed_precision"] = True
    # One kernel choice per run, recorded and kept by its resumes.
    training["jit_compile"] = resolve_jit_compile(given.get("jit_compile"))
    if given.get("steps_per_execution") not in (None, 1):
        training["steps_per_execution"] = check_positive_int(
            "steps_per_execution", given.get("steps_per_execution"))
    if given.get("deterministic") is not False:
        training["deterministic"] = True
    if recipe is not None:
        training["protocol"] = recipe.to_dict()
    selection = given.get("selection") or DEFAULT_SELECTION
    if check_selection(selection, regime) is not None:
        training["selection"] = selection
    embedded_size = given.get("embedded_size") or "small"
    data, _ = resolve_data(given.get("data"), embedded_size)
    base_fields = {**data.model_config_kwargs(), "learning_rate": training["learning_rate"]}
    # The preset's config in the regime (its method's own config class).
    config = registry.get(variant).config(regime, **{**base_fields, **overrides})
    if given.get("data") is None:
        training["embedded_size"] = embedded_size
    run = Run(path=run_dir, regime=regime, variant=variant, model_config=config,
              data=None if given.get("data") is None else str(Path(data.root).resolve()),
              training=training)
    return run, data


def train(
    run_dir,
    regime=None,
    variant=None,
    data=None,
    epochs=None,
    batch_size=None,
    learning_rate=None,
    seed=None,
    resume=False,
    verbose=1,
    callbacks=(),
    embedded_size=None,
    steps_per_epoch=None,
    validation_steps=None,
    distribute=None,
    mixed_precision=None,
    jit_compile=None,
    steps_per_execution=None,
    data_path="auto",
    deterministic=None,
    protocol=None,
    selection=None,
    **model_overrides,
):
    """Trains a model and writes the run folder `run_dir`.

    Args:
        run_dir: the run folder; it must not exist (or be empty) unless `resume`.
        regime: `"supervised"`, `"weak"` or `"unsupervised"`.
        variant: (default `"paper"`) a preset's name (`keras_avl.models.presets()`,
            `keras-avl models`: `"paper"`, `"audio"`, `"avatt"`, `"fusion-mfb"`,
            `"psp"`, ...).
        data: the dataset folder (AVE layout) or an `AVEData`; None: the
            embedded default (`keras_avl.data.embedded_default(embedded_size)`).
        epochs: total epochs (default: the protocol's, else `DEFAULT_EPOCHS`).
        batch_size: videos per batch (default 64, as AVE).
        learning_rate: Adam's learning rate (default 1e-3, as AVE).
        seed: seeds the weights, the shuffling and the negative audio
            (default 0).
        resume: continue the interrupted run in `run_dir` from its last
            completed epoch with the settings and the recipe (optimizer,
            schedule, loss, epochs, ...) recorded in its `config.json`; a
            completed run is returned as is. Every other option is then left
            out (None) or equal to the recorded one (a clear ValueError names
            the option, the recorded and the given value; see
            `check_recorded_settings`), except `epochs`: more epochs than
            recorded extend the run, finished or not, as if it had been
            started with them (its backup is kept for that).
        verbose: Keras' `fit` verbosity (1: a progress bar).
        callbacks: extra Keras callbacks.
        embedded_size: the embedded default's size when `data` is None.
        steps_per_epoch, validation_steps: limit the batches per epoch (quick
            checks, benchmarks); default: every video of the split.
        distribute: `"none"`, `"mirrored"` (all local devices) or
            `"multiworker"` (TensorFlow; cluster from `TF_CONFIG`; worker i > 0
            writes `<run_dir>.worker<i>`); see `keras_avl.distribute`.
            `batch_size` is the global batch.
        mixed_precision: float16 on GPU / bfloat16 on CPU, the delicate parts
            in float32 (`keras_avl.precision`); refused on a CPU without
            bfloat16 hardware (`keras_avl.precision.check_mixed_precision`).
        jit_compile: compile the train step with XLA (True/False); None:
            XLA on JAX and on a TensorFlow GPU, not on a CPU-only TensorFlow
            (`keras_avl.training.train_step`; never dependent on the run's
            length or on earlier runs of the process). The choice is recorded
            in `config.json` and kept on resume.
        steps_per_execution: batches per call of the compiled train step.
        data_path: how the visual features are read: `"auto"`, `"memory"` or
            `"stream"` (`keras_avl.data.pipeline.visual_data_path`); the
            batches are the same. Not saved in the run: a resumed run chooses
            again.
        deterministic: deterministic ops (`keras_avl.determinism`; None, the
            default, is True), so that the run repeats exactly for its seed on one
            machine and equals the same seed's run of `compare`; recorded in
            the run's settings and re-applied on resume. False lets TensorFlow
            choose other kernels: on the 2-core CPU about a third faster, and a
            different result for the same seed.
        protocol: a named training recipe (`keras_avl.protocols`,
            e.g. `"psp-cvpr21-supervised"`, `"ave-eccv18-supervised"`): it sets
            the batch size, the learning rate and its schedule, the loss, the
            gradient clipping, the config values of the recipe (overrides
            still win) and, unless `epochs` is given, the epochs. `"own"`: the
            model's own recipe where it has one, else the common one. None:
            the common keras-avl recipe, or the loss and schedule of the
            preset's default recipe (`avatt`: AVE-ECCV18's) for the epochs,
            batch size and learning rate given. Recorded in `config.json`
            (`training.protocol`). The epoch is still selected on val.
        selection: how the unsupervised regime selects its epoch on val:
            `"val-loss"` (default: the lowest loss) or `"audio-consistency"`
            (the lambda most consistent over time with the video's own sound,
            without labels; see
            `keras_avl.training.audio_consistency`); recorded in
            `config.json` and `metrics.json` (`monitor`).
        **model_overrides: fields of the model's config to change (e.g.
            `hidden=64`): of the config class of the preset's method
            (`PaperConfig`, `AVAttConfig`, `PSPConfig`, ...).

    Returns:
        The `keras_avl.runs.Run`.

    Example:

    >>> import os, tempfile
    >>> os.environ["KERAS_AVL_HOME"] = tempfile.mkdtemp()
    >>> run = train(tempfile.mkdtemp() + "/run", "supervised", epochs=1, verbose=0,
    ...             embedded_size="tiny", hidden=8, embed_dim=8, mfb_output_dim=8,
    ...             swab_units=8)
    >>> sorted(p.name for p in run.path.iterdir())
    ['backup', 'best.keras', 'config.json', 'logs', 'metrics.json']
    """
    import keras

    from keras_avl.training.callbacks import (
        BestCheckpoint,
        DataPass,
        RunMetrics,
        TrainingBackup,
        monitored_best,
        read_backup,
    )

    run_dir = Path(run_dir)
    given = dict(regime=regime, variant=variant, data=data, embedded_size=embedded_size,
                 epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                 seed=seed, steps_per_epoch=steps_per_epoch,
                 validation_steps=validation_steps, distribute=distribute,
                 mixed_precision=mixed_precision, jit_compile=jit_compile,
                 steps_per_execution=steps_per_execution, deterministic=deterministic,
                 protocol=protocol, selection=selection)
    if check_choice("distribute", distribute or "none", DISTRIBUTIONS) == "multiworker":
        run_dir = worker_folder(run_dir)
    if resume:
        run = load_run(run_dir)
        check_recorded_settings(run, model_overrides, extend_epochs=True, **given)
        data, _ = resolve_data(run.data, run.training.get("embedded_size", "small"))
    else:
        if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
            raise FileExistsError(
                f"Run folder {run_dir} already exists; choose a new folder, or pass "
                "resume=True (CLI: --resume) to continue it."
            )
        run, data = plan_run(run_dir, given, model_overrides)

    history, completed = _read_history(run_dir)
    selection = run.training.get("selection", DEFAULT_SELECTION)
    monitor, mode = check_selection(selection, run.regime) or MONITORS[run.regime]
    if resume:
        _check_best_checkpoint(run, history, monitor, mode)
    settings = run.training
    # The epochs after the backup are trained again (and their entries replaced).
    initial_epoch, backup_state = read_backup(run_dir / BACKUP_DIR)
    if resume:
        _check_history(run, history, initial_epoch)
    extended = epochs is not None and epochs > settings["epochs"]
    if completed and not extended:
        return run
    if extended:
        if completed and backup_state is None:
            raise ValueError(
                f"Cannot extend {run_dir} to epochs={epochs}: the run finished without "
                f"a training backup ({run_dir / BACKUP_DIR}; runs finished before "
                "keras-avl kept it). Train a new run instead."
            )
        settings["epochs"] = epochs
        run.save_config()
    history = [entry for entry in history if entry["epoch"] <= initial_epoch]
    check_choice("data_path", data_path, DATA_PATHS)
    if settings.get("mixed_precision"):
        check_mixed_precision()
    keras.utils.set_random_seed(settings["seed"])
    with distribution_scope(settings.get("distribute", "none")) as replicas, \
            precision_policy(settings.get("mixed_precision", False),
                             policy=settings.get("protocol", {}).get("dtype_policy")):
        check_global_batch(settings["batch_size"], replicas)
        if verbose:
            for split in ("train", "val"):
                path, needed, available = visual_data_path(data, split, run.regime, data_path)
                print(f"{split} visual features: {path} ({needed / 2**30:.2f} GiB; "
                      f"{'unknown' if available is None else f'{available / 2**30:.1f} GiB'}"
                      " available)", flush=True)
        # Built before the run folder is written: a split the regime cannot use
        # (e.g. an unsupervised split of one video) leaves nothing behind.
        sampling = getattr(run.model_config, "negative_sampling", "any-video")
        data_pass = DataPass(initial_epoch)
        # The train split draws the pass of each epoch; the val split the same
        # negative audio every epoch, so that the epochs are compared on the
        # same pairs.
        # PSP's weak model trains on class shares (its release's target); the
        # val split keeps the video labels, so that every method's epoch is
        # chosen by the same video accuracy.
        train_data, val_data = (
            make_dataset(data, split, run.regime, settings["batch_size"],
                         seed=settings["seed"], pass_index=index,
                         data_path=data_path, negative_sampling=sampling,
                         weak_targets=targets)
            for split, index, targets in (
                ("train", data_pass, registry.weak_targets(run.variant)),
                ("val", lambda: 0, "video"))
        )
        steps = settings.get("steps_per_epoch") or len(train_data)
        if verbose:
            print(f"train step: {'XLA' if settings['jit_compile'] else 'without XLA'}",
                  flush=True)
        if settings.get("deterministic", False):
            enable_determinism(xla=settings["jit_compile"])
        optimizer = loss = None
        if "protocol" in settings:  # the schedule counts optimizer steps
            recipe = recorded_protocol(settings["protocol"])
            optimizer = recipe.optimizer(steps, settings["learning_rate"])
            loss = recipe.loss_function()
        # Built before the run folder is written: an invalid variant/regime pair
        # leaves nothing behind.
        model = build_model(run.model_config, run.regime, optimizer=optimizer, loss=loss)
        configure_train_step(model, settings.get("jit_compile"),
                             settings.get("steps_per_execution", 1))
        # Models of several outputs (PSP, CMBS) log their main output's metrics.
        monitor = registry.monitored_metric(model, run.regime, monitor)
        selecting = selection_callbacks(selection, model, data, settings["batch_size"],
                                        settings["seed"])
        if not resume:
            run_dir.mkdir(parents=True, exist_ok=True)
            run.save_config()
        # The losses read the real segments from their targets: the methods'
        # from labels zeroed at padding, the label-free ones from the mask.
        targets = (segment_mask_targets if run.regime == "unsupervised"
                   else registry.fit_targets(model))
        if targets is not None:
            train_data, val_data = (d.map(targets) for d in (train_data, val_data))
        train_data, val_data = (even_batches(d, replicas) for d in (train_data, val_data))
        metrics = RunMetrics(run_dir / METRICS_FILE, monitor, mode, history)
        fit_callbacks = [
            data_pass,
            *selecting,  # before the checkpoint: they add the monitored value
            # Before the backup: an epoch whose backup was not written is redone.
            BestCheckpoint(run_dir / BEST_MODEL_FILE, monitor, mode,
                           monitored_best(history, monitor, mode)),
            metrics,
            # Keras' TensorBoard writes through TensorFlow: no logs without it.
            # Each epoch's scalars reach the disk as the epoch ends (a killed
            # run keeps them): TensorFlow flushes a writer as Keras leaves its
            # `as_default()` block (tests/test_tensorboard_logs.py).
            *([keras.callbacks.TensorBoard(str(run_dir / LOGS_DIR))]
              if importlib.util.find_spec("tensorflow") else []),
            TrainingBackup(run_dir / BACKUP_DIR, backup_state),
            *callbacks,
        ]
        with _disk_full_is_clear(run_dir):
            model.fit(
                train_data,
                validation_data=val_data,
                epochs=settings["epochs"],
                initial_epoch=initial_epoch,
                steps_per_epoch=settings.get("steps_per_epoch"),
                validation_steps=settings.get("validation_steps"),
                callbacks=fit_callbacks,
                verbose=verbose,
                shuffle=False,  # the dataset shuffles itself, once per epoch
            )
        # TensorFlow's fit keeps its datasets in the global graph: let go of
        # the split's arrays and of the model (through `data_pass`).
        train_data.close()
        val_data.close()
    metrics.completed = True
    with _disk_full_is_clear(run_dir):
        metrics.write()
    return run
