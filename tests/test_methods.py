"""AVSDN, PSP, CMBS and CACE-Net as models: every method trains a few steps in
each of its regimes (supervised and weak; CACE-Net supervised only), exposes
its spatial attention, round-trips through `.keras`, and goes through the
registry, `train`, `evaluate` and the run folder."""

import json

import keras
import numpy as np
import pytest

from keras_avl.models import (AVAttConfig, PaperConfig, build_model, get, inference_model,
                              presets)
from keras_avl.models.registry import fit_targets, get_method, model_names, monitored_metric
from tests.preset_configs import METHOD_SIZES, preset_config

C, T, B = 4, 10, 3
# Every method exposes its spatial attention but these.
WITHOUT_SPATIAL_ATTENTION = {"avsdn"}
# The trainings of CMBS and CACE-Net take a minute each: in the slow tier.
SLOW = ("cmbs", "cace")


def _config(name, **changes):
    return get(name).config(num_classes=C, visual_dim=6, grid=(3, 3), **METHOD_SIZES[name], **changes)


def _batch(rng, regime):
    x = {"visual": rng.normal(size=(B, T, 3, 3, 6)).astype("float32"),
         "audio": rng.normal(size=(B, T, 128)).astype("float32")}
    classes = rng.integers(0, C, size=(B, T))
    segment_labels = np.eye(C, dtype="float32")[classes]
    if regime == "supervised":
        return x, segment_labels
    return x, np.eye(C, dtype="float32")[classes[:, 0]]


@pytest.mark.parametrize("name, regime", [
    pytest.param(name, regime, marks=[pytest.mark.slow] if name in SLOW else [])
    for name in sorted(METHOD_SIZES) for regime in get(name).regimes
])
def test_method_trains_exposes_attention_and_round_trips(name, regime, rng, tmp_path):
    model = build_model(_config(name), regime)
    x, y = _batch(rng, regime)
    targets = fit_targets(model)
    fit_x, fit_y = targets(x, y) if targets else (x, y)
    history = model.fit(fit_x, fit_y, epochs=2, batch_size=B, verbose=0)
    monitor = monitored_metric(model, regime, "categorical_accuracy")
    assert monitor in history.history
    assert np.all(np.isfinite(history.history["loss"]))

    outputs = inference_model(model).predict(x, verbose=0)
    probabilities = outputs["segment_probabilities"]
    assert probabilities.shape == (B, T, C)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-4)
    assert ("spatial_attention" in outputs) == (name not in WITHOUT_SPATIAL_ATTENTION)
    if name not in WITHOUT_SPATIAL_ATTENTION:
        assert outputs["spatial_attention"].shape == (B, T, 3, 3)
        np.testing.assert_allclose(outputs["spatial_attention"].sum((-1, -2)), 1.0, rtol=1e-4)

    path = tmp_path / f"{name}-{regime}.keras"
    model.save(path)
    reloaded = inference_model(keras.saving.load_model(path)).predict(x, verbose=0)
    np.testing.assert_allclose(reloaded["segment_probabilities"], probabilities,
                               rtol=1e-5, atol=1e-6)


def test_psp_supervised_loss_adds_weighted_avps(rng):
    """The compiled loss is CE + lambda * AVPS: lambda = 0 and lambda = 100 give
    the same CE term and total losses that differ by 100 * AVPS."""
    x, y = _batch(rng, "supervised")
    losses = {}
    for weight in (0.0, 100.0):
        keras.utils.set_random_seed(1)
        model = build_model(_config("psp", avps_weight=weight), "supervised")
        losses[weight] = model.evaluate(x, fit_targets(model)(x, y)[1], verbose=0,
                                        return_dict=True)
    ce = losses[0.0]["segment_probabilities_loss"]
    avps = losses[100.0]["av_similarity_loss"]
    np.testing.assert_allclose(losses[0.0]["loss"], ce, rtol=1e-5)
    np.testing.assert_allclose(losses[100.0]["loss"], ce + 100.0 * avps, rtol=1e-4)


def test_cmbs_weak_segments_follow_the_video_scores(rng):
    """CMBS's weak segment logits are G_t * s with G_t > 0: every segment of a
    video predicts the class the video's scores rank first (as the code's
    evaluation, which always passes the gate check)."""
    model = build_model(_config("cmbs", alpha=0.2), "weak")
    x, _ = _batch(rng, "weak")
    outputs = inference_model(model).predict(x, verbose=0)
    predicted = outputs["segment_probabilities"].argmax(-1)
    assert (predicted == predicted[:, :1]).all()


