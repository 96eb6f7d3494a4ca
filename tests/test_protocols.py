"""Training protocols: the recipes' schedules, their checks, and a run that
records its protocol."""

import json

import numpy as np
import pytest

from keras_avl.training.protocols import PROTOCOLS, get_protocol


def _rate(optimizer, step):
    schedule = optimizer._learning_rate
    return float(np.asarray(schedule(step) if callable(schedule) else schedule))


@pytest.mark.parametrize("name, steps, expected", [
    # PSP supervised: x0.8 after epochs 60 and 120 (PyTorch: lr updated after
    # the 60th epoch's last step).
    ("psp-cvpr21-supervised", 3, {0: 1e-3, 179: 1e-3, 180: 8e-4, 359: 8e-4, 360: 6.4e-4,
                                  10_000: 6.4e-4}),
    # CMBS weak: x0.5 after epochs 10, 20, 40.
    ("cmbs-cvpr22-weak", 2, {19: 6e-4, 20: 3e-4, 40: 1.5e-4, 80: 7.5e-5}),
])
def test_schedule_steps_at_the_recipe_epochs(name, steps, expected):
    optimizer = get_protocol(name).optimizer(steps)
    for step, rate in expected.items():
        np.testing.assert_allclose(_rate(optimizer, step), rate, rtol=1e-6)


def test_cmbs_clips_the_global_norm():
    assert get_protocol("cmbs-cvpr22-supervised").optimizer(1).global_clipnorm == 0.5
    assert get_protocol("psp-cvpr21-weak").optimizer(1).global_clipnorm is None


def test_protocol_errors_before_training(tmp_path, monkeypatch):
    from keras_avl.training import train

    monkeypatch.setenv("KERAS_AVL_HOME", str(tmp_path / "home"))
    with pytest.raises(ValueError, match=r"expected one of \['cmbs-cvpr22-supervised'"):
        get_protocol("psp")
    with pytest.raises(ValueError, match="trains model 'psp' in the 'supervised' regime"):
        train(tmp_path / "bad", "weak", "psp", protocol="psp-cvpr21-supervised",
              embedded_size="tiny", verbose=0)
    with pytest.raises(ValueError, match="Protocols for 'avsdn': none"):
        train(tmp_path / "bad", "supervised", "avsdn", protocol="psp-cvpr21-supervised",
              embedded_size="tiny", verbose=0)
    assert not (tmp_path / "bad").exists()
    assert {p.model for p in PROTOCOLS.values()} == {"psp", "cmbs"}


def test_run_records_its_protocol(tmp_path, monkeypatch):
    from keras_avl.training import train

    monkeypatch.setenv("KERAS_AVL_HOME", str(tmp_path / "home"))
    run = train(tmp_path / "run", "weak", "psp", protocol="psp-cvpr21-weak", epochs=1,
                steps_per_epoch=1, validation_steps=1, embedded_size="tiny", verbose=0,
                projection_dim=8, hidden=4, attention_dim=8, psp_dim=8, classifier_hidden=4)
    config = json.loads((run.path / "config.json").read_text())
    assert config["training"]["protocol"]["name"] == "psp-cvpr21-weak"
    assert config["training"]["batch_size"] == 128 and config["training"]["epochs"] == 1
    assert config["model_config"]["threshold"] == 0.095
