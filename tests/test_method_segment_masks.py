"""Segment masks through AVSDN, PSP, CMBS and CACE-Net (as tests/test_segment_masks.py
for the paper's model): padded segments (clips shorter than T) change no
output at a real segment and no video-level output, the weak video output
pools the real segments only, and the losses (with `fit_targets`) and the
accuracy are the NumPy values over the real segments."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_avl.models import build_model, get, inference_model
from keras_avl.models.registry import fit_targets
from tests.method_references import avps_target, segment_contrastive_loss
from tests.numpy_reference import relu, sigmoid, softmax
from tests.preset_configs import METHOD_SIZES, NO_DROPOUT, preset_config

pytestmark = pytest.mark.multibackend

B, T, C = 4, 5, 4
REAL = np.array([5, 3, 1, 4])  # real segments per video, padding at the end
MASK = (np.arange(T) < REAL[:, None]).astype("float32")
PADDED = MASK == 0
WEAK = sorted(name for name in METHOD_SIZES if "weak" in get(name).regimes)


def _model(name, regime, compile=False):
    config = preset_config(name, {**METHOD_SIZES[name], **NO_DROPOUT, "top_k": 2, "num_classes": C,
                                  "segments": T, "grid": (2, 2), "visual_dim": 6, "audio_dim": 5})
    model = build_model(config, regime, compile=compile)
    if name == "cace":  # its contrastive enhancement on, as after its first epochs
        model.get_layer("contrastive_event_head").switch.assign(1.0)
    return model


def _inputs(rng):
    return {"visual": rng.random((B, T, 2, 2, 6), dtype="float32"),
            "audio": rng.random((B, T, 5), dtype="float32"),
            "segment_mask": MASK}


def _scramble_padding(x, rng):
    x = dict(x)
    for key in ("visual", "audio"):
        x[key] = x[key].copy()
        x[key][PADDED] = rng.normal(scale=30.0, size=x[key][PADDED].shape)
    return x


def _outputs(model, x):
    """Every output of the model and of its inference model, as NumPy."""
    outputs = dict(zip(model.output_names, keras.tree.flatten(model(x))))
    outputs.update(inference_model(model)(x))
    return {key: ops.convert_to_numpy(ops.cast(value, "float32"))
            for key, value in outputs.items()}


@pytest.mark.parametrize("name, regime", [(name, regime) for name in sorted(METHOD_SIZES)
                                          for regime in get(name).regimes])
def test_padding_changes_no_real_output_of_a_method(rng, name, regime):
    model = _model(name, regime)
    x = _inputs(rng)
    before = _outputs(model, x)
    after = _outputs(model, _scramble_padding(x, rng))
    for key, value in before.items():
        real = ~PADDED if value.ndim > 1 and value.shape[1] == T else slice(None)
        np.testing.assert_allclose(after[key][real], value[real], rtol=1e-4, atol=1e-5,
                                   err_msg=key)


def _layer_output(model, layer, x):
    return ops.convert_to_numpy(keras.Model(model.inputs, model.get_layer(layer).output)(x))


# Where each weak model's video prediction comes from: the per-segment
# tensor (layer), how it is pooled over the real segments, then the map.
WEAK_POOLING = {
    "avsdn": ("segment_probabilities", np.mean, lambda p: p),
    "psp": ("segment_score_weighting", np.mean, softmax),
    "cmbs": ("gated_segment_logits", np.max, softmax),
}


@pytest.mark.parametrize("name", WEAK)
def test_weak_video_output_pools_the_real_segments(rng, name):
    model = _model(name, "weak")
    x = _inputs(rng)
    outputs = model(x)
    video = ops.convert_to_numpy(outputs["video_probabilities"] if isinstance(outputs, dict)
                                 else outputs)
    layer, pool, head = WEAK_POOLING[name]
    segments = _layer_output(model, layer, x)
    for b, n in enumerate(REAL):
        np.testing.assert_allclose(video[b], head(pool(segments[b, :n], axis=0)),
                                   rtol=1e-5, atol=1e-6)


def _labels(rng):
    y = np.eye(C, dtype="float32")[rng.integers(0, C, (B, T))]
    y[0, :2] = np.eye(C)[C - 1]  # background segments among the real ones
    return y


def _evaluate(model, x, y):
    targets = fit_targets(model)
    x, y = targets(x, y) if targets else (x, y)
    return model.evaluate(x, y, batch_size=B, verbose=0, return_dict=True)


def _cross_entropy(probabilities, y):
    return -(y * np.log(np.clip(probabilities, 1e-7, 1.0))).sum(-1)


def _bce_with_logits(z, target):
    return -(target * np.log(sigmoid(z)) + (1 - target) * np.log(1 - sigmoid(z)))


def _expected_losses(name, outputs, y):
    """The NumPy losses over the real segments, per output (and the accuracy)."""
    real = ~PADDED
    probabilities = outputs["segment_probabilities"]
    accuracy = (probabilities.argmax(-1) == y.argmax(-1))[real].mean()
    if name == "avsdn":
        return {"loss": _cross_entropy(probabilities, y)[real].mean()}, accuracy
    event = y[..., -1] == 0
    if name == "psp":
        avps = []
        for b, n in enumerate(REAL):
            target = avps_target(y[b, :n])
            s = relu(outputs["av_similarity"][b, :n])
            avps.append(((s / (s.sum() + 1e-8) - target) ** 2).mean())
        return {"segment_probabilities_loss": _cross_entropy(probabilities, y)[real].mean(),
                "av_similarity_loss": np.mean(avps)}, accuracy
    expected = {f"{key}_loss": np.mean([_bce_with_logits(outputs[key][b, :n], event[b, :n]).mean()
                                        for b, n in enumerate(REAL)])
                for key in ("event_logits", "av_gate")}
    # supv_main.py: the largest of the segments' argmax classes (background: 0).
    classes = [y[b, :n, :-1].argmax(-1).max() for b, n in enumerate(REAL)]
    for key in ("class_logits", "consistency_score"):
        expected[f"{key}_loss"] = np.mean([-np.log(softmax(outputs[key][b])[k])
                                           for b, k in enumerate(classes)])
    if name == "cace":  # the contrastive loss of each clip cut to its real segments
        features = outputs["contrastive_features"]
        expected["contrastive_features_loss"] = np.mean([
            segment_contrastive_loss(features[b, :n], features[b, T:T + n], y[b, :n])
            for b, n in enumerate(REAL)])
    return expected, accuracy


@pytest.mark.parametrize("name", sorted(METHOD_SIZES))
def test_supervised_losses_and_accuracy_leave_padding_out(rng, name):
    model = _model(name, "supervised", compile=True)
    x, y = _inputs(rng), _labels(rng)
    result = _evaluate(model, x, y)
    expected, accuracy = _expected_losses(name, _outputs(model, x), y)
    for key, value in expected.items():
        np.testing.assert_allclose(result[key], value, rtol=1e-4, atol=1e-6, err_msg=key)
    metric = "categorical_accuracy" if name == "avsdn" else \
        "segment_probabilities_categorical_accuracy"
    np.testing.assert_allclose(result[metric], accuracy, rtol=1e-6)
    # Other labels and features at the padded segments: the same numbers.
    y_other = y.copy()
    y_other[PADDED] = np.eye(C)[0]
    scrambled = _evaluate(model, _scramble_padding(x, rng), y_other)
    for key, value in result.items():
        np.testing.assert_allclose(scrambled[key], value, rtol=1e-4, atol=1e-6, err_msg=key)
