import json

import keras
import numpy as np
import pytest
from keras import ops

from keras_avl.models import REGIMES, PaperConfig, build_model, get, inference_model, presets
from tests.preset_configs import preset_config

pytestmark = pytest.mark.multibackend

B = 4
TINY_FIELDS = dict(
    num_classes=5,
    segments=4,
    grid=(3, 3),
    visual_dim=8,
    audio_dim=6,
    embed_dim=8,
    mfb_factor=2,
    mfb_output_dim=4,
    hidden=4,
    swab_units=4,
    avatt_hidden_dim=6,
)
TINY = preset_config("paper", TINY_FIELDS)
# The presets that classify (every one but the contrastive baseline's).
CLASSIFIERS = sorted(name for name, preset in presets().items()
                     if preset.method in ("paper", "avatt"))


def _batch(config, rng, regime):
    h, w = config.grid
    x = {
        "visual": rng.random((B, config.segments, h, w, config.visual_dim)).astype("float32"),
        "audio": rng.random((B, config.segments, config.audio_dim)).astype("float32"),
    }
    classes = rng.integers(0, config.num_classes, (B, config.segments))
    if regime == "supervised":
        y = np.eye(config.num_classes, dtype="float32")[classes]
    elif regime == "weak":
        y = np.eye(config.num_classes, dtype="float32")[classes[:, 0]]
    else:
        x["audio_negative"] = rng.random((B, config.segments, config.audio_dim)).astype("float32")
        y = np.zeros((B,), "float32")
    return x, y


def _fit_and_round_trip(model, x, y, tmp_path, run_eagerly=False):
    """One `fit` step with a finite loss, then a `.keras` round trip with
    identical predictions. Eager mode skips the (slow) graph compilation for
    the many variants; the regimes test keeps the compiled path."""
    model.run_eagerly = run_eagerly
    history = model.fit(x, y, batch_size=B, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    before = ops.convert_to_numpy(model(x, training=False))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    after = ops.convert_to_numpy(loaded(x, training=False))
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-6)
    return loaded


@pytest.mark.parametrize("regime", REGIMES)
def test_each_regime_fits_and_round_trips(rng, tmp_path, regime):
    x, y = _batch(TINY, rng, regime)
    model = build_model(TINY, regime)
    expected_output = {
        "supervised": (None, 4, 5),
        "weak": (None, 5),
        "unsupervised": (None, 3, 4, 4),
    }[regime]
    assert model.output_shape == expected_output
    loaded = _fit_and_round_trip(model, x, y, tmp_path)
    outputs = {
        name: ops.convert_to_numpy(value)
        for name, value in inference_model(loaded)(x, training=False).items()
    }
    assert outputs["spatial_attention"].shape == (B, 4, 3, 3)
    assert outputs["segment_attention"].shape == (B, 4)
    np.testing.assert_allclose(outputs["spatial_attention"].sum(axis=(2, 3)), 1.0, rtol=1e-5)
    np.testing.assert_allclose(outputs["segment_attention"].sum(axis=1), 1.0, rtol=1e-5)
    if regime != "unsupervised":
        probabilities = outputs["segment_probabilities"]
        assert probabilities.shape == (B, 4, 5)
        np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)
    if regime == "weak":  # MIL pooling: the video prediction is the segment mean
        np.testing.assert_allclose(
            ops.convert_to_numpy(loaded(x)), probabilities.mean(axis=1), rtol=1e-5, atol=1e-6
        )


@pytest.mark.slow  # long end to end; `bash scripts/test.sh --all` runs it
@pytest.mark.parametrize("variant", sorted(set(CLASSIFIERS) - {"paper"}))
def test_each_variant_fits_and_round_trips(rng, tmp_path, variant):
    config = preset_config(variant, TINY_FIELDS)
    x, y = _batch(config, rng, "supervised")
    model = build_model(config, "supervised")
    assert model.output_shape == (None, 4, 5)
    _fit_and_round_trip(model, x, y, tmp_path, run_eagerly=True)


def test_inference_outputs_follow_the_variant(rng):
    expected = {
        "paper": {"segment_probabilities", "spatial_attention", "segment_attention", "audio_segment_attention"},
        "audio": {"segment_probabilities", "segment_attention"},
        "visual": {"segment_probabilities", "segment_attention"},
        "avatt": {"segment_probabilities", "spatial_attention"},
        "avfb": {"segment_probabilities", "spatial_attention"},
    }
    for variant, keys in expected.items():
        model = build_model(preset_config(variant, TINY_FIELDS), "supervised", compile=False)
        assert set(inference_model(model).output) == keys, variant


def test_unsupervised_triplet_uses_shared_audio_stream(rng):
    """s_a+ and s_a- come from one audio stream: equal audio gives equal outputs."""
    x, _ = _batch(TINY, rng, "unsupervised")
    x["audio_negative"] = x["audio"]
    triplet = ops.convert_to_numpy(build_model(TINY, "unsupervised")(x))
    np.testing.assert_allclose(triplet[:, 1], triplet[:, 2], rtol=1e-6)
    assert not np.allclose(triplet[:, 0], triplet[:, 1])