def test_registry_errors_name_what_is_known():
    with pytest.raises(ValueError, match=r"registered methods are "
                                         r"\['avatt', 'avsdn', 'cace', 'cmbs', 'ezvsl', 'paper', 'psp'\]"):
        get_method("tcn")
    with pytest.raises(ValueError, match=r"Unknown model 'pps' \(closest: \['psp'"):
        get("pps")
    with pytest.raises(ValueError, match="supports the regimes"):
        get("psp").build(regime="unsupervised")
    with pytest.raises(ValueError, match=r"Method .psp. has no config field\(s\) \[.fusion.\] "
                                         r"\(\[.fusion.\] belong to the methods \[.paper.\]\)"):
        get("psp").config(fusion="mfb")
    assert {"paper", "avatt", "avsdn", "psp", "cmbs", "cace"} <= set(model_names())
    with pytest.raises(ValueError, match="supports the regimes"):
        get("cace").build(regime="weak")
    assert len(model_names()) == len(set(model_names()))
    with pytest.raises(ValueError, match="Method 'paper' builds a PaperConfig; received a "
                                         "AVAttConfig"):
        get("paper").build(get("avatt").config(), "supervised")
    with pytest.raises(ValueError, match="supports the regimes"):
        get("avatt").build(regime="unsupervised")


@pytest.mark.parametrize("regime", ["supervised", "weak"])
@pytest.mark.parametrize("name", ["paper", "avatt"])
def test_paper_and_avatt_are_registered_methods(rng, name, regime):
    """`get(name).build(config, regime)` builds the model `build_model` builds
    for the variant of that name: the same layers and, from one seed, the same
    outputs."""
    fields = dict(num_classes=C, visual_dim=6, grid=(3, 3), audio_dim=128, hidden=4,
                  embed_dim=8, mfb_output_dim=4, swab_units=4, avatt_hidden_dim=8)
    config = preset_config(name, fields)
    assert type(config) is {"paper": PaperConfig, "avatt": AVAttConfig}[name]
    x, _ = _batch(rng, regime)
    models = []
    for build_it in (lambda: get(name).build(config, regime),
                     lambda: build_model(config, regime)):
        keras.utils.set_random_seed(3)
        models.append(build_it())
    assert [layer.name for layer in models[0].layers] == [layer.name for layer in models[1].layers]
    np.testing.assert_allclose(*(m.predict(x, verbose=0) for m in models), rtol=1e-6)


@pytest.mark.slow  # long end to end; `bash scripts/test.sh --all` runs it
def test_train_records_the_method_and_rejects_bad_input_before_training(tmp_path, monkeypatch):
    from keras_avl.runs import load_run
    from keras_avl.training import evaluate, train

    monkeypatch.setenv("KERAS_AVL_HOME", str(tmp_path / "home"))
    with pytest.raises(ValueError, match="supports the regimes"):
        train(tmp_path / "bad", "unsupervised", "avsdn", embedded_size="tiny", verbose=0)
    with pytest.raises(ValueError, match=r"Method .avsdn. has no config field\(s\) \[.swab_units.\]"):
        train(tmp_path / "bad", "supervised", "avsdn", embedded_size="tiny", verbose=0,
              model_config=dict(swab_units=8))
    with pytest.raises(ValueError, match="'psp'"):
        train(tmp_path / "bad", "supervised", "pspp", embedded_size="tiny", verbose=0)
    assert not (tmp_path / "bad").exists()

    run_dir = tmp_path / "run"
    train(run_dir, "supervised", "avsdn", epochs=1, verbose=0, embedded_size="tiny",
          model_config=dict(hidden=4), steps_per_epoch=1, validation_steps=1)
    config = json.loads((run_dir / "config.json").read_text())
    assert config["method"] == "avsdn" and config["model_config"]["hidden"] == 4
    run = load_run(run_dir)
    assert type(run.model_config).__name__ == "AVSDNConfig"
    assert 0 <= evaluate(run)["segment_accuracy"] <= 1


@pytest.mark.parametrize("name", ["psp", "cmbs"])
def test_weak_loss_reads_the_softmax_outputs(rng, name):
    """PSP's weak loss is the BCE of the softmax video prediction (the code's
    `nn.BCELoss`), CMBS's the MultiLabelSoftMarginLoss of it (a BCE reading
    the probabilities as logits), on every backend: Keras' own binary
    cross-entropy would, under TensorFlow, take the logits behind the softmax."""
    model = build_model(_config(name), "weak")
    x, y = _batch(rng, "weak")
    p = model.predict(x, verbose=0)["video_probabilities"]
    if name == "psp":
        expected = -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()
    else:
        expected = (y * np.log1p(np.exp(-p)) + (1 - y) * np.log1p(np.exp(p))).mean()
    loss = model.evaluate(x, fit_targets(model)(x, y)[1], verbose=0, return_dict=True)["loss"]
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
