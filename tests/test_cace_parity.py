"""The released CACE-Net (github:Brain-Cog-Lab/CACE-Net `CACE/model/main_model.py`:
`supv_main_model`, `SupvLocalizeModule`; `CACE/model/models.py`:
`Co_Guided_Attention`; the losses of `CACE/supv_main.py`, the contrastive
loss included) against NumPy transcriptions of its eval-mode forward pass and
losses, written here from the PyTorch code (not from the Keras model), with
the Keras model's weights copied by name.

CACE-Net's `EncoderLayer`, `DecoderLayer`, `AudioVideoInter`, gates and BiLSTMs
are CMBS's code verbatim: their transcriptions are those of
tests/test_cmbs_parity.py (`Released`), reused here."""

import numpy as np
import pytest
from keras import ops

from keras_avl.losses import SegmentContrastiveLoss
from keras_avl.models import inference_model
from keras_avl.models.cace import CACEConfig, CACEModel, build_cace_supervised
from keras_avl.models.registry import fit_targets, get
from keras_avl.protocols import get_protocol, own_protocol
from tests.numpy_reference import relu, sigmoid, softmax
from tests.test_cmbs_parity import Released, _bce_with_logits, _cross_entropy

pytestmark = pytest.mark.multibackend

B, T, C = 3, 6, 5
TINY = CACEConfig(num_classes=C, segments=T, grid=(3, 3), visual_dim=8, audio_dim=6,
                  visual_hidden=8, attention_hidden=4, d_model=8, num_heads=2,
                  encoder_feedforward_dim=16, feedforward_dim=12, interaction_heads=2,
                  top_k=2)


def _numpy(x):
    return ops.convert_to_numpy(x).astype("float64")


def _inputs(rng):
    return {"visual": rng.normal(size=(B, T, 3, 3, 8)).astype("float32"),
            "audio": rng.normal(size=(B, T, 6)).astype("float32")}


def _model(rng, config=TINY, switch=1.0):
    """The model with every trainable weight drawn again (LayerNorms too), so
    that no branch hides behind an initial 0 or 1, and the switch set."""
    model = build_cace_supervised(config)
    for weight in model.trainable_weights:
        weight.assign(rng.normal(scale=0.4, size=weight.shape).astype("float32"))
    model.get_layer("contrastive_event_head").switch.assign(switch)
    return model


def _segment_labels(rng):
    classes = np.where(rng.random((B, T)) < 0.6, rng.integers(0, C - 1, (B, 1)), C - 1)
    classes[0, :2] = C - 1
    return np.eye(C, dtype="float32")[classes]


def _normalize(x):
    """F.normalize(x, dim=2)."""
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def released_contrastive_loss(q, k, labels, temperature=0.01):
    """`supv_main.py::train_epoch`'s contrastive loss, in float64 as the code."""
    labels_bce = labels[..., :-1].max(-1)
    N, T_, _ = q.shape
    mask_expand = np.repeat((np.ones((T_, T_)) - np.eye(T_))[None], N, 0)
    mask_final = np.repeat((np.ones((2 * T_, 2 * T_)) - np.eye(2 * T_))[None], N, 0)
    contrast_feature = np.concatenate([q, k], axis=1)
    logits = np.einsum("ntc,nck->ntk", contrast_feature, contrast_feature.transpose(0, 2, 1))
    logits = logits / temperature
    pos_q = labels_bce[..., None] * labels_bce[:, None, :] * mask_expand
    pos_k = np.clip(labels_bce[..., None] * labels_bce[:, None, :] + np.eye(T_), 0, 1)
    pos = np.zeros((N, 2 * T_, 2 * T_))
    pos[:, :T_, :T_], pos[:, :T_, T_:], pos[:, T_:, :T_], pos[:, T_:, T_:] = \
        pos_q, pos_k, pos_k, pos_q
    num_pos_pairs = labels_bce.sum(1)[:, None]
    index = np.log(np.concatenate([labels_bce * (2 * num_pos_pairs - 2)] * 2, axis=1) + 1)
    log_prob = np.log((np.exp(logits) * pos).sum(2)) \
        - np.log((np.exp(logits) * mask_final).sum(2)) - index
    return (-log_prob).mean()