def test_config_json_round_trip():
    config = preset_config("fusion-mfb", TINY_FIELDS).replace(bidirectional=True)
    revived = PaperConfig.from_json(config.to_json())
    assert revived == config
    assert json.loads(config.to_json())["grid"] == [3, 3]


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"fusion": "bilinear"}, "fusion"),
        ({"swab_pooling": "min"}, "swab_pooling"),
        ({"modalities": "video"}, "modalities"),
        ({"mfb_factor": 0}, "mfb_factor"),
        ({"grid": (7,)}, "grid"),
        ({"dropout": 1.0}, "dropout"),
        ({"mf_normalization": "l2"}, "mf_normalization"),
        ({"weak_pooling": "max"}, "weak_pooling"),
        ({"head_units": (0,)}, "head_units"),
        ({"swab_rescale": "yes"}, "swab_rescale"),
        ({"architecture": "avatt"}, "Unknown PaperConfig field"),
        ({"temperature": 0.1}, "Unknown PaperConfig field"),
    ],
)
def test_bad_config_names_the_field(changes, message):
    with pytest.raises(ValueError, match=message):
        TINY.replace(**changes)


def test_unknown_config_field_is_rejected():
    with pytest.raises(ValueError, match="mfb_fator"):
        PaperConfig.from_dict({"mfb_fator": 3})


def test_unknown_variant_and_regime_are_rejected():
    with pytest.raises(ValueError, match="Unknown model 'transformer'"):
        get("transformer")
    with pytest.raises(ValueError, match="regime"):
        build_model(TINY, "semi")


def test_unsupervised_needs_both_streams():
    with pytest.raises(ValueError, match="modalities"):
        build_model(TINY.replace(modalities="audio"), "unsupervised")
    with pytest.raises(ValueError, match="Preset 'audio' .* supports the regimes"):
        get("audio").config("unsupervised")


# What each variant must read (Tables 1-3): whether its predictions depend on
# the visual and on the audio input, and its spatial attention lambda: None
# (no visual attention at all), "uniform" (the fusions of Table 2 without MFB)
# or "audio-guided" (MFB's or A+V-att's attention, which moves with the audio).
VARIANT_USES = {
    "paper": (True, True, "audio-guided"),
    "paper-plus": (True, True, "audio-guided"),
    "audio": (False, True, None),
    "visual": (True, False, None),
    "fused-visual": (True, True, "audio-guided"),
    "audio+visual": (True, True, None),
    "avatt": (True, True, "audio-guided"),
    "avatt-keras-avl": (True, True, "audio-guided"),
    "avatt-adam": (True, True, "audio-guided"),
    "fusion-mul": (True, True, "uniform"),
    "fusion-add": (True, True, "uniform"),
    "fusion-concat": (True, True, "uniform"),
    "fusion-lstm": (True, True, "uniform"),
    "fusion-mfb": (True, True, "audio-guided"),
    "avfb": (True, True, "audio-guided"),
    "avfb+swab-mean": (True, True, "audio-guided"),
    "avfb+swab-max": (True, True, "audio-guided"),
    "avfb+swab": (True, True, "audio-guided"),
    # Unsupervised options of the paper's model: the classifier is the paper's.
    "paper-segment": (True, True, "audio-guided"),
    "paper-other-class": (True, True, "audio-guided"),
    "fusion-mfb-segment": (True, True, "audio-guided"),
    "fusion-mfb-other-class": (True, True, "audio-guided"),
}
# Variants that do not classify (tested with the unsupervised regime below).
UNSUPERVISED_ONLY = {"ezvsl"}


def test_every_variant_is_described():
    assert set(VARIANT_USES) == set(CLASSIFIERS)
    assert {name for name, preset in presets().items() if preset.method == "ezvsl"} == \
        UNSUPERVISED_ONLY


@pytest.mark.parametrize("variant", CLASSIFIERS)
def test_each_variant_reads_what_it_should(rng, variant):
    uses_visual, uses_audio, attention = VARIANT_USES[variant]
    model = inference_model(build_model(preset_config(variant, TINY_FIELDS), "supervised",
                                        compile=False))
    x, _ = _batch(TINY, rng, "supervised")
    other, _ = _batch(TINY, rng, "supervised")

    def run(inputs):
        return {key: ops.convert_to_numpy(value)
                for key, value in model(inputs, training=False).items()}

    base = run(x)
    new_visual = run({**x, "visual": other["visual"]})
    new_audio = run({**x, "audio": other["audio"]})
    probabilities = base["segment_probabilities"]
    for uses, changed in ((uses_visual, new_visual), (uses_audio, new_audio)):
        if uses:
            assert not np.allclose(changed["segment_probabilities"], probabilities, atol=1e-6)
        else:
            np.testing.assert_array_equal(changed["segment_probabilities"], probabilities)
    if attention is None:
        assert "spatial_attention" not in base
        return
    lam = base["spatial_attention"]
    regions = np.prod(TINY.grid)
    if attention == "uniform":
        np.testing.assert_allclose(lam, 1.0 / regions, rtol=1e-6)
        np.testing.assert_allclose(new_audio["spatial_attention"], 1.0 / regions, rtol=1e-6)
    else:
        assert lam.std(axis=(2, 3)).min() > 0
        assert not np.allclose(new_audio["spatial_attention"], lam, atol=1e-6)


