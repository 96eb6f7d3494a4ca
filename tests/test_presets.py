"""One registry of methods and presets: every name `--model` accepts is a
preset (`keras_avl.models.get`, `presets()`, `keras-avl models`), each builds
the regimes it lists with its method's config class, and bad names, regimes
and fields are clear errors."""

import dataclasses
import re

import pytest

from keras_avl.cli.main import main
from keras_avl.models import (METHODS, AVAttConfig, AVSDNConfig, CMBSConfig, EZVSLConfig,
                              PaperConfig, PSPConfig, build_model, get, presets)
from keras_avl.models.cace import CACEConfig
from keras_avl.models.method_config import MethodConfig
from keras_avl.models.registry import model_names
from keras_avl.protocols import AVL_CLASSIFIERS, resolve_protocol
from tests.preset_configs import preset_config

CONFIG_CLASSES = {"paper": PaperConfig, "avatt": AVAttConfig, "ezvsl": EZVSLConfig,
                  "avsdn": AVSDNConfig, "psp": PSPConfig, "cmbs": CMBSConfig,
                  "cace": CACEConfig}
TINY = dict(num_classes=3, segments=4, grid=(2, 2), visual_dim=4, audio_dim=4, hidden=2,
            embed_dim=4, mfb_factor=2, mfb_output_dim=2, swab_units=2, avatt_hidden_dim=4,
            projection_dim=4, attention_dim=4, psp_dim=4, classifier_hidden=2,
            visual_hidden=4, attention_hidden=2, d_model=4, num_heads=2, interaction_heads=2,
            feedforward_dim=4, encoder_feedforward_dim=4)
# The names of the run folders and results tables before the presets.
NAMES = ["paper", "audio", "visual", "fused-visual", "audio+visual", "avatt", "avatt-adam",
         "avatt-keras-avl", "ezvsl", "paper-segment", "paper-other-class", "fusion-mfb-segment",
         "fusion-mfb-other-class", "paper-plus", "fusion-mul", "fusion-add", "fusion-concat",
         "fusion-lstm", "fusion-mfb", "avfb", "avfb+swab-mean", "avfb+swab-max", "avfb+swab",
         "avsdn", "psp", "cmbs", "cace"]


def test_every_model_name_is_a_preset_and_every_preset_a_model_name():
    # A new method or preset is appended after these, none renamed or lost.
    assert list(presets()) == list(model_names())
    assert list(presets())[:len(NAMES)] == NAMES
    for name in model_names():
        preset = get(name)
        expected = CONFIG_CLASSES.get(preset.method, METHODS[preset.method].config_class)
        assert (preset.name, preset.config_class) == (name, expected)
        assert issubclass(preset.config_class, MethodConfig)
        assert preset.method in METHODS
    # Every method is the preset of its own name, without changes.
    for name in METHODS:
        assert (get(name).method, get(name).changes) == (name, {})


def test_presets_carry_the_changes_and_recipes_of_the_variants():
    assert get("paper-plus").changes == {"bidirectional": True, "mf_normalization": "rms",
                                         "head_units": (64,)}
    assert get("avatt-keras-avl").config() == AVAttConfig(reading="keras-avl", dropout=0.2)
    assert get("avatt-adam").config() == get("avatt").config() == AVAttConfig()
    assert {name: preset.recipe for name, preset in presets().items() if preset.recipe} == \
        {"avatt": "ave-eccv18"}
    assert resolve_protocol(None, "avatt", "weak")[0].name == "ave-eccv18-weak"
    assert AVL_CLASSIFIERS == tuple(name for name in NAMES
                                    if get(name).method in ("paper", "avatt"))


@pytest.mark.multibackend
@pytest.mark.parametrize("name", NAMES)
def test_each_preset_builds_its_regimes_with_its_config_class(name):
    preset = get(name)
    for regime in preset.regimes:
        config = preset_config(name, TINY, regime)
        assert type(config) is CONFIG_CLASSES[preset.method]
        for field, value in preset.changes.items():
            assert getattr(config, field) == value
        model = build_model(config, regime, compile=False)
        assert model.input["visual"].shape[1:] == (4, 2, 2, 4)
        assert preset.build(config, regime, compile=False).output_shape == model.output_shape
    for regime in sorted({"supervised", "weak", "unsupervised"} - set(preset.regimes)):
        with pytest.raises(ValueError, match=re.escape(f"supports the regimes {preset.regimes!r}")):
            preset.config(regime)


def test_bad_names_regimes_and_fields_are_clear_errors():
    with pytest.raises(ValueError, match=r"Unknown model 'fusion-mbf' \(closest: \['fusion-mfb'"):
        get("fusion-mbf")
    with pytest.raises(ValueError, match=r"Preset 'avfb' \(method 'paper'\) supports the "
                                         r"regimes \('supervised', 'weak'\)"):
        get("avfb").build(regime="unsupervised")
    with pytest.raises(ValueError, match=r"Method 'avatt' has no config field\(s\) "
                                         r"\['swab_units'\] \(\['swab_units'\] belong to the "
                                         r"methods \['paper'\]\)"):
        get("avatt-adam").config(swab_units=8)
    with pytest.raises(ValueError, match="Method 'avatt' builds a AVAttConfig; received a "
                                         "PaperConfig"):
        get("avatt").build(PaperConfig(), "supervised")


def test_config_classes_inherit_the_shared_fields():
    shared = {"num_classes", "segments", "grid", "visual_dim", "audio_dim", "learning_rate"}
    for config_class in CONFIG_CLASSES.values():
        fields = {field.name for field in dataclasses.fields(config_class)}
        assert shared <= fields and "architecture" not in fields
        with pytest.raises(ValueError, match="num_classes"):
            config_class(num_classes=1)


def test_models_command_lists_every_preset(capsys):
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "METHOD", "REGIMES", "CHANGES", "DESCRIPTION"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert list(rows) == NAMES
    assert rows["fusion-mfb"][1:4] == ["paper", "supervised,weak,unsupervised", 'fusion="mfb"']
    assert rows["audio"][1:3] == ["paper", "supervised,weak"]
    assert rows["ezvsl"][1:4] == ["ezvsl", "unsupervised", "-"]
    assert "[recipe: ave-eccv18]" in " ".join(rows["avatt"])
