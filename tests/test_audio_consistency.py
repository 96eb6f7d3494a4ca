"""`selection="audio-consistency"`: the label-free epoch selection of the
unsupervised regime (`keras_avl.training.audio_consistency`)."""

import json

import numpy as np
import pytest
from keras import ops

from keras_avl.cli.main import main
from keras_avl.data import load_ave
from keras_avl.models import EZVSLConfig, PaperConfig, build_model
from keras_avl.runs import load_run
from keras_avl.training import train
from keras_avl.training.audio_consistency import (
    AudioConsistency,
    audio_consistency,
    val_batches,
)
from keras_avl.training.compare import train_command
from keras_avl.training_config import TrainingConfig
from tests.ave_fixtures import TINY_MODEL, tiny_copy, tiny_root, write_h5  # noqa: F401


def pearson(x, y):
    """The Pearson correlation of two lists, 0 when one is constant."""
    mx, my = sum(x) / len(x), sum(y) / len(y)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return 0.0 if sxx == 0 or syy == 0 else sxy / (sxx * syy) ** 0.5


def reference_audio_consistency(own, swapped, valid):
    """The mean over consecutive segments (t, t+1) both valid of
    rho(own_t, own_t+1) - rho(swapped_t, swapped_t+1), by loops."""
    total, count = 0.0, 0
    for n in range(own.shape[0]):
        for t in range(own.shape[1] - 1):
            if valid[n, t] and valid[n, t + 1]:
                maps = [[float(v) for v in m[n, s].ravel()] for m in (own, swapped)
                        for s in (t, t + 1)]
                total += pearson(maps[0], maps[1]) - pearson(maps[2], maps[3])
                count += 1
    return total / count


def _softmax_maps(rng, shape):
    logits = rng.normal(size=shape)
    flat = np.exp(logits.reshape(shape[:2] + (-1,)))
    return (flat / flat.sum(-1, keepdims=True)).reshape(shape)


def test_audio_consistency_matches_a_numpy_transcription(rng):
    own, swapped = (_softmax_maps(rng, (3, 5, 2, 3)) for _ in range(2))
    own[1, 2] = 1 / 6  # a uniform map: its correlations count as 0
    valid = rng.random((3, 5)) < 0.7
    valid[0, :2] = valid[1, 1:4] = True
    expected = reference_audio_consistency(own, swapped, valid)
    assert audio_consistency(own, swapped, valid) == pytest.approx(expected, rel=1e-12)
    # 0 for a map the audio does not change; 2 for a map that repeats itself
    # with its own sound and flips with another's.
    assert audio_consistency(own, own, valid) == 0.0
    steady = np.tile([[1.0, 0.0, 0.0]], (1, 3, 1))
    flipping = np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 1.0], [1.0, 0.0, 0.0]]])
    assert audio_consistency(steady, flipping, np.ones((1, 3))) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="two consecutive segments"):
        audio_consistency(own, swapped, np.tile([1, 0], (3, 3))[:, :5])


@pytest.fixture
def padded_data(tiny_copy):
    """The tiny dataset where video i has its last i % 4 segments padded."""
    real = 10 - np.arange(40) % 4
    write_h5(tiny_copy / "segment_mask.h5",
             (np.arange(10) < real[:, None]).astype(np.float32))
    return load_ave(tiny_copy)


def _avfb_maps(model, batches):
    """lambda of AVFB called directly, with the own and the other audio."""
    avfb = model.get_layer("avfb")
    own, swapped, valid = [], [], []
    for inputs in batches:
        for audio, maps in ((inputs["audio"], own), (inputs["audio_negative"], swapped)):
            _, attention = avfb([ops.convert_to_tensor(inputs["visual"]),
                                 ops.convert_to_tensor(audio)])
            maps.append(ops.convert_to_numpy(attention))
        valid.append((inputs["segment_mask"] == 1) & (inputs["segment_mask_negative"] == 1))
    return [np.concatenate(x) for x in (own, swapped, valid)]


def test_callback_scores_lambda_with_own_and_other_audio_on_real_segments(padded_data):
    config = PaperConfig(num_classes=5, visual_dim=8, audio_dim=8, **TINY_MODEL)
    model = build_model(config, "unsupervised")
    batches = val_batches(padded_data, batch_size=3, seed=1)
    callback = AudioConsistency(batches)
    callback.set_model(model)
    callback.on_train_begin()
    logs = {"val_loss": 1.0}
    callback.on_epoch_end(0, logs)

    own, swapped, valid = _avfb_maps(model, batches)
    assert own.shape == (8, 10, 49) and 0 < valid.sum() < valid.size
    expected = reference_audio_consistency(own, swapped, valid)
    assert logs["val_audio_consistency"] == pytest.approx(expected, rel=1e-4, abs=1e-6)
    # The padded segments are left out (they would change the value).
    assert reference_audio_consistency(own, swapped, np.ones_like(valid)) != pytest.approx(
        expected, rel=1e-4, abs=1e-6)
    assert callback.score() == logs["val_audio_consistency"]  # the same pairs every epoch