class ReleasedCACE(Released):
    """`supv_main_model` and `Co_Guided_Attention` in NumPy, batch first.
    `override` replaces weights by name (a test that the comparison can fail)."""

    def __init__(self, model, config, override=None):
        super().__init__(model, config)
        self.override = override or {}

    def weight(self, layer, name):
        if name in self.override:
            return self.override[name]
        return _numpy(getattr(layer, name))

    def co_guided_attention(self, video, audio):
        """`Co_Guided_Attention.forward` (video (B, T, S, d_v) after `v_fc`):
        (guide_visual_feature, raw_audio_feature, spatial_att_maps)."""
        layer = self.model.get_layer("audio_guided_attention")
        lin = lambda name, x: x @ self.weight(layer, f"{name}_kernel") \
            + self.weight(layer, f"{name}_bias")
        v_norm = lambda x: self.layer_norm(x, _numpy(layer.norm.gamma), _numpy(layer.norm.beta))
        a_norm = lambda x: self.layer_norm(x, _numpy(layer.a_norm.gamma),
                                           _numpy(layer.a_norm.beta))
        batch, t_size, hw, v_dim = video.shape
        audio_feature = audio.reshape(batch * t_size, -1)
        raw_audio_feature = audio
        visual_feature = video
        raw_visual_feature = visual_feature

        def self_attention(suffix):
            query = lin(f"video_query{suffix}", visual_feature).reshape(batch * t_size, hw, -1)
            key = lin(f"video_key{suffix}", visual_feature).reshape(batch * t_size, hw, -1)
            attention = softmax(query @ key.transpose(0, 2, 1), axis=-1)
            value = lin(f"video_value{suffix}", visual_feature).reshape(batch * t_size, hw, -1)
            # Both branches use `v_norm` (the code's `v_norm2` is unused).
            return v_norm(visual_feature.reshape(batch * t_size, hw, -1) + attention @ value)

        output, output2 = self_attention(""), self_attention("2")
        visual_feature, visual_feature2 = output, output2
        # Video Spatial Attention
        video_average = relu(lin("affine_video_ave", visual_feature.sum(1) / hw))[:, None, :]
        self_query = relu(lin("affine_video_3", visual_feature)) * video_average
        maps = softmax(np.tanh(lin("ave_v_att", self_query)).transpose(0, 2, 1), axis=-1)
        self_att_feat = (maps @ visual_feature)[:, 0].reshape(batch, t_size, v_dim)
        # Channel Attention
        audio_query_1 = relu(lin("affine_audio_1", audio_feature))[:, None, :]
        video_query_1 = relu(lin("affine_video_1", visual_feature))
        query = relu(lin("affine_bottleneck", (audio_query_1 * video_query_1).mean(-2)))
        channel = sigmoid(lin("affine_v_c_att", query)).reshape(batch, t_size, -1, v_dim)
        c_att = (raw_visual_feature * (channel + 1)).reshape(batch * t_size, -1, v_dim)
        # Spatial Attention
        c_query = relu(lin("affine_video_2", c_att))
        audio_query_2 = relu(lin("affine_audio_2", audio_feature))[:, None, :]
        spatial = softmax(np.tanh(lin("affine_v_s_att", c_query * audio_query_2))
                          .transpose(0, 2, 1), axis=-1)
        guide_visual = (spatial @ c_att)[:, 0].reshape(batch, t_size, v_dim)
        guide_visual = guide_visual + self.c.beta * sigmoid(self_att_feat) * guide_visual
        # Audio Self Attention
        energy = lin("audio_query", raw_audio_feature) \
            @ lin("audio_key", raw_audio_feature).transpose(0, 2, 1)
        output = softmax(energy, axis=-1) @ lin("audio_value", raw_audio_feature)
        tmp_guide_audio_feature = a_norm(raw_audio_feature + output)
        # Visual-Guide Attention
        video_query = lin("v_query", visual_feature2.sum(1).reshape(batch, t_size, v_dim) / hw)
        energy = video_query @ lin("vaudio_key", tmp_guide_audio_feature).transpose(0, 2, 1)
        guide_audio = softmax(energy, axis=-1) @ lin("vaudio_value", tmp_guide_audio_feature)
        raw_audio_feature = raw_audio_feature \
            + self.c.psai * sigmoid(guide_audio) * raw_audio_feature
        return guide_visual, raw_audio_feature, spatial[:, 0].reshape(batch, t_size, hw)

    def supv_localize_module(self, fused, switch):
        """`SupvLocalizeModule.forward` in eval (no noise: k from f itself)."""
        head = self.model.get_layer("contrastive_event_head")
        encoder_q = lambda x: relu(x @ self.weight(head, "encoder_q_kernel")
                                   + self.weight(head, "encoder_q_bias"))
        query_fused_content = encoder_q(fused)
        output_content = fused + self.c.enhancement * query_fused_content if switch else fused
        logits = (output_content @ self.weight(head, "classifier_kernel")
                  + self.weight(head, "classifier_bias"))[..., 0]
        class_scores = self.linear("class_classifier", fused.max(1))
        return (logits, class_scores, _normalize(query_fused_content),
                _normalize(encoder_q(fused)))

    def supv_main_model(self, visual, audio, switch=True):
        """(is_event_scores, event_scores, audio_visual_gate, av_score, q, k, spatial)."""
        audio = audio.astype("float64")
        visual = self.v_fc(visual).reshape(visual.shape[0], visual.shape[1], -1,
                                           self.c.visual_hidden)
        visual_feature, audio_rnn_input, spatial = self.co_guided_attention(visual, audio)
        audio_rnn = self.bilstm("audio_lstm", audio_rnn_input)
        visual_rnn = self.bilstm("visual_lstm", visual_feature)
        fused, audio_visual_gate, av_score = self.attend_and_fuse(visual_rnn, audio_rnn)
        is_event, event_scores, q, k = self.supv_localize_module(fused, switch)
        event_scores = event_scores + self.c.gamma * av_score
        return is_event, event_scores, audio_visual_gate[..., 0], av_score, q, k, spatial


