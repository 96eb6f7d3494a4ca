"""Callbacks of `keras_avl.training.train` that keep a run folder consistent
when the process is killed: the best checkpoint and `metrics.json` are always
complete files (written beside, then renamed)."""

import json
import math
import os
from pathlib import Path

import keras

from keras_avl.atomic import atomic_write_text


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
            tmp = self.path.with_name(f".{self.path.stem}.tmp.keras")
            self.model.save(tmp)
            os.replace(tmp, self.path)


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
