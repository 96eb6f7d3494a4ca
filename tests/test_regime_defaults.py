"""Each method's released defaults per regime reach every entry point: the
registry (`get(name).config(regime=...)`), `train` (recorded in config.json),
and `--set` still wins; bad method / regime / field / protocol choices fail
before anything is written."""

import json

import pytest

from keras_avl.models import get
from keras_avl.training import train
from tests.ave_fixtures import tiny_root  # noqa: F401

TINY = {
    "psp": dict(projection_dim=8, hidden=4, attention_dim=8, psp_dim=8, classifier_hidden=4),
    "cmbs": dict(visual_hidden=8, attention_hidden=4, d_model=8, num_heads=2,
                 interaction_heads=2, feedforward_dim=8),
}
# The released weak values (PSP `weakly_supervised_main.py`; CMBS
# `configs/weak.json`), and the supervised ones they replace.
RELEASED = {
    ("psp", "supervised"): {"threshold": 0.099},
    ("psp", "weak"): {"threshold": 0.095},
    ("cmbs", "supervised"): {"alpha": 0.1, "gamma": 0.3},
    ("cmbs", "weak"): {"alpha": 0.2, "gamma": 0.5},
}


@pytest.mark.parametrize("method, regime", sorted(RELEASED))
def test_registry_gives_the_released_values_of_each_regime(method, regime):
    config = get(method).config(regime)
    assert {name: getattr(config, name) for name in RELEASED[method, regime]} == \
        RELEASED[method, regime]


@pytest.mark.parametrize("method", ["psp", "cmbs"])
def test_train_records_the_weak_defaults_and_set_wins(method, tiny_root, tmp_path):
    run = train(tmp_path / "weak", "weak", method, data=tiny_root, epochs=1, verbose=0,
                model_config=TINY[method])
    recorded = json.loads((run.path / "config.json").read_text())["model_config"]
    for name, value in RELEASED[method, "weak"].items():
        assert recorded[name] == value
    field, value = next(iter(RELEASED[method, "supervised"].items()))
    run = train(tmp_path / "set", "weak", method, data=tiny_root, epochs=1, verbose=0,
                model_config={**TINY[method], field: value})
    assert json.loads((run.path / "config.json").read_text())["model_config"][field] == value


@pytest.mark.parametrize("changes, regime, protocol, message", [
    ({"fusion": "mfb"}, "weak", None, r"Method 'psp' has no config field\(s\) \['fusion'\]"),
    ({}, "unsupervised", None, r"Method 'psp' supports the regimes \('supervised', 'weak'\)"),
    ({}, "weak", "cmbs-cvpr22-weak", r"Protocol 'cmbs-cvpr22-weak' trains model 'cmbs'.*"
                                     r"Protocols for 'psp': \['psp-cvpr21-supervised', "
                                     r"'psp-cvpr21-weak'\]"),
])
def test_bad_choices_fail_before_anything_is_written(changes, regime, protocol, message,
                                                     tiny_root, tmp_path):
    with pytest.raises(ValueError, match=message):
        train(tmp_path / "run", regime, "psp", data=tiny_root, epochs=1, verbose=0,
              protocol=protocol, model_config={**TINY["psp"], **changes})
    assert not (tmp_path / "run").exists()
