"""`train`: trains one model of one regime and writes its run folder.

The run folder (see `keras_avl.runs`) gets `config.json` before the first
epoch, `best.keras` whenever the validation metric improves, `metrics.json`
after every epoch and TensorBoard logs under `logs/`. `backup/` holds Keras'
`BackupAndRestore` state while training runs, so `resume=True` continues a
killed run from its last completed epoch.

Checkpoint selection: the supervised and weak regimes keep the epoch of best
validation accuracy (per segment for supervised, per video for weak, the
labels each regime trains on); the unsupervised regime has no labels and keeps
the epoch of lowest validation AVTGML loss.
"""

import json
from pathlib import Path

from keras_avl.data import embedded_default, load_ave, make_dataset
from keras_avl.distribute import (
    DISTRIBUTIONS,
    check_global_batch,
    distribution_scope,
    even_batches,
    worker_folder,
)
from keras_avl.models import REGIMES, AVLConfig, VARIANTS, variant_config
from keras_avl.models import registry
from keras_avl.precision import precision_policy
from keras_avl.runs import (
    BEST_MODEL_FILE,
    LOGS_DIR,
    METRICS_FILE,
    Run,
    load_run,
)
from keras_avl.training.protocols import get_protocol
from keras_avl.validation import check_choice, check_positive_int

BACKUP_DIR = "backup"
DEFAULT_EPOCHS = 15
MONITORS = {
    "supervised": ("val_categorical_accuracy", "max"),
    "weak": ("val_categorical_accuracy", "max"),
    "unsupervised": ("val_loss", "min"),
}


def resolve_data(data=None, embedded_size="small"):
    """`(AVEData, folder)`: loads `data` (a folder or an `AVEData`); None means
    the embedded default of size `embedded_size`."""
    from keras_avl.data import AVEData

    if isinstance(data, AVEData):
        return data, data.root
    folder = Path(data) if data is not None else embedded_default(embedded_size)
    return load_ave(folder), folder


def _read_history(run_dir):
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return [], False
    metrics = json.loads(path.read_text(encoding="utf-8"))
    return metrics.get("history", []), bool(metrics.get("completed"))


def _new_run(run_dir, regime, variant, data, data_arg, embedded_size, training, overrides):
    check_choice("regime", regime, REGIMES)
    check_choice("variant", variant, registry.model_names())
    base_fields = {**data.model_config_kwargs(), "learning_rate": training["learning_rate"]}
    if variant in VARIANTS:
        config = variant_config(variant, AVLConfig(**base_fields)).replace(**overrides)
    else:  # a registered method (AVSDN, PSP, CMBS): its own config class
        registry.get(variant).check_regime(regime)
        config = registry.method_config(variant, base_fields, overrides)
    if data_arg is None:
        training = {**training, "embedded_size": embedded_size}
    return Run(
        path=run_dir,
        regime=regime,
        variant=variant,
        model_config=config,
        data=None if data_arg is None else str(Path(data.root).resolve()),
        training=training,
    )