def test_the_contrastive_baselines_cosine_map_is_scored_too(tiny_root):
    model = build_model(EZVSLConfig(visual_dim=8, audio_dim=8,
                                  embed_dim=8), "unsupervised")
    batches = val_batches(load_ave(tiny_root), batch_size=64, seed=0)
    callback = AudioConsistency(batches)
    callback.set_model(model)
    callback.on_train_begin()
    similarity = model.get_layer("audio_visual_similarity")
    (inputs,) = batches
    maps = [ops.convert_to_numpy(similarity([ops.convert_to_tensor(inputs["visual"]),
                                             ops.convert_to_tensor(inputs[key])])[1])
            for key in ("audio", "audio_negative")]
    expected = reference_audio_consistency(*maps, np.ones((8, 10), bool))
    assert callback.score() == pytest.approx(expected, rel=1e-4, abs=1e-6)


@pytest.mark.slow  # long end to end; `bash scripts/test.sh --all` runs it
def test_train_selects_and_records_the_most_audio_consistent_epoch(tiny_root, tmp_path):
    kwargs = dict(data=tiny_root, epochs=3, verbose=0, deterministic=True, model_config=TINY_MODEL)
    run = train(tmp_path / "selected", "unsupervised", selection="audio-consistency", **kwargs)
    assert load_run(run.path).training.selection == "audio-consistency"
    metrics = json.loads((run.path / "metrics.json").read_text())
    values = [entry["val_audio_consistency"] for entry in metrics["history"]]
    assert metrics["monitor"] == "val_audio_consistency" and metrics["mode"] == "max"
    assert metrics["best"] == max(values)
    assert metrics["best_epoch"] == 1 + int(np.argmax(values))
    # best.keras is the model of that epoch: its score on the same pairs.
    own, swapped, valid = _avfb_maps(run.load_model(), val_batches(load_ave(tiny_root), 64, 0))
    assert reference_audio_consistency(own, swapped, valid) == pytest.approx(
        metrics["best"], rel=1e-4, abs=1e-6)
    # The selection only reads the model: training is the same as the default's.
    default = train(tmp_path / "default", "unsupervised", **kwargs)
    assert "selection" not in default.training
    history = json.loads((default.path / "metrics.json").read_text())["history"]
    assert [e["loss"] for e in history] == [e["loss"] for e in metrics["history"]]
    assert [e["val_loss"] for e in history] == [e["val_loss"] for e in metrics["history"]]


@pytest.mark.parametrize("regime, overrides, message", [
    ("supervised", {}, "label-free selection for the unsupervised regime"),
    ("weak", {}, "label-free selection for the unsupervised regime"),
    ("unsupervised", {"fusion": "lstm"}, "uniform whatever the audio"),
])
def test_where_it_cannot_apply_is_a_clear_error_before_anything_is_written(
        tiny_root, tmp_path, regime, overrides, message):
    with pytest.raises(ValueError, match=message):
        train(tmp_path / "run", regime, data=tiny_root, epochs=1, verbose=0,
              selection="audio-consistency", model_config={**TINY_MODEL, **overrides})
    assert not (tmp_path / "run").exists()


def test_unknown_selection_and_model_without_attention(tiny_root, tmp_path):
    with pytest.raises(ValueError, match="`selection` must be one of"):
        train(tmp_path / "run", "unsupervised", data=tiny_root, selection="val-pg")
    from keras_avl.training.audio_consistency import selection_callbacks

    without = build_model(PaperConfig(num_classes=5, visual_dim=8, audio_dim=8,
                                    modalities="audio+visual", **TINY_MODEL), "supervised")
    with pytest.raises(ValueError, match="has none"):
        selection_callbacks("audio-consistency", without, load_ave(tiny_root), 64, 0)
    assert not (tmp_path / "run").exists()


def test_cli_option_and_reproducing_command(tiny_root, tmp_path):
    run_dir = tmp_path / "cli"
    sets = [w for key, value in TINY_MODEL.items() for w in ("--set", f"{key}={value}")]
    assert main(["train", "--regime", "unsupervised", "--data", str(tiny_root), "--epochs",
                 "1", "--run-dir", str(run_dir), "--verbose", "0",
                 "--selection", "audio-consistency", *sets]) == 0
    assert json.loads((run_dir / "metrics.json").read_text())["monitor"] == \
        "val_audio_consistency"
    command = train_command(run_dir, "unsupervised", "paper", None,
                            TrainingConfig(epochs=15, selection="audio-consistency"))
    assert "--selection audio-consistency" in command
    assert "--selection" not in train_command(run_dir, "unsupervised", "paper", None,
                                              TrainingConfig(epochs=15))
