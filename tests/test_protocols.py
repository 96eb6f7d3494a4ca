"""Training protocols: one registry of named recipes (AVE-ECCV18's, PSP's,
CMBS's), their schedules and losses, their checks, the variants' default
protocol, `own`, and runs that record their protocol."""

import json

import keras
import numpy as np
import pytest

from keras_avl.models import PaperConfig
from keras_avl.runs import legacy_model_config
from keras_avl.protocols import (
    PROTOCOLS,
    get_protocol,
    own_protocol,
    protocols_for,
    resolve_protocol,
)

TINY_PSP = dict(projection_dim=8, hidden=4, attention_dim=8, psp_dim=8, classifier_hidden=4)


def _schedule(optimizer):
    """The optimizer's learning rate as compiled: its schedule, or a float
    (read back from the public config, not the optimizer's private attribute)."""
    rate = optimizer.get_config()["learning_rate"]
    return keras.optimizers.schedules.deserialize(rate) if isinstance(rate, dict) else rate


def _rate(optimizer, step):
    schedule = _schedule(optimizer)
    return float(np.asarray(schedule(step) if callable(schedule) else schedule))


@pytest.mark.parametrize("name, steps, expected", [
    # PSP supervised: x0.8 after epochs 60 and 120 (PyTorch: lr updated after
    # the 60th epoch's last step).
    ("psp-cvpr21-supervised", 3, {0: 1e-3, 179: 1e-3, 180: 8e-4, 359: 8e-4, 360: 6.4e-4,
                                  10_000: 6.4e-4}),
    # CMBS weak: x0.5 after epochs 10, 20, 40.
    ("cmbs-cvpr22-weak", 2, {19: 6e-4, 20: 3e-4, 40: 1.5e-4, 80: 7.5e-5}),
    # AVE-ECCV18: StepLR(15000, 0.1) once per batch, whatever the epoch length;
    # update i uses gamma ** ((i + 1) // 15000) (tests/test_avatt.py).
    ("ave-eccv18-supervised", 52, {0: 1e-3, 14_998: 1e-3, 14_999: 1e-4, 29_999: 1e-5}),
])
def test_schedule_steps_at_the_recipe_epochs(name, steps, expected):
    optimizer = get_protocol(name).training.optimizer(steps)
    for step, rate in expected.items():
        np.testing.assert_allclose(_rate(optimizer, step), rate, rtol=1e-6)


def test_the_learning_rate_given_scales_the_schedule():
    optimizer = get_protocol("ave-eccv18-weak").training.replace(learning_rate=5e-4).optimizer(54)
    np.testing.assert_allclose([_rate(optimizer, 0), _rate(optimizer, 14_999)],
                               [5e-4, 5e-5], rtol=1e-6)


def test_cmbs_clips_the_global_norm():
    assert get_protocol("cmbs-cvpr22-supervised").training.optimizer(1).global_clipnorm == 0.5
    assert get_protocol("psp-cvpr21-weak").training.optimizer(1).global_clipnorm is None


def test_one_registry_covers_every_published_recipe():
    assert {"ave-eccv18-supervised", "ave-eccv18-weak", "cmbs-cvpr22-supervised",
            "cmbs-cvpr22-weak", "psp-cvpr21-supervised", "psp-cvpr21-weak"} <= set(PROTOCOLS)
    # AVE-ECCV18's released scripts: 300 / 250 epochs, batch 64, lr 1e-3.
    assert [(get_protocol(f"ave-eccv18-{r}").training.epochs, get_protocol(f"ave-eccv18-{r}").training.batch_size)
            for r in ("supervised", "weak")] == [(300, 64), (250, 64)]
    assert get_protocol("ave-eccv18-weak").training.loss_function().__name__ == \
        "multilabel_soft_margin_loss"
    assert get_protocol("psp-cvpr21-weak").training.loss_function() is None
    assert protocols_for("avsdn") == []
    assert protocols_for("paper") == ["ave-eccv18-supervised", "ave-eccv18-weak"]
    assert "ezvsl" not in get_protocol("ave-eccv18-weak").models
    assert [own_protocol(m, "supervised") for m in ("avatt", "psp", "cmbs", "paper", "avsdn")] \
        == ["ave-eccv18-supervised", "psp-cvpr21-supervised", "cmbs-cvpr22-supervised",
            None, None]