def train(
    run_dir,
    regime=None,
    variant="paper",
    data=None,
    epochs=None,
    batch_size=64,
    learning_rate=1e-3,
    seed=0,
    resume=False,
    verbose=1,
    callbacks=(),
    embedded_size="small",
    steps_per_epoch=None,
    validation_steps=None,
    distribute="none",
    mixed_precision=False,
    protocol=None,
    **model_overrides,
):
    """Trains a model and writes the run folder `run_dir`.

    Args:
        run_dir: the run folder; it must not exist (or be empty) unless `resume`.
        regime: `"supervised"`, `"weak"` or `"unsupervised"` (read from the
            run folder when resuming).
        variant: a name of `keras_avl.models.VARIANTS` (`"paper"`, `"audio"`,
            `"avatt"`, `"fusion-mfb"`, ...) or of a registered method
            (`keras_avl.models.METHODS`: `"avsdn"`, `"psp"`, `"cmbs"`).
        data: the dataset folder (AVE layout) or an `AVEData`; None: the
            embedded default (`keras_avl.data.embedded_default(embedded_size)`).
        epochs: total epochs (default: the protocol's, else `DEFAULT_EPOCHS`).
        batch_size: videos per batch (AVE: 64).
        learning_rate: Adam's learning rate (AVE: 1e-3).
        seed: seeds the weights, the shuffling and the negative audio.
        resume: continue the interrupted run in `run_dir` from its last
            completed epoch, with the settings saved in its `config.json`;
            a completed run is returned as is.
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
            in float32 (`keras_avl.precision`).
        protocol: a method's own recipe (`keras_avl.training.protocols`, e.g.
            `"psp-cvpr21-supervised"`): it sets the batch size, the learning
            rate and its schedule, the gradient clipping, the config values of
            the recipe (overrides still win) and, unless `epochs` is given, the
            epochs; recorded in `config.json`. The epoch is still selected on val.
        **model_overrides: fields of the model's config to change (e.g.
            `hidden=64`): `AVLConfig` for the variants, the method's own config
            class for a registered method.

    Returns:
        The `keras_avl.runs.Run`.

    Example:

    >>> import os, tempfile
    >>> os.environ["KERAS_AVL_HOME"] = tempfile.mkdtemp()
    >>> run = train(tempfile.mkdtemp() + "/run", "supervised", epochs=1, verbose=0,
    ...             embedded_size="tiny", hidden=8, embed_dim=8, mfb_output_dim=8,
    ...             swab_units=8)
    >>> sorted(p.name for p in run.path.iterdir())
    ['best.keras', 'config.json', 'logs', 'metrics.json']
    """
    import keras

    from keras_avl.training.callbacks import BestCheckpoint, RunMetrics, monitored_best

    run_dir = Path(run_dir)
    if check_choice("distribute", distribute, DISTRIBUTIONS) == "multiworker":
        run_dir = worker_folder(run_dir)
    if resume:
        run = load_run(run_dir)
        for name, value in (("regime", regime), ("variant", variant if variant != "paper" else None)):
            if value is not None and value != getattr(run, name):
                raise ValueError(
                    f"Cannot resume {run_dir} with {name}={value!r}: the run was "
                    f"started with {name}={getattr(run, name)!r}."
                )
        data, _ = resolve_data(run.data, run.training.get("embedded_size", embedded_size))
    else:
        if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
            raise FileExistsError(
                f"Run folder {run_dir} already exists; choose a new folder, or pass "
                "resume=True (CLI: --resume) to continue it."
            )
        if regime is None:
            raise ValueError(f"`regime` must be one of {REGIMES}; received regime=None.")
        recipe = None
        if protocol is not None:
            recipe = get_protocol(protocol)
            recipe.check(variant, regime)
            batch_size, learning_rate = recipe.batch_size, recipe.learning_rate
            epochs = recipe.epochs if epochs is None else epochs
            model_overrides = {**recipe.config, **model_overrides}
        training = {
            "epochs": check_positive_int("epochs", DEFAULT_EPOCHS if epochs is None else epochs),
            "batch_size": check_positive_int("batch_size", batch_size),
            "learning_rate": float(learning_rate),
            "seed": int(seed),
        }
        for name, steps in (("steps_per_epoch", steps_per_epoch),
                            ("validation_steps", validation_steps)):
            if steps is not None:
                training[name] = check_positive_int(name, steps)
        if distribute != "none":
            training["distribute"] = distribute
        if mixed_precision:
            training["mixed_precision"] = True
        if recipe is not None:
            training["protocol"] = recipe.to_dict()
        data_arg = data
        data, _ = resolve_data(data, embedded_size)
        run = _new_run(run_dir, regime, variant, data, data_arg, embedded_size,
                       training, model_overrides)

    history, completed = _read_history(run_dir)
    if completed:
        return run
    settings = run.training
    monitor, mode = MONITORS[run.regime]
    keras.utils.set_random_seed(settings["seed"])
    with distribution_scope(settings.get("distribute", "none")) as replicas, \
            precision_policy(settings.get("mixed_precision", False)):
        check_global_batch(settings["batch_size"], replicas)
        train_data = make_dataset(data, "train", run.regime, settings["batch_size"],
                                  seed=settings["seed"])
        val_data = make_dataset(data, "val", run.regime, settings["batch_size"],
                                seed=settings["seed"])
        optimizer = None
        if "protocol" in settings:  # the schedule counts optimizer steps
            steps = settings.get("steps_per_epoch") or int(train_data.cardinality())
            optimizer = get_protocol(settings["protocol"]["name"]).optimizer(steps)
        # Built before the run folder is written: an invalid variant/regime pair
        # leaves nothing behind.
        model = registry.build(run.model_config, run.regime, optimizer=optimizer)
        # Models of several outputs (PSP, CMBS) log their main output's metrics.
        monitor = registry.monitored_metric(model, run.regime, monitor)
        if not resume:
            run_dir.mkdir(parents=True, exist_ok=True)
            run.save_config()
        targets = registry.fit_targets(model)
        if targets is not None:
            train_data, val_data = (d.map(targets) for d in (train_data, val_data))
        train_data, val_data = (even_batches(d, replicas) for d in (train_data, val_data))
        metrics = RunMetrics(run_dir / METRICS_FILE, monitor, mode, history)
        fit_callbacks = [
            # Before the backup: an epoch whose backup was not written is redone.
            BestCheckpoint(run_dir / BEST_MODEL_FILE, monitor, mode,
                           monitored_best(history, monitor, mode)),
            metrics,
            keras.callbacks.BackupAndRestore(str(run_dir / BACKUP_DIR)),
            keras.callbacks.TensorBoard(str(run_dir / LOGS_DIR)),
            *callbacks,
        ]
        model.fit(
            train_data,
            validation_data=val_data,
            epochs=settings["epochs"],
            steps_per_epoch=settings.get("steps_per_epoch"),
            validation_steps=settings.get("validation_steps"),
            callbacks=fit_callbacks,
            verbose=verbose,
            shuffle=False,  # the dataset shuffles itself, once per epoch
        )
    metrics.completed = True
    metrics.write()
    return run