def _compare(out, reference, switch=True):
    is_event, event_scores, gate, av_score, q, k, _ = reference
    features = np.concatenate([q, k], axis=1) * float(switch)
    for key, expected in (("event_logits", is_event), ("class_logits", event_scores),
                          ("av_gate", gate), ("consistency_score", av_score),
                          ("contrastive_features", features)):
        np.testing.assert_allclose(out[key], expected, rtol=1e-5, atol=1e-5, err_msg=key)


@pytest.mark.parametrize("switch", [0.0, 1.0])
def test_supervised_forward_matches_the_released_code(rng, switch):
    model = _model(rng, switch=switch)
    x = _inputs(rng)
    reference = ReleasedCACE(model, TINY).supv_main_model(**x, switch=bool(switch))
    out = {key: _numpy(value) for key, value in model(x, training=False).items()}
    _compare(out, reference, switch)
    spatial = inference_model(model).predict(x, verbose=0)["spatial_attention"]
    np.testing.assert_allclose(spatial.reshape(B, T, -1), reference[-1], rtol=1e-5, atol=1e-6)


def test_the_comparison_catches_a_transposed_weight(rng):
    """The reference reads every weight by name: a transposed (square) kernel
    of the visual guidance gives other outputs."""
    model = _model(rng)
    x = _inputs(rng)
    out = {key: _numpy(value) for key, value in model(x, training=False).items()}
    layer = model.get_layer("audio_guided_attention")
    for name in ("vaudio_key_kernel", "audio_value_kernel"):
        transposed = {name: _numpy(getattr(layer, name)).T}
        with pytest.raises(AssertionError):
            _compare(out, ReleasedCACE(model, TINY, transposed).supv_main_model(**x))


def test_psai_and_the_switch_change_the_outputs(rng):
    model = _model(rng)
    x = _inputs(rng)
    ours = _numpy(model(x, training=False)["event_logits"])
    for config, switch in ((TINY.replace(psai=0.0), 1.0), (TINY, 0.0)):
        other = build_cace_supervised(config, compile=False)
        other.set_weights(model.get_weights())
        other.get_layer("contrastive_event_head").switch.assign(switch)
        theirs = _numpy(other(x, training=False)["event_logits"])
        assert np.abs(ours - theirs).max() > 1e-3
        np.testing.assert_allclose(
            theirs, ReleasedCACE(other, config).supv_main_model(**x, switch=bool(switch))[0],
            rtol=1e-5, atol=1e-5)


def test_contrastive_loss_matches_the_released_code(rng):
    q = _normalize(rng.normal(size=(B, T, 8)))
    k = _normalize(q + 0.3 * rng.normal(size=(B, T, 8)))
    labels = _segment_labels(rng)
    labels[1] = np.eye(C)[C - 1]  # a background-only video: one positive per anchor
    expected = released_contrastive_loss(q, k, labels)
    features = np.concatenate([q, k], axis=1).astype("float32")
    loss = float(SegmentContrastiveLoss(0.01)(labels, features))
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    # All-zero features (the switch off): no loss.
    assert float(SegmentContrastiveLoss()(labels, np.zeros_like(features))) == 0.0


