"""Callbacks of `keras_avl.training.train` that keep a run folder consistent
when the process is killed: the best checkpoint, `metrics.json` and the
training backup are always complete files (written beside, then renamed), and
the backup holds everything a resumed run needs to continue exactly as an
uninterrupted one."""

import json
import math
import os
import zipfile
from pathlib import Path

import keras
import numpy as np

from keras_avl.atomic import atomic_path, atomic_write_text

BACKUP_STATE_FILE = "state.npz"


def monitored_best(history, monitor, mode):
    """The best value of `monitor` in `history` (a list of per-epoch dicts), or None."""
    values = [entry[monitor] for entry in history if monitor in entry]
    if not values:
        return None
    return max(values) if mode == "max" else min(values)


class BestCheckpoint(keras.callbacks.Callback):
    """Saves the model to `path` (a `.keras` file) when `monitor` improves.

    Unlike `keras.callbacks.ModelCheckpoint`, the file is written beside and
    renamed, so a kill during the save leaves the previous best intact; and
    `best` can start from the value of an interrupted run (resume).

    Args:
        path: the `.keras` file.
        monitor: the log key, e.g. `"val_categorical_accuracy"`.
        mode: `"max"` or `"min"`.
        best: the best value so far (None: the first epoch always saves).

    Example:

    >>> import tempfile, keras
    >>> callback = BestCheckpoint(tempfile.mkdtemp() + "/best.keras", "val_loss", "min")
    >>> callback.best is None
    True
    """

    def __init__(self, path, monitor, mode, best=None):
        super().__init__()
        self.path = Path(path)
        self.monitor = monitor
        self.mode = mode
        self.best = best

    def _improved(self, value):
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not math.isfinite(value):
            return
        if self._improved(value):
            self.best = float(value)
            # Keras wants the `.keras` suffix on the file it writes.
            tmp = self.path.with_name(f".{self.path.stem}.tmp.keras")
            try:
                self.model.save(tmp)
                os.replace(tmp, self.path)
            finally:  # a full disk leaves no partial file behind
                tmp.unlink(missing_ok=True)


class RunMetrics(keras.callbacks.Callback):
    """Writes `metrics.json` after every epoch: the per-epoch history, the
    monitored metric, its best epoch and whether training completed.

    On resume it continues the history of the interrupted run (an epoch that
    is trained again replaces its earlier entry).

    Args:
        path: the `metrics.json` file.
        monitor, mode: as `BestCheckpoint`.
        history: per-epoch dicts of the interrupted run, if any.
    """

    def __init__(self, path, monitor, mode, history=()):
        super().__init__()
        self.path = Path(path)
        self.monitor = monitor
        self.mode = mode
        self.history = list(history)
        self.completed = False

    def summary(self):
        best = monitored_best(self.history, self.monitor, self.mode)
        best_epoch = next(
            (entry["epoch"] for entry in self.history if entry.get(self.monitor) == best), None
        )
        return {
            "monitor": self.monitor,
            "mode": self.mode,
            "best": best,
            "best_epoch": best_epoch,
            "epochs_completed": len(self.history),
            "completed": self.completed,
            "history": self.history,
        }

    def write(self):
        atomic_write_text(self.path, json.dumps(self.summary(), indent=2) + "\n")

    def on_epoch_end(self, epoch, logs=None):
        entry = {"epoch": epoch + 1}
        entry.update({key: float(value) for key, value in (logs or {}).items()})
        self.history = [e for e in self.history if e["epoch"] < epoch + 1] + [entry]
        self.write()


def _training_variables(model):
    """Every variable that a training epoch changes, in a fixed order: the
    model's (weights, and the states of its random seed generators, e.g.
    dropout's) and the optimizer's (step count, Adam's moments)."""
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    optimizer = [] if model.optimizer is None else list(model.optimizer.variables)
    return list(model.variables) + optimizer


def read_backup(folder):
    """`(epochs_completed, arrays)` of the backup in `folder`, or `(0, None)`
    when there is none; raises a `ValueError` naming the file when it cannot
    be read."""
    path = Path(folder) / BACKUP_STATE_FILE
    if not path.is_file():
        return 0, None
    try:
        with np.load(path) as state:
            arrays = {key: state[key] for key in state.files}
        epoch = int(arrays.pop("epoch"))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"{path} is not a readable training backup ({error}); delete the "
            f"folder {Path(folder)} to resume from the start instead."
        ) from error
    return epoch, arrays


class TrainingBackup(keras.callbacks.Callback):
    """Backs up the whole training state after every epoch, and restores it
    when training starts again (what `BackupAndRestore` does, plus the random
    seed generators' states, which Keras' weight files leave out, in one file
    renamed into place, so that a kill never leaves a half-written backup).

    The caller passes the backup's epoch count to `fit(initial_epoch=...)`
    (see `read_backup`); the folder is kept when training ends, so that a
    finished run can be extended with more epochs.

    Args:
        folder: the backup folder.
        restore: the arrays of `read_backup`, or None for a fresh start.

    Example:

    >>> import tempfile
    >>> read_backup(tempfile.mkdtemp())
    (0, None)
    """

    def __init__(self, folder, restore=None):
        super().__init__()
        self.folder = Path(folder)
        self.restore = restore

    @property
    def path(self):
        return self.folder / BACKUP_STATE_FILE

    def on_train_begin(self, logs=None):
        if self.restore is None:
            return
        variables = _training_variables(self.model)
        saved = [self.restore.get(f"v{index}") for index in range(len(variables))]
        mismatched = [
            variable.path for variable, value in zip(variables, saved)
            if value is None or tuple(value.shape) != tuple(variable.shape)
        ]
        if mismatched or len(self.restore) != len(variables):
            raise ValueError(
                f"{self.path} does not match the model of this run: expected "
                f"{len(variables)} variables, found {len(self.restore)} "
                f"(first mismatch: {mismatched[:1]})."
            )
        for variable, value in zip(variables, saved):
            variable.assign(value)

    def on_epoch_end(self, epoch, logs=None):
        # Through a tensor: NumPy cannot read a scalar tf.distribute
        # MirroredVariable (the optimizer's step count) directly.
        arrays = {
            f"v{index}": keras.ops.convert_to_numpy(keras.ops.convert_to_tensor(variable))
            for index, variable in enumerate(_training_variables(self.model))
        }
        with atomic_path(self.path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, epoch=np.int64(epoch + 1), **arrays)


class DataPass(keras.callbacks.Callback):
    """The index of the pass over the data that an epoch draws (its shuffle
    order and negative audio): the epoch itself. Passed to
    `make_dataset(pass_index=...)`, which calls it as each pass begins.

    A dataset cannot count its own passes under `fit`: Keras ends an epoch at
    the dataset's cardinality without running its generator past the last
    batch, and a distributed fit begins a pass only to peek at one batch. With
    the epoch as the index, epoch k draws the same data in an uninterrupted run
    and in a run resumed at k.

    Args:
        initial_epoch: the epoch that training starts at (`fit`'s
            `initial_epoch`), the index of a pass begun before the first epoch.

    Example:

    >>> data_pass = DataPass(initial_epoch=2)
    >>> data_pass()
    2
    >>> data_pass.on_epoch_begin(3)
    >>> data_pass()
    3
    """

    def __init__(self, initial_epoch=0):
        super().__init__()
        self.epoch = initial_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def __call__(self):
        return self.epoch

    def __deepcopy__(self, memo):
        # keras-tuner deep-copies a search's callbacks for every trial; a copy
        # would no longer be the index that the dataset reads.
        return self
