"""The losses read the segment mask inside `fit`: trained through `fit`, a
batch whose padded segments hold other features gives the same loss and the
same gradients (a step of SGD at rate 1 moves every weight by its gradient).
Unsupervised `paper` (AVTGML with the per-segment term) and `ezvsl`
(InfoNCE) get the mask as their targets (`segment_mask_targets`); PSP and
CMBS read the real segments from labels zeroed at padding (`fit_targets`),
the paper's supervised model from the mask its output carries; the weak
models pool the real segments only."""

import keras
import numpy as np
import pytest

from keras_avl.losses.label_free_loss import segment_mask_targets
from keras_avl.models import build_model, registry
from tests.ave_fixtures import TINY_MODEL
from tests.preset_configs import preset_config

LENGTHS = (10, 6, 3, 8)  # real segments of the 4 clips; the rest is padding
SIZES = dict(visual_dim=8, audio_dim=8, num_classes=4, grid=(2, 2))
METHOD_SIZES = {
    "psp": dict(hidden=8, projection_dim=8, attention_dim=8, psp_dim=8, classifier_hidden=8),
    "cmbs": dict(visual_hidden=8, attention_hidden=4, d_model=8, num_heads=2,
                 interaction_heads=2, feedforward_dim=8, encoder_feedforward_dim=8),
}


def _model(variant, regime):
    sizes = METHOD_SIZES.get(variant, TINY_MODEL)
    config = preset_config(variant, {**SIZES, **sizes}, regime)
    keras.utils.set_random_seed(0)
    return build_model(config, regime)


def _batch(model, regime, scramble):
    rng = np.random.default_rng(1)
    mask = (np.arange(10)[None] < np.array(LENGTHS)[:, None]).astype("float32")
    x = {}
    for tensor in model.inputs:
        if tensor.name.startswith("segment_mask"):
            x[tensor.name] = mask if tensor.name == "segment_mask" else mask[::-1].copy()
        else:
            x[tensor.name] = rng.normal(size=(4, *tensor.shape[1:])).astype("float32")
    if scramble:  # other features at the padded segments of every clip
        for name in ("visual", "audio", "audio_negative"):
            if name in x:
                real = mask if name != "audio_negative" else x["segment_mask_negative"]
                padded = (real == 0).reshape(real.shape + (1,) * (x[name].ndim - 2))
                x[name] = np.where(padded, 100 * rng.normal(size=x[name].shape), x[name]
                                   ).astype("float32")
    if regime == "unsupervised":
        return segment_mask_targets(x, np.zeros(4, "float32"))
    # Its own generator: the labels must not depend on whether the features
    # were scrambled.
    shape = (4, 10) if regime == "supervised" else (4,)  # segment / video labels
    labels = np.eye(4, dtype="float32")[np.random.default_rng(2).integers(0, 4, size=shape)]
    targets = registry.fit_targets(model)
    return targets(x, labels) if targets else (x, labels)


def _one_step(variant, regime, scramble):
    model = _model(variant, regime)
    before = [np.array(w) for w in model.get_weights()]
    model.optimizer = keras.optimizers.SGD(1.0)
    x, y = _batch(model, regime, scramble)
    history = model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    gradients = [b - np.array(a) for a, b in zip(model.get_weights(), before)]
    return history.history["loss"][0], gradients


@pytest.mark.multibackend
@pytest.mark.parametrize("variant, regime", [
    ("paper-segment", "unsupervised"), ("ezvsl", "unsupervised"),
    ("psp", "supervised"), ("psp", "weak"), ("cmbs", "supervised"), ("cmbs", "weak"),
    ("paper", "supervised"), ("paper", "weak")])
def test_padded_features_change_neither_the_loss_nor_the_gradients(variant, regime):
    loss, gradients = _one_step(variant, regime, scramble=False)
    scrambled_loss, scrambled_gradients = _one_step(variant, regime, scramble=True)
    assert scrambled_loss == pytest.approx(loss, rel=1e-5)
    assert any(np.abs(g).max() > 0 for g in gradients)
    for old, new in zip(gradients, scrambled_gradients, strict=True):
        np.testing.assert_allclose(new, old, rtol=1e-4, atol=1e-6)