def test_supervised_losses_match_the_released_code(rng):
    """supv_main.py: BCE(is_event) + CE(event) + BCE(gate) + CE(av_score) +
    contras_coeff * contrastive, once the switch is on (eval mode: k = q)."""
    model = _model(rng)
    x = _inputs(rng)
    is_event, event_scores, gate, av_score, q, k, _ = \
        ReleasedCACE(model, TINY).supv_main_model(**x)
    labels = _segment_labels(rng)
    labels_bce = labels[..., :-1].max(-1)
    labels_event = labels[..., :-1].argmax(-1).max(-1)
    expected = {
        "event_logits_loss": _bce_with_logits(is_event, labels_bce),
        "class_logits_loss": _cross_entropy(event_scores, labels_event),
        "av_gate_loss": _bce_with_logits(gate, labels_bce),
        "consistency_score_loss": _cross_entropy(av_score, labels_event),
        "contrastive_features_loss": released_contrastive_loss(q, k, labels),
    }
    _, targets = fit_targets(model)(x, labels)
    result = model.evaluate(x, targets, batch_size=B, verbose=0, return_dict=True)
    for key, value in expected.items():
        np.testing.assert_allclose(result[key], value, rtol=1e-4, err_msg=key)
    np.testing.assert_allclose(result["loss"], sum(expected.values()), rtol=1e-4)


def test_fit_turns_the_switch_on_from_an_eighth_of_the_epochs(rng):
    """`epoch >= n_epoch / 8`: with 16 epochs, on from epoch 2 (0-based); the
    contrastive loss is 0 before."""
    import keras

    model = _model(rng, switch=0.0)
    seen = []
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(
        float(_numpy(model.get_layer("contrastive_event_head").switch))))
    x = _inputs(rng)
    history = model.fit(*fit_targets(model)(x, _segment_labels(rng)), batch_size=B,
                        epochs=4, initial_epoch=0, verbose=0, callbacks=[record],
                        steps_per_epoch=1)
    assert seen == [0.0, 1.0, 1.0, 1.0]  # 4 epochs: on from epoch 0.5
    losses = history.history["contrastive_features_loss"]
    assert losses[0] == 0.0 and all(value > 0 for value in losses[1:])
    assert isinstance(model, CACEModel)


def test_registry_and_protocol_hold_the_released_values():
    config = get("cace").config()
    assert (config.alpha, config.gamma, config.beta, config.psai) == (0.1, 0.3, 0.4, 0.3)
    assert (config.enhancement, config.contrastive_weight, config.temperature) == (0.6, 1.0, 0.01)
    assert (config.feedforward_dim, config.encoder_feedforward_dim, config.d_model) == \
        (512, 1024, 256)
    assert config.warmup_fraction == 0.125 and get("cace").regimes == ("supervised",)
    protocol = get_protocol("cace-mm24-supervised")
    recipe = protocol.training
    assert (recipe.epochs, recipe.batch_size, recipe.learning_rate, recipe.clipnorm,
            recipe.decay_epochs, recipe.decay, recipe.dtype_policy) == \
        (200, 64, 7e-4, 0.5, (10, 20, 30), 0.5, "float64")
    assert "Brain-Cog-Lab/CACE-Net" in protocol.source
    assert (own_protocol("cace", "supervised"), own_protocol("cace", "weak")) == \
        ("cace-mm24-supervised", None)


@pytest.mark.slow  # two float64 epochs: minutes on a loaded CPU
def test_cace_trains_under_the_float64_policy_of_its_protocol(rng):
    """The code trains in float64 (`model.double()`), as its protocol says."""
    import keras

    from keras_avl.precision import precision_policy

    with precision_policy(policy=get_protocol("cace-mm24-supervised").training.dtype_policy):
        model = build_cace_supervised(TINY)
    x = _inputs(rng)
    history = model.fit(*fit_targets(model)(x, _segment_labels(rng)), batch_size=B, epochs=2,
                        verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert history.history["contrastive_features_loss"][1] > 0
    assert {w.dtype for w in model.weights} == {"float64"}
    assert keras.mixed_precision.dtype_policy().name == "float32"
