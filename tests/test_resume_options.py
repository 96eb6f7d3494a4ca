"""`train --resume` honours the recorded run: options that contradict it are
clear errors naming the option, the recorded and the given value; more
`--epochs` extend it; the recipe (optimizer, schedule, loss) comes from
`config.json`, not from today's protocol of that name."""

import json

import keras
import pytest

from keras_avl.cli.main import main
from keras_avl.training import train
from keras_avl import protocols
from tests.ave_fixtures import TINY_MODEL, tiny_root  # noqa: F401


class _Killed(Exception):
    pass


class _KillAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise _Killed()


@pytest.fixture(scope="module")
def interrupted(tiny_root, tmp_path_factory):
    """A run of `audio` under AVE-ECCV18's recipe, killed after epoch 1 of 2."""
    run_dir = tmp_path_factory.mktemp("resume") / "run"
    with pytest.raises(_Killed):
        train(run_dir, "supervised", "audio", data=tiny_root, epochs=2, batch_size=8,
              protocol="ave-eccv18-supervised", verbose=0,
              callbacks=[_KillAfterFirstEpoch()], model_config=TINY_MODEL)
    return run_dir


@pytest.mark.parametrize("words, message", [
    (["--model", "paper"], "model='paper' (--model paper): the run was recorded with "
                           "model='audio'"),
    (["--regime", "weak"], "regime='weak' (--regime weak): the run was recorded with "
                           "regime='supervised'"),
    # The protocol's batch size, not the one its first command gave.
    (["--batch-size", "8"], "batch_size=8 (--batch-size 8): the run was recorded with "
                            "batch_size=64"),
    (["--protocol", "own"], "protocol='own' (--protocol own): the run was recorded with "
                            "protocol='ave-eccv18-supervised'"),
    (["--seed", "4"], "seed=4 (--seed 4): the run was recorded with seed=0"),
    (["--jit-compile", "on"], "jit_compile=True (--jit-compile): the run was recorded "
                              "with jit_compile="),
    (["--set", "hidden=16"], "hidden=16 (--set hidden=16): the run was recorded with hidden=8"),
    (["--epochs", "1"], "epochs=1 (--epochs 1): the run was recorded with epochs=2 "
                        "(more epochs extend it; fewer cannot)"),
])
def test_contradicting_options_are_clear_errors(interrupted, words, message, capsys):
    before = (interrupted / "config.json").read_text()
    assert main(["train", "--resume", "--run-dir", str(interrupted), *words]) == 2
    error = capsys.readouterr().err
    assert f"Cannot continue the run {interrupted} with {message}" in error
    assert "Nothing was changed" in error
    assert (interrupted / "config.json").read_text() == before


def _in_the_format_before_training_config(run_dir):
    """Rewrites the run's `config.json` as keras-avl wrote it before the
    recipe was a `TrainingConfig`: the options given, the protocol a
    sub-dict of the recipe as it then was."""
    path = run_dir / "config.json"
    config = json.loads(path.read_text())
    training = config["training"]
    config["training"] = {
        **{key: training[key] for key in ("epochs", "batch_size", "learning_rate", "seed",
                                          "jit_compile", "deterministic")},
        "protocol": {"name": training["protocol"], "model": "avatt", "regime": "supervised",
                     "epochs": 300, "batch_size": 64, "learning_rate": 0.001,
                     "decay_epochs": [], "decay": 1.0, "step_lr": [15000, 0.1],
                     "clipnorm": None, "loss": "multilabel-soft-margin", "config": {},
                     "dtype_policy": None, "fits": ["paper", "audio"], "source": "x"}}
    path.write_text(json.dumps(config))
    return training


@pytest.mark.parametrize("recorded_format", ["TrainingConfig", "before"])
def test_resume_reads_the_recorded_recipe_and_extends_with_more_epochs(
        interrupted, tmp_path, monkeypatch, recorded_format):
    import shutil

    from keras_avl.runs import load_run

    run_dir = tmp_path / "run"
    shutil.copytree(interrupted, run_dir)
    if recorded_format == "before":
        today = _in_the_format_before_training_config(run_dir)
        assert load_run(run_dir).training.to_dict() == today
    # Today's code without that protocol: the resume reads config.json.
    monkeypatch.setattr(protocols, "PROTOCOLS", {})
    run = train(run_dir, resume=True, epochs=3, verbose=0)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["completed"] and [e["epoch"] for e in metrics["history"]] == [1, 2, 3]
    assert run.training.epochs == 3
    assert run.training.protocol == "ave-eccv18-supervised"
    assert json.loads((run_dir / "config.json").read_text())["training"]["epochs"] == 3


def test_a_full_disk_mid_run_is_a_clear_error_and_leaves_no_partial_file(
        tiny_root, tmp_path, monkeypatch):
    import errno

    import numpy as np

    savez, calls = np.savez, []

    def full_at_the_second_backup(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            args[0].write(b"partial")  # what a full disk leaves of the write
            raise OSError(errno.ENOSPC, "No space left on device")
        return savez(*args, **kwargs)

    monkeypatch.setattr(np, "savez", full_at_the_second_backup)
    run_dir = tmp_path / "run"
    with pytest.raises(OSError, match=f"No space left on device while writing the run "
                                      f"{run_dir} .*continue it with resume=True"):
        train(run_dir, "supervised", "audio", data=tiny_root, epochs=3, batch_size=8,
              verbose=0, model_config=TINY_MODEL)
    assert not [p for p in run_dir.rglob("*") if ".tmp" in p.name]
    metrics = json.loads((run_dir / "metrics.json").read_text())  # whole, not partial
    assert [e["epoch"] for e in metrics["history"]] == [1, 2]
    monkeypatch.setattr(np, "savez", savez)
    train(run_dir, resume=True, verbose=0)  # the backup of epoch 1 is intact
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["completed"] and [e["epoch"] for e in metrics["history"]] == [1, 2, 3]
