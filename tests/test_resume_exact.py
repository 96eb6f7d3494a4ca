"""A run killed with SIGKILL after epoch k and resumed with `--resume` ends
exactly as the same command never interrupted: same `metrics.json` history,
same best checkpoint, same TensorBoard scalars (bit-identical on CPU).

The unsupervised regime with MFB dropout exercises every source of state a
resume must restore: the shuffle order and negative audio of each pass, the
dropout seed generators, Adam's moments and step, and the best validation loss
so far. The real CLI runs in subprocesses; the test kills the training
process once `metrics.json` records epoch k, wherever it then is. The fast
tests resume in-process, every regime, killed after epoch 2's records but
before its backup.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_avl.training import train
from keras_avl.training.callbacks import BACKUP_STATE_FILE
from keras_avl.training.train import BACKUP_DIR
from tests.ave_fixtures import TINY_MODEL, tiny_root  # noqa: F401

EPOCHS, KILL_AFTER = 5, 2


def _command(run_dir, *extra):
    overrides = [f"--set={key}={value}" for key, value in TINY_MODEL.items()]
    return [sys.executable, "-m", "keras_avl.cli.main", "train", "--run-dir", str(run_dir),
            "--verbose", "0", *extra, *overrides, "--set=mfb_dropout=0.3"]


def _train_arguments():
    return ["--regime", "unsupervised", "--embedded-size", "tiny", "--epochs", str(EPOCHS),
            "--batch-size", "8", "--seed", "3"]


def _history(run_dir):
    try:
        return json.loads((run_dir / "metrics.json").read_text())["history"]
    except (FileNotFoundError, ValueError):  # not written yet
        return []


def _scalars(run_dir):
    """{(writer, tag, step): value} of every TensorBoard event file; a
    (writer, tag, step) written twice (an epoch trained again) must agree."""
    import tensorflow as tf

    scalars = {}
    for path in sorted((run_dir / "logs").rglob("events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                if value.tag.startswith("epoch_"):
                    key = (path.parent.name, value.tag, event.step)
                    number = float(tf.make_ndarray(value.tensor))
                    assert scalars.setdefault(key, number) == number, key
    return scalars


def _best_weights(run_dir):
    from keras_avl.runs import load_run

    return [np.asarray(w) for w in load_run(run_dir).load_model().get_weights()]


@pytest.mark.slow  # long end to end; `bash scripts/test.sh --all` runs it
def test_a_killed_and_resumed_run_equals_an_uninterrupted_one(tmp_path):
    env = dict(os.environ, KERAS_AVL_HOME=str(tmp_path / "home"))
    # Generate the dataset once, so both runs start on equal terms.
    subprocess.run([sys.executable, "-c", "from keras_avl.data import embedded_default; "
                    "embedded_default('tiny')"], env=env, check=True)
    reference_dir, run_dir = tmp_path / "reference", tmp_path / "run"
    reference = subprocess.Popen(_command(reference_dir, *_train_arguments()), env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    killed = subprocess.Popen(_command(run_dir, *_train_arguments()), env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while len(_history(run_dir)) < KILL_AFTER and killed.poll() is None:
        assert time.monotonic() < deadline, "training did not reach the kill point"
        time.sleep(0.02)
    killed.send_signal(signal.SIGKILL)
    assert killed.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    interrupted = json.loads((run_dir / "metrics.json").read_text())
    assert not interrupted["completed"] and KILL_AFTER <= len(interrupted["history"]) < EPOCHS

    resumed = subprocess.run(_command(run_dir, "--resume"), env=env, capture_output=True,
                             text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert reference.wait(timeout=600) == 0, reference.stderr.read()

    expected = json.loads((reference_dir / "metrics.json").read_text())
    found = json.loads((run_dir / "metrics.json").read_text())
    assert [entry["epoch"] for entry in found["history"]] == list(range(1, EPOCHS + 1))
    assert found == expected  # every loss of every epoch, the best epoch, completed
    for old, new in zip(_best_weights(reference_dir), _best_weights(run_dir), strict=True):
        np.testing.assert_array_equal(new, old)
    reference_scalars = _scalars(reference_dir)
    assert {step for _, _, step in reference_scalars} == set(range(EPOCHS))
    assert _scalars(run_dir) == reference_scalars
    assert (run_dir / "backup").is_dir()  # kept: more epochs can extend the run


class _KilledBeforeSecondBackup(keras.callbacks.Callback):
    """Copies the run folder as a kill leaves it once epoch 2 is in
    `metrics.json`, `best.keras` and the TensorBoard logs but before its
    backup: with epoch 1's backup. (`train`'s own callbacks run before the
    extra ones, so the folder holds all of epoch 2 here.)"""

    def __init__(self, source, target):
        super().__init__()
        self.source, self.target = source, target
        self.first_backup = None

    def on_epoch_end(self, epoch, logs=None):
        backup = Path(BACKUP_DIR) / BACKUP_STATE_FILE
        if epoch == 0:
            self.first_backup = (self.source / backup).read_bytes()
        elif epoch == 1:
            shutil.copytree(self.source, self.target)
            (self.target / backup).write_bytes(self.first_backup)


# Under JAX too for the regime of the most state (~15 s of XLA compiling each).
@pytest.mark.parametrize("regime", ["supervised", "weak",
                                    pytest.param("unsupervised", marks=[
                                        pytest.mark.multibackend,
                                        # reads the TensorBoard logs with TensorFlow
                                        pytest.mark.notorch])])
def test_epoch_two_trained_again_from_epoch_one_backup_equals_the_uninterrupted_run(
        regime, tiny_root, tmp_path, tf_functions_eagerly):
    reference, run = tmp_path / "reference", tmp_path / "run"
    train(reference, regime, data=tiny_root, epochs=3, batch_size=8, seed=3, verbose=0,
          callbacks=[_KilledBeforeSecondBackup(reference, run)],
          model_config=dict(TINY_MODEL, mfb_dropout=0.3))

    def metrics(folder):
        return json.loads((folder / "metrics.json").read_text())

    assert len(metrics(run)["history"]) == 2 and not metrics(run)["completed"]
    train(run, resume=True, verbose=0)
    # Every loss and metric of epochs 2 (trained again) and 3, bit for bit.
    assert [entry["epoch"] for entry in metrics(run)["history"]] == [1, 2, 3]
    assert metrics(run) == metrics(reference)
    for old, new in zip(_best_weights(reference), _best_weights(run), strict=True):
        np.testing.assert_array_equal(new, old)
    assert _scalars(run) == _scalars(reference)  # epoch 2's, written twice, agree


def test_each_epoch_trains_on_its_own_pass_and_validates_on_the_same_pairs(
        tiny_root, tmp_path, monkeypatch, tf_functions_eagerly):
    """The data of a pass is drawn from `default_rng([seed, pass])`: the
    train split draws pass e in epoch e (a new shuffle order and negative
    audio), the val split the same negative audio every epoch."""
    drawn, default_rng = [], np.random.default_rng

    def recording_rng(seed=None):
        drawn.append(seed)
        return default_rng(seed)

    monkeypatch.setattr(np.random, "default_rng", recording_rng)
    train(tmp_path / "run", "unsupervised", data=tiny_root, epochs=3, batch_size=8, seed=3,
          verbose=0, model_config=TINY_MODEL)
    passes = [list(seed) for seed in drawn if isinstance(seed, list)]
    # (train, val) per epoch, in the order fit draws them.
    assert passes == [[3, 0], [3, 0], [3, 1], [3, 0], [3, 2], [3, 0]]


# --- SIGKILL at a random batch of an epoch (training or validation), every
# regime, TensorFlow graph mode and XLA, and JAX.

_KILLED_RUN = """
import os, signal, sys, keras
from keras_avl.training import train