def test_resolving_a_protocol():
    assert resolve_protocol(None, "paper", "supervised") == (None, False)
    assert resolve_protocol("own", "avsdn", "weak") == (None, False)
    assert resolve_protocol(None, "avatt", "unsupervised") == (None, False)
    recipe, chosen = resolve_protocol("own", "avatt", "supervised")
    assert (recipe.name, chosen) == ("ave-eccv18-supervised", True)
    recipe, chosen = resolve_protocol("ave-eccv18-weak", "paper", "weak")
    assert (recipe.name, chosen) == ("ave-eccv18-weak", True)


def test_protocol_errors_before_training(tmp_path, monkeypatch):
    from keras_avl.training import train

    monkeypatch.setenv("KERAS_AVL_HOME", str(tmp_path / "home"))
    with pytest.raises(ValueError, match=r"expected one of \['ave-eccv18-supervised'.*'own'"):
        get_protocol("psp")
    with pytest.raises(ValueError, match="trains model 'psp' in the 'supervised' regime"):
        train(tmp_path / "bad", "weak", "psp", protocol="psp-cvpr21-supervised",
              embedded_size="tiny", verbose=0)
    with pytest.raises(ValueError, match="Protocols for 'avsdn': none"):
        train(tmp_path / "bad", "supervised", "avsdn", protocol="psp-cvpr21-supervised",
              embedded_size="tiny", verbose=0)
    with pytest.raises(ValueError, match=r"Protocols for 'cmbs': \['cmbs-cvpr22-supervised'"):
        train(tmp_path / "bad", "supervised", "cmbs", protocol="ave-eccv18-supervised",
              embedded_size="tiny", verbose=0)
    assert not (tmp_path / "bad").exists()


def test_run_records_its_protocol(tmp_path, monkeypatch):
    from keras_avl.training import train

    monkeypatch.setenv("KERAS_AVL_HOME", str(tmp_path / "home"))
    run = train(tmp_path / "run", "weak", "psp", protocol="psp-cvpr21-weak", epochs=1,
                steps_per_epoch=1, validation_steps=1, embedded_size="tiny", verbose=0,
                model_config=TINY_PSP)
    config = json.loads((run.path / "config.json").read_text())
    assert config["training"]["protocol"] == "psp-cvpr21-weak"
    assert config["training"]["batch_size"] == 128 and config["training"]["epochs"] == 1
    assert config["model_config"]["threshold"] == 0.095


def test_own_gives_a_model_its_recipe_and_the_others_the_common_one(tmp_path, monkeypatch):
    from keras_avl.training import train

    monkeypatch.setenv("KERAS_AVL_HOME", str(tmp_path / "home"))
    tiny = dict(embedded_size="tiny", verbose=0, steps_per_epoch=1, validation_steps=1)
    own = train(tmp_path / "own", "supervised", "avatt", protocol="own",
                model_config=dict(hidden=4, avatt_hidden_dim=8), epochs=1, **tiny)
    assert own.training.protocol == "ave-eccv18-supervised"
    assert own.load_model().loss.__name__ == "multilabel_soft_margin_loss"
    common = train(tmp_path / "common", "supervised", "avatt-adam", protocol="own",
                   model_config=dict(hidden=4, avatt_hidden_dim=8), epochs=1, **tiny)
    assert common.training.protocol is None
    assert common.load_model().loss.__class__.__name__ == "CategoricalCrossentropy"


def test_configs_written_before_the_protocol_left_avlconfig_still_load():
    fields = {**PaperConfig(hidden=8).to_dict(), "architecture": "paper"}
    assert legacy_model_config({**fields, "protocol": "keras-avl"}) == PaperConfig(hidden=8)
    with pytest.raises(ValueError, match="no model config field"):
        legacy_model_config({**fields, "protocol": "ave-eccv18"})
    with pytest.raises(ValueError, match="Unknown PaperConfig field"):
        PaperConfig(hidden=8).replace(protocol="ave-eccv18")
