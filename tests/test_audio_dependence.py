"""`selection="audio-dependence"`: the label-free epoch selection of the
unsupervised regime (`keras_avl.training.audio_dependence`)."""

import json

import numpy as np
import pytest
from keras import ops

from keras_avl.cli.main import main
from keras_avl.data import load_ave
from keras_avl.models import AVLConfig, build_model
from keras_avl.runs import load_run
from keras_avl.training import train
from keras_avl.training.audio_dependence import (
    AudioDependence,
    audio_dependence,
    val_batches,
)
from keras_avl.training.compare import train_command
from tests.ave_fixtures import TINY_MODEL, tiny_copy, tiny_root, write_h5  # noqa: F401


def reference_audio_dependence(own, swapped, valid):
    """The mean over the valid segments of 1/2 sum_s |p_s - q_s|, by loops."""
    total, count = 0.0, 0
    for n in range(own.shape[0]):
        for t in range(own.shape[1]):
            if valid[n, t]:
                p, q = own[n, t].ravel(), swapped[n, t].ravel()
                total += sum(abs(float(a) - float(b)) for a, b in zip(p, q)) / 2
                count += 1
    return total / count


def _softmax_maps(rng, shape):
    logits = rng.normal(size=shape)
    flat = np.exp(logits.reshape(shape[:2] + (-1,)))
    return (flat / flat.sum(-1, keepdims=True)).reshape(shape)


def test_audio_dependence_matches_a_numpy_transcription(rng):
    own, swapped = (_softmax_maps(rng, (3, 4, 2, 3)) for _ in range(2))
    valid = rng.random((3, 4)) < 0.6
    valid[0, 0] = True
    expected = reference_audio_dependence(own, swapped, valid)
    assert audio_dependence(own, swapped, valid) == pytest.approx(expected, rel=1e-12)
    # Its range: 0 for the same maps, 1 for maps on disjoint cells.
    assert audio_dependence(own, own, valid) == 0.0
    one_hot = np.zeros((1, 1, 2, 2)); one_hot[0, 0, 0, 0] = 1
    other = np.zeros((1, 1, 2, 2)); other[0, 0, 1, 1] = 1
    assert audio_dependence(one_hot, other, np.ones((1, 1))) == 1.0
    with pytest.raises(ValueError, match="at least one segment"):
        audio_dependence(own, swapped, np.zeros((3, 4)))


@pytest.fixture
def padded_data(tiny_copy):
    """The tiny dataset where video i has its last i % 4 segments padded."""
    real = 10 - np.arange(40) % 4
    write_h5(tiny_copy / "segment_mask.h5",
             (np.arange(10) < real[:, None]).astype(np.float32))
    return load_ave(tiny_copy)


def test_callback_scores_lambda_with_own_and_other_audio_on_real_segments(padded_data):
    config = AVLConfig(num_classes=5, visual_dim=8, audio_dim=8, **TINY_MODEL)
    model = build_model(config, "unsupervised")
    batches = val_batches(padded_data, batch_size=3, seed=1)
    callback = AudioDependence(batches)
    callback.set_model(model)
    callback.on_train_begin()
    logs = {"val_loss": 1.0}
    callback.on_epoch_end(0, logs)

    avfb = model.get_layer("avfb")
    own, swapped, valid = [], [], []
    for inputs in batches:
        for audio, maps in ((inputs["audio"], own), (inputs["audio_negative"], swapped)):
            _, attention = avfb([ops.convert_to_tensor(inputs["visual"]),
                                 ops.convert_to_tensor(audio)])
            maps.append(ops.convert_to_numpy(attention))
        valid.append((inputs["segment_mask"] == 1) & (inputs["segment_mask_negative"] == 1))
    own, swapped, valid = (np.concatenate(x) for x in (own, swapped, valid))
    assert own.shape == (8, 10, 49) and 0 < valid.sum() < valid.size
    expected = reference_audio_dependence(own, swapped, valid)
    assert logs["val_audio_dependence"] == pytest.approx(expected, rel=1e-4)
    # The padded segments are left out (they would change the value).
    assert reference_audio_dependence(own, swapped, np.ones_like(valid)) != pytest.approx(
        expected, rel=1e-4)
    assert callback.score() == logs["val_audio_dependence"]  # the same pairs every epoch


def test_train_selects_and_records_the_most_audio_dependent_epoch(tiny_root, tmp_path):
    kwargs = dict(data=tiny_root, epochs=3, verbose=0, deterministic=True, **TINY_MODEL)
    run = train(tmp_path / "selected", "unsupervised", selection="audio-dependence", **kwargs)
    assert load_run(run.path).training["selection"] == "audio-dependence"
    metrics = json.loads((run.path / "metrics.json").read_text())
    values = [entry["val_audio_dependence"] for entry in metrics["history"]]
    assert metrics["monitor"] == "val_audio_dependence" and metrics["mode"] == "max"
    assert metrics["best"] == max(values)
    assert metrics["best_epoch"] == 1 + int(np.argmax(values))
    # best.keras is the model of that epoch: its score on the same pairs.
    callback = AudioDependence(val_batches(load_ave(tiny_root), 64, seed=0))
    callback.set_model(run.load_model())
    callback.on_train_begin()
    assert callback.score() == pytest.approx(metrics["best"], rel=1e-5)
    # The selection only reads the model: training is the same as the default's.
    default = train(tmp_path / "default", "unsupervised", **kwargs)
    assert "selection" not in default.training
    history = json.loads((default.path / "metrics.json").read_text())["history"]
    assert [e["loss"] for e in history] == [e["loss"] for e in metrics["history"]]
    assert [e["val_loss"] for e in history] == [e["val_loss"] for e in metrics["history"]]


@pytest.mark.parametrize("regime, variant, overrides, message", [
    ("supervised", "paper", {}, "label-free selection for the unsupervised regime"),
    ("unsupervised", "ezvsl", {}, "cosine similarity map"),
    ("unsupervised", "paper", {"fusion": "lstm"}, "uniform whatever the audio"),
])
def test_where_it_cannot_apply_is_a_clear_error_before_anything_is_written(
        tiny_root, tmp_path, regime, variant, overrides, message):
    with pytest.raises(ValueError, match=message):
        train(tmp_path / "run", regime, variant, data=tiny_root, epochs=1, verbose=0,
              selection="audio-dependence", **{**TINY_MODEL, **overrides})
    assert not (tmp_path / "run").exists()
    with pytest.raises(ValueError, match="`selection` must be one of"):
        train(tmp_path / "run", "unsupervised", data=tiny_root, selection="val-pg")


def test_cli_option_and_reproducing_command(tiny_root, tmp_path):
    run_dir = tmp_path / "cli"
    sets = [w for key, value in TINY_MODEL.items() for w in ("--set", f"{key}={value}")]
    assert main(["train", "--regime", "unsupervised", "--data", str(tiny_root), "--epochs",
                 "1", "--run-dir", str(run_dir), "--verbose", "0",
                 "--selection", "audio-dependence", *sets]) == 0
    assert json.loads((run_dir / "metrics.json").read_text())["monitor"] == \
        "val_audio_dependence"
    command = train_command(run_dir, "unsupervised", "paper", None, 15, 64, 1e-3, 0, {},
                            selection="audio-dependence")
    assert "--selection audio-dependence" in command
    assert "--selection" not in train_command(run_dir, "unsupervised", "paper", None, 15, 64,
                                              1e-3, 0, {})