class Kill(keras.callbacks.Callback):
    # SIGKILL, as a user's kill -9: no handler, no cleanup, mid-epoch.
    def __init__(self):
        super().__init__()
        self.epoch = 0
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
    def _maybe(self, phase, batch):
        if (self.epoch, phase, batch) == ({epoch}, {phase!r}, {batch}):
            os.kill(os.getpid(), signal.SIGKILL)
    def on_train_batch_end(self, batch, logs=None):
        self._maybe("train", batch)
    def on_test_batch_end(self, batch, logs=None):
        self._maybe("test", batch)

train({run_dir!r}, {regime!r}, data={data!r}, epochs={epochs}, batch_size=8, seed=3,
      verbose=0, jit_compile={jit}, callbacks=[Kill()],
      model_config=dict(mfb_dropout=0.3, {model}))
"""


def _kill_mid_epoch(tmp_path, data, regime, backend, jit, epochs, draw):
    """Reference run, a run SIGKILLed at the drawn (epoch, phase, batch), its
    `--resume`; all in subprocesses. Returns both run folders."""
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
    epoch, phase = draw.randrange(epochs), draw.choice(["train", "test"])
    batch = draw.randrange(3 if phase == "train" else 1)  # 24 train / 8 val videos, batch 8
    point = f"epoch {epoch + 1}, {phase} batch {batch + 1}"
    model = ", ".join(f"{key}={value}" for key, value in TINY_MODEL.items())
    reference_dir, run_dir = tmp_path / "reference", tmp_path / "run"
    jit_word = {True: "on", False: "off"}[jit]
    reference = subprocess.run(
        [*_command(reference_dir, "--regime", regime, "--data", str(data), "--epochs",
                   str(epochs), "--batch-size", "8", "--seed", "3", "--jit-compile",
                   jit_word)],
        env=env, capture_output=True, text=True, timeout=900)
    assert reference.returncode == 0, reference.stderr[-3000:]
    script = _KILLED_RUN.format(run_dir=str(run_dir), regime=regime, data=str(data),
                                epochs=epochs, jit=jit, model=model, epoch=epoch,
                                phase=phase, batch=batch)
    killed = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, timeout=900)
    assert killed.returncode == -signal.SIGKILL, (point, killed.stderr[-3000:])
    resumed = subprocess.run(_command(run_dir, "--resume"), env=env, capture_output=True,
                             text=True, timeout=900)
    assert resumed.returncode == 0, (point, resumed.stderr[-3000:])
    return reference_dir, run_dir, point


def _assert_same_run(reference_dir, run_dir, point):
    expected = json.loads((reference_dir / "metrics.json").read_text())
    assert json.loads((run_dir / "metrics.json").read_text()) == expected, point
    for old, new in zip(_best_weights(reference_dir), _best_weights(run_dir), strict=True):
        np.testing.assert_array_equal(new, old, err_msg=point)
    assert _scalars(run_dir) == _scalars(reference_dir), point


CASES = [(regime, backend, jit) for regime in ("supervised", "weak", "unsupervised")
         for backend, jit in (("tensorflow", False), ("tensorflow", True), ("jax", True))]


@pytest.mark.slow  # 9 cases of 3 subprocesses each; `bash scripts/test.sh --all`
@pytest.mark.parametrize("regime, backend, jit", CASES)
def test_a_run_killed_at_a_random_batch_resumes_bit_for_bit(
        regime, backend, jit, tiny_root, tmp_path):
    import random

    draw = random.Random()  # a new point at every run of the suite; the message names it
    _assert_same_run(*_kill_mid_epoch(tmp_path, tiny_root, regime, backend, jit, 3, draw))


def test_a_supervised_run_killed_mid_epoch_resumes_bit_for_bit(tiny_root, tmp_path):
    """The default tier's case: TensorFlow graph mode, killed in epoch 2's
    training batches."""
    import random

    class Drawn(random.Random):  # epoch 2 (index 1), a training batch
        def randrange(self, stop):
            return 1 if stop == 2 else super().randrange(stop)

        def choice(self, options):
            return "train"

    _assert_same_run(*_kill_mid_epoch(tmp_path, tiny_root, "supervised", "tensorflow",
                                      False, 2, Drawn(0)))
