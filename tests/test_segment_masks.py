"""Segment masks through every model: padded segments (clips shorter than T)
change no output at a real segment, no video-level output, no loss and no
accuracy; a model called without a mask treats every segment as real."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_avl.layers import SegmentMask, TripletStack
from keras_avl.losses import GramTripletLoss
from keras_avl.models import build_model, inference_model, presets
from keras_avl.models.optional_inputs import OptionalInputsModel
from tests.layer_test_case import run_layer_test
from tests.numpy_reference import gram_triplet
from tests.preset_configs import preset_config

pytestmark = pytest.mark.multibackend

B, T, C = 4, 5, 4
REAL = np.array([5, 3, 1, 4])  # real segments per video, padding at the end
MASK = (np.arange(T) < REAL[:, None]).astype("float32")
PADDED = MASK == 0
TINY_FIELDS = dict(num_classes=C, segments=T, grid=(2, 2), visual_dim=6, audio_dim=5,
                   embed_dim=6, mfb_factor=2, mfb_output_dim=4, hidden=4, swab_units=4,
                   avatt_hidden_dim=6, dropout=0.0)
TINY = preset_config("paper", TINY_FIELDS)


def _inputs(rng, regime="supervised"):
    x = {"visual": rng.random((B, T, 2, 2, 6), dtype="float32"),
         "audio": rng.random((B, T, 5), dtype="float32"),
         "segment_mask": MASK}
    if regime == "unsupervised":
        x["audio_negative"] = rng.random((B, T, 5), dtype="float32")
        x["segment_mask_negative"] = MASK[::-1].copy()
    return x


def _scramble_padding(x, rng):
    """The same inputs with other features at every padded segment."""
    x = dict(x)
    for key, padded in (("visual", PADDED), ("audio", PADDED), ("audio_negative", PADDED[::-1])):
        if key in x:
            x[key] = x[key].copy()
            x[key][padded] = rng.normal(scale=30.0, size=x[key][padded].shape)
    return x


def _numpy(outputs):
    return {key: ops.convert_to_numpy(ops.cast(value, "float32")) for key, value in outputs.items()}


def test_segment_mask_layer_contract(rng, tmp_path):
    run_layer_test(SegmentMask, {}, rng.random((B, T, 3), dtype="float32"), [(B, T)], tmp_path,
                   run_mixed_precision=False)
    mask = ops.convert_to_numpy(SegmentMask()(np.zeros((B, T, 3)), MASK))
    np.testing.assert_array_equal(mask, MASK == 1)


def test_triplet_stack_zeroes_padded_rows(rng):
    inputs = [rng.normal(size=(B, T, 3)).astype("float32") for _ in range(3)]
    masks = [MASK == 1, None, MASK[::-1] == 1]
    stacked = ops.convert_to_numpy(TripletStack()(inputs, mask=masks))
    for index, (x, mask) in enumerate(zip(inputs, masks)):
        expected = x if mask is None else x * mask[..., None]
        np.testing.assert_array_equal(stacked[:, index], expected)


# ezvsl does not classify (its map is per segment; its InfoNCE masks padding).
CLASSIFIER_VARIANTS = sorted(name for name, preset in presets().items()
                             if preset.method != "ezvsl")


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("variant", CLASSIFIER_VARIANTS)
def test_padding_changes_no_real_output_of_a_variant(rng, variant, bidirectional):
    config = preset_config(variant, {**TINY_FIELDS, "bidirectional": bidirectional})
    model = inference_model(build_model(config, "supervised", compile=False))
    x = _inputs(rng)
    before = _numpy(model(x))
    after = _numpy(model(_scramble_padding(x, rng)))
    for key, value in before.items():
        np.testing.assert_allclose(after[key][~PADDED], value[~PADDED], rtol=1e-5, atol=1e-6,
                                   err_msg=key)
    if "segment_attention" in before:  # SWAB: alpha = 0 at padding, sums to 1
        assert (before["segment_attention"][PADDED] == 0).all()
        np.testing.assert_allclose(before["segment_attention"].sum(-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_weak_video_output_is_the_mean_over_real_segments(rng, bidirectional):
    model = build_model(TINY.replace(bidirectional=bidirectional), "weak", compile=False)
    x = _inputs(rng)
    video = ops.convert_to_numpy(model(x))
    np.testing.assert_allclose(ops.convert_to_numpy(model(_scramble_padding(x, rng))), video,
                               rtol=1e-5, atol=1e-6)
    segments = ops.convert_to_numpy(inference_model(model)(x)["segment_probabilities"])
    for b in range(B):
        np.testing.assert_allclose(video[b], segments[b, :REAL[b]].mean(0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_avtgml_covers_the_real_segments_only(rng, bidirectional):
    model = build_model(TINY.replace(bidirectional=bidirectional), "unsupervised", compile=False)
    x = _inputs(rng, "unsupervised")
    triplet = ops.convert_to_numpy(model(x))
    scrambled = ops.convert_to_numpy(model(_scramble_padding(x, rng)))
    np.testing.assert_allclose(scrambled, triplet, rtol=1e-5, atol=1e-6)
    masks = [MASK, MASK, MASK[::-1]]
    for index, mask in enumerate(masks):
        assert (triplet[:, index][mask == 0] == 0).all()
    loss = ops.convert_to_numpy(GramTripletLoss(reduction=None)(None, triplet))
    for b in range(B):
        real = [triplet[b, k][masks[k][b] == 1] for k in range(3)]
        # Gram matrices of the real segments only (eq. 13-16 on shorter clips).
        rows = [np.zeros((T, triplet.shape[-1])) for _ in range(3)]
        for k in range(3):
            rows[k][: len(real[k])] = real[k]
        np.testing.assert_allclose(loss[b], gram_triplet(*rows, margin=0.7), rtol=1e-5, atol=1e-6)


def test_supervised_loss_and_accuracy_leave_padding_out(rng):
    model = build_model(TINY, "supervised")
    x = _inputs(rng)
    y = np.eye(C, dtype="float32")[rng.integers(0, C, (B, T))]
    loss, accuracy = model.evaluate(x, y, batch_size=B, verbose=0)
    probabilities = ops.convert_to_numpy(model(x))
    real = ~PADDED
    cross_entropy = -(y * np.log(np.clip(probabilities, 1e-7, 1.0))).sum(-1)
    np.testing.assert_allclose(loss, cross_entropy[real].mean(), rtol=1e-5)
    expected_accuracy = (probabilities.argmax(-1) == y.argmax(-1))[real].mean()
    np.testing.assert_allclose(accuracy, expected_accuracy, rtol=1e-6)
    # Other labels and features at the padded segments: the same numbers.
    y_other = y.copy()
    y_other[PADDED] = np.eye(C)[0]
    np.testing.assert_allclose(
        model.evaluate(_scramble_padding(x, rng), y_other, batch_size=B, verbose=0),
        [loss, accuracy], rtol=1e-5)


@pytest.mark.slow  # long end to end; `bash scripts/test.sh --all` runs it
@pytest.mark.parametrize("regime", ["supervised", "weak", "unsupervised"])
def test_no_mask_means_every_segment_is_real(rng, tmp_path, regime):
    """`model.fit({"visual": v, "audio": a}, y)` keeps working, through a
    `.keras` round trip too."""
    model = build_model(TINY, regime)
    x = _inputs(rng, regime)
    unmasked = {key: value for key, value in x.items() if not key.startswith("segment_mask")}
    all_real = {**x, "segment_mask": np.ones((B, T), "float32")}
    if regime == "unsupervised":
        all_real["segment_mask_negative"] = np.ones((B, T), "float32")
        y = np.zeros(B, "float32")
    else:
        y = np.eye(C, dtype="float32")[rng.integers(0, C, (B, T) if regime == "supervised" else B)]
    model.fit(unmasked, y, batch_size=2, epochs=1, verbose=0)
    expected = ops.convert_to_numpy(model(all_real))
    np.testing.assert_allclose(ops.convert_to_numpy(model(unmasked)), expected, rtol=1e-6)
    assert not np.allclose(ops.convert_to_numpy(model(x)), expected)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert isinstance(loaded, OptionalInputsModel)
    np.testing.assert_allclose(loaded.predict(unmasked, verbose=0), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ops.convert_to_numpy(inference_model(loaded)(unmasked)["spatial_attention"]),
                               ops.convert_to_numpy(inference_model(model)(all_real)["spatial_attention"]),
                               rtol=1e-5, atol=1e-6)
