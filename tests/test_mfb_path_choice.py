"""`MFBPooling(fused="auto")`: the default takes the MFB path that measured
faster (the fused kernel wherever it runs, AVE size included); explicit
True / False still force a path; configs round-trip and configs saved with
the old boolean default load."""

import keras
import numpy as np
import pytest

from keras_avl.layers import MFBPooling
from keras_avl.layers import mfb_pooling


def test_fused_defaults_to_auto_and_round_trips():
    layer = MFBPooling(factor=2, output_dim=4)
    assert layer.fused == "auto"
    for fused in ("auto", True, False):
        config = MFBPooling(factor=2, output_dim=4, fused=fused).get_config()
        assert config["fused"] == fused
        assert MFBPooling.from_config(config).fused == fused


def test_a_config_saved_with_the_old_boolean_loads():
    config = MFBPooling(factor=2, output_dim=4).get_config()
    config["fused"] = True  # what every model saved before "auto" holds
    assert MFBPooling.from_config(config).fused is True


@pytest.mark.parametrize("fused", ["yes", 1, None])
def test_other_values_are_refused(fused):
    with pytest.raises(ValueError, match="`fused` must be 'auto', True or False; received"):
        MFBPooling(factor=2, output_dim=4, fused=fused)


@pytest.mark.multibackend
@pytest.mark.parametrize("visual_dim", [6, 512])  # 512: AVE's d_v
def test_auto_takes_the_measured_faster_path_of_the_backend(monkeypatch, visual_dim):
    backend = keras.backend.backend()
    calls = []
    real = mfb_pooling.fused_mfb

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(mfb_pooling, "fused_mfb", spy)
    visual = np.random.default_rng(0).random((2, 5, visual_dim), dtype="float32")
    audio = np.random.default_rng(1).random((2, 3), dtype="float32")
    supported = backend in ("tensorflow", "jax")
    for fused, uses in (("auto", supported), (True, supported), (False, False)):
        calls.clear()
        layer = MFBPooling(factor=2, output_dim=4, fused=fused)
        layer([visual, audio])
        assert layer.uses_fused_kernel() is uses
        assert bool(calls) is uses, (fused, backend)