def test_contrastive_baseline_trains_unsupervised_and_exposes_its_map(rng, tmp_path):
    config = preset_config("ezvsl", TINY_FIELDS, "unsupervised")
    x, y = _batch(config, rng, "unsupervised")
    model = build_model(config, "unsupervised")
    assert model.name == "ezvsl_unsupervised"
    loaded = _fit_and_round_trip(model, x, y, tmp_path)
    outputs = inference_model(loaded)(x, training=False)
    assert set(outputs) == {"spatial_attention"}
    similarity_map = ops.convert_to_numpy(outputs["spatial_attention"])
    assert similarity_map.shape == (B, 4, 3, 3)
    # The map is each region's cosine with the video's own audio; the cross
    # similarity's diagonal is its maximum over the regions.
    cross = ops.convert_to_numpy(loaded(x, training=False))
    np.testing.assert_allclose(
        similarity_map.reshape(B, 4, 9).max(-1),
        np.stack([cross[i, :, i] for i in range(B)]), rtol=1e-5, atol=1e-6,
    )


@pytest.mark.parametrize("regime", ["supervised", "weak"])
def test_contrastive_baseline_has_no_labelled_regime(regime):
    config = preset_config("ezvsl", TINY_FIELDS, "unsupervised")
    with pytest.raises(ValueError, match=r"Method 'ezvsl' supports the regimes \('unsupervised',\)"):
        build_model(config, regime)
    with pytest.raises(ValueError, match="'ezvsl' supports the regimes"):
        get("ezvsl").config(regime)


def test_segment_weight_reaches_the_compiled_loss():
    model = build_model(preset_config("fusion-mfb-segment", TINY_FIELDS, "unsupervised"),
                        "unsupervised")
    assert model.loss.segment_weight == 1.0
    assert build_model(TINY, "unsupervised").loss.segment_weight == 0.0


def test_unknown_variant_and_bad_unsupervised_options_name_themselves():
    with pytest.raises(ValueError, match=r"Unknown model 'ez-vsl' \(closest: \['ezvsl'"):
        get("ez-vsl")
    with pytest.raises(ValueError, match="negative_sampling"):
        TINY.replace(negative_sampling="same-class")
    with pytest.raises(ValueError, match="temperature"):
        preset_config("ezvsl", TINY_FIELDS, "unsupervised").replace(temperature=0.0)
    with pytest.raises(ValueError, match="segment_weight"):
        TINY.replace(segment_weight=-1.0)


def test_weak_max_logits_pools_the_segment_scores_of_real_segments(rng):
    """weak_pooling="max-logits": video probabilities = softmax over the classes
    of the segment scores max-pooled over the real segments (NumPy)."""
    config = TINY.replace(weak_pooling="max-logits", dropout=0.0)
    model = build_model(config, "weak")
    x, _ = _batch(config, rng, "weak")
    x["segment_mask"] = np.ones((B, config.segments), "float32")
    x["segment_mask"][1, 2:] = 0.0
    scores = ops.convert_to_numpy(
        keras.Model(model.input, model.get_layer("segment_logits").output)(x)
    )
    pooled = np.stack([scores[b][x["segment_mask"][b] > 0].max(axis=0) for b in range(B)])
    expected = np.exp(pooled - pooled.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(ops.convert_to_numpy(model(x)), expected, rtol=1e-5, atol=1e-6)
    segment = inference_model(model)(x)["segment_probabilities"]
    np.testing.assert_allclose(
        ops.convert_to_numpy(segment).sum(-1), 1.0, rtol=1e-5
    )


def test_head_units_add_relu_layers_before_the_softmax(rng, tmp_path):
    config = TINY.replace(head_units=(7, 3))
    model = build_model(config, "supervised")
    assert tuple(model.get_layer("head_dense_0").kernel.shape)[1] == 7
    assert tuple(model.get_layer("head_dense_1").kernel.shape) == (7, 3)
    assert tuple(model.get_layer("segment_probabilities").kernel.shape) == (3, 5)
    x, y = _batch(config, rng, "supervised")
    _fit_and_round_trip(model, x, y, tmp_path, run_eagerly=True)
    names = {layer.name for layer in build_model(TINY, "weak").layers}
    assert not {"head_dense_0", "segment_logits"} & names  # the faithful default
