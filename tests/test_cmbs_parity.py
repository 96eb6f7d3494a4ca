"""The released CMBS (github:marmot-xy/CMBS `model/main_model.py`:
`supv_main_model`, `weak_main_model`; `model/models.py`:
`New_Audio_Guided_Attention`, `EncoderLayer`, `DecoderLayer`; the losses of
`supv_main.py` / `weakly_main.py`) against NumPy transcriptions of its eval-mode
forward pass and losses, written here from the PyTorch code (not from the Keras
model), with the Keras model's weights."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_avl.losses import EventClassLoss, ForegroundLoss, multilabel_soft_margin_loss
from keras_avl.models.cmbs import (
    REGIME_DEFAULTS,
    CMBSConfig,
    build_cmbs_supervised,
    build_cmbs_weak,
    regime_config,
)
from keras_avl.models.registry import fit_targets
from tests.numpy_reference import lstm_sequence, relu, sigmoid, softmax

pytestmark = pytest.mark.multibackend

B, T, C = 3, 6, 5
TINY = CMBSConfig(num_classes=C, segments=T, grid=(3, 3), visual_dim=8, audio_dim=6,
                  visual_hidden=8, attention_hidden=4, d_model=8, num_heads=2,
                  encoder_feedforward_dim=16, feedforward_dim=12, interaction_heads=2,
                  top_k=2)
WEAK = TINY.replace(**REGIME_DEFAULTS["weak"]).replace(encoder_feedforward_dim=16)


def _numpy(x):
    return ops.convert_to_numpy(x).astype("float64")


def _inputs(rng):
    return {"visual": rng.normal(size=(B, T, 3, 3, 8)).astype("float32"),
            "audio": rng.normal(size=(B, T, 6)).astype("float32")}


def _randomized(model, rng):
    """Every weight drawn again (LayerNorm scales and biases too), so that no
    branch hides behind an initial value of 0 or 1."""
    for weight in model.weights:
        weight.assign(rng.normal(scale=0.4, size=weight.shape).astype("float32"))
    return model


class Released:
    """The PyTorch modules' forward passes in NumPy, batch first, with the
    weights read from the Keras model (a Keras kernel is `weight.T`)."""

    def __init__(self, model, config):
        self.model, self.c = model, config

    def linear(self, name, x):
        layer = self.model.get_layer(name)
        out = x @ _numpy(layer.kernel)
        return out + _numpy(layer.bias) if layer.use_bias else out

    # model/models.py -------------------------------------------------------
    def new_audio_guided_attention(self, video, audio):
        """`New_Audio_Guided_Attention.forward`, video (B, T, h, w, d_v)."""
        layer = self.model.get_layer("audio_guided_attention")
        W = {w.name: _numpy(w) for w in layer.weights}
        lin = lambda name, x: x @ W[f"{name}_kernel"] + W[f"{name}_bias"]
        batch, t_size, h, w, v_dim = video.shape
        audio_feature = audio.reshape(batch * t_size, -1)
        visual_feature = video.reshape(batch, t_size, -1, v_dim)
        raw_visual_feature = visual_feature
        # Self Attention
        query = lin("video_query", visual_feature).reshape(batch * t_size, h * w, -1)
        key = lin("video_key", visual_feature).reshape(batch * t_size, h * w, -1)
        energy = query @ key.transpose(0, 2, 1)
        attention = softmax(energy, axis=-1)
        value = lin("video_value", visual_feature).reshape(batch * t_size, h * w, -1)
        output = attention @ value
        visual_feature = self.layer_norm(
            visual_feature.reshape(batch * t_size, h * w, -1) + output,
            W["gamma"], W["beta"])
        # Video Spatial Attention
        video_average = visual_feature.sum(1) / (h * w)
        video_average = relu(lin("affine_video_ave", video_average))[:, None, :]
        self_query = relu(lin("affine_video_3", visual_feature)) * video_average
        maps = softmax(np.tanh(lin("ave_v_att", self_query)).transpose(0, 2, 1), axis=-1)
        self_att_feat = (maps @ visual_feature)[:, 0].reshape(batch, t_size, v_dim)
        # Channel Attention
        audio_query_1 = relu(lin("affine_audio_1", audio_feature))[:, None, :]
        video_query_1 = relu(lin("affine_video_1", visual_feature))
        query_raw = (audio_query_1 * video_query_1).mean(-2)
        query = relu(lin("affine_bottleneck", query_raw))
        channel = sigmoid(lin("affine_v_c_att", query)).reshape(batch, t_size, -1, v_dim)
        c_att = (raw_visual_feature * (channel + 1)).reshape(batch * t_size, -1, v_dim)
        # Audio Spatial Attention
        c_query = relu(lin("affine_video_2", c_att))
        audio_query_2 = relu(lin("affine_audio_2", audio_feature))[:, None, :]
        maps = softmax(np.tanh(lin("affine_v_s_att", c_query * audio_query_2))
                       .transpose(0, 2, 1), axis=-1)
        c_s = (maps @ c_att)[:, 0].reshape(batch, t_size, v_dim)
        return c_s + self.c.beta * sigmoid(self_att_feat) * c_s

    @staticmethod
    def layer_norm(x, gamma, beta):
        mean = x.mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(((x - mean) ** 2).mean(-1, keepdims=True) + 1e-5) \
            * gamma + beta

    def multihead_attention(self, block, query, key, value):
        """`nn.MultiheadAttention(query, key, value)[0]`, eval, batch first."""
        mha = block.attention
        heads = block.num_heads
        proj = lambda dense, x: x @ _numpy(dense.kernel).reshape(x.shape[-1], -1) \
            + _numpy(dense.bias).reshape(-1)
        q, k, v = (proj(d, x) for d, x in ((mha.query_dense, query), (mha.key_dense, key),
                                             (mha.value_dense, value)))
        split = lambda x: x.reshape(x.shape[0], x.shape[1], heads, -1).transpose(0, 2, 1, 3)
        q, k, v = split(q), split(k), split(v)
        weights = softmax(q @ k.transpose(0, 1, 3, 2) / np.sqrt(q.shape[-1]), axis=-1)
        out = (weights @ v).transpose(0, 2, 1, 3).reshape(query.shape[0], query.shape[1], -1)
        d = query.shape[-1]
        return out @ _numpy(mha.output_dense.kernel).reshape(-1, d) \
            + _numpy(mha.output_dense.bias)

    def _norm(self, norm, x):
        return self.layer_norm(x, _numpy(norm.gamma), _numpy(norm.beta))

    def _feed_forward(self, block, x):
        hidden = relu(x @ _numpy(block.hidden.kernel) + _numpy(block.hidden.bias))
        x = x + hidden @ _numpy(block.projection.kernel) + _numpy(block.projection.bias)
        return self._norm(block.norm_2, x)

    def encoder_layer(self, name, src):
        block = self.model.get_layer(name)
        src = self._norm(block.norm_1, src + self.multihead_attention(block, src, src, src))
        return self._feed_forward(block, src)

    def decoder_layer(self, name, tgt, memory):
        block = self.model.get_layer(name)
        memory = np.concatenate([memory, tgt], axis=1)  # torch.cat(dim=0), time first
        tgt = self._norm(block.norm_1, tgt + self.multihead_attention(block, tgt, memory, memory))
        return self._feed_forward(block, tgt)

    # model/main_model.py ----------------------------------------------------
    def internal_temporal_relation(self, modality, feature):
        feature = self.linear(f"{modality}_encoder_input", feature)
        for i in range(self.c.encoder_blocks):
            feature = self.encoder_layer(f"{modality}_encoder_{i}", feature)
        return feature

    def cross_modal_relation(self, modality, query, memory):
        return self.decoder_layer(f"{modality}_decoder",
                                  self.linear(f"{modality}_decoder_input", query), memory)

    def audio_video_inter(self, name, video_feat, audio_feat):
        block = self.model.get_layer(name)
        global_feat = video_feat * audio_feat
        memory = np.concatenate([audio_feat, video_feat], axis=1)
        return self._norm(block.norm_1, global_feat
                          + self.multihead_attention(block, global_feat, memory, memory))

    def gated(self, name, x):
        layer = self.model.get_layer("background_suppression")
        return sigmoid(x @ _numpy(getattr(layer, f"{name}_kernel"))
                       + _numpy(getattr(layer, f"{name}_bias")))

    def bilstm(self, name, x):
        layer = self.model.get_layer(name)
        outputs = []
        for direction in (layer.forward_layer, layer.backward_layer):
            cell = direction.cell
            run = lambda seq: lstm_sequence(seq, _numpy(cell.kernel),
                                            _numpy(cell.recurrent_kernel), _numpy(cell.bias))
            if direction is layer.forward_layer:
                outputs.append(np.array([run(v) for v in x]))
            else:
                outputs.append(np.array([run(v[::-1])[::-1] for v in x]))
        return np.concatenate(outputs, -1)

    def v_fc(self, visual):
        return relu(self.linear("visual_fc", visual.astype("float64")))

    def attend_and_fuse(self, visual_rnn, audio_rnn):
        """The supervised trunk after the BiLSTMs (CACE-Net's too): (fused,
        audio-visual gate, av_score)."""
        video_key_value = self.internal_temporal_relation("visual", visual_rnn)
        audio_query = self.cross_modal_relation("audio", audio_rnn, video_key_value)
        audio_key_value = self.internal_temporal_relation("audio", audio_rnn)
        video_query = self.cross_modal_relation("visual", visual_rnn, audio_key_value)
        audio_gate = self.gated("audio_gated", audio_key_value)
        video_gate = self.gated("video_gated", video_key_value)
        audio_visual_gate = audio_gate * video_gate
        alpha = self.c.alpha
        video_query = video_query + audio_gate * video_query * alpha
        audio_query = audio_query + video_gate * audio_query * alpha
        cas = self.model.get_layer("class_activation_consistency")
        top = lambda x: -np.sort(-x, axis=1)[:, :self.c.top_k].mean(1)
        score_video = top(video_query @ _numpy(cas.video_cas_kernel) + _numpy(cas.video_cas_bias))
        score_audio = top(audio_query @ _numpy(cas.audio_cas_kernel) + _numpy(cas.audio_cas_bias))
        av_score = (score_video + score_audio) / 2
        video_query = self.audio_video_inter("av_interaction", video_query, audio_query)
        audio_query = self.audio_video_inter("va_interaction", audio_query, video_query)
        return (video_query + audio_query) / 2, audio_visual_gate, av_score

    def supv_main_model(self, visual, audio):
        """(is_event_scores (B, T), event_scores, audio_visual_gate (B, T), av_score)."""
        audio = audio.astype("float64")
        visual_feature = self.new_audio_guided_attention(self.v_fc(visual), audio)
        audio_rnn = self.bilstm("audio_lstm", audio)
        visual_rnn = self.bilstm("visual_lstm", visual_feature)
        fused, audio_visual_gate, av_score = self.attend_and_fuse(visual_rnn, audio_rnn)
        logits = self.linear("event_classifier", fused)[..., 0]
        class_logits = self.linear("class_classifier", fused.max(1))
        event_scores = class_logits + self.c.gamma * av_score
        return logits, event_scores, audio_visual_gate[..., 0], av_score

    def weak_main_model(self, visual, audio):
        """(av_gate (B, T), raw_logits (B, C), event_scores (B, C), fused_logits)."""
        audio = audio.astype("float64")
        visual_feature = self.new_audio_guided_attention(self.v_fc(visual), audio)
        video_key_value = self.internal_temporal_relation("visual", visual_feature)
        audio_query = self.cross_modal_relation("audio", audio, video_key_value)
        audio_key_value = self.internal_temporal_relation("audio", audio)
        video_query = self.cross_modal_relation("visual", visual_feature, audio_key_value)
        audio_gate = self.gated("audio_gated", video_key_value)
        video_gate = self.gated("video_gated", audio_key_value)
        av_gate = (audio_gate + video_gate) / 2
        alpha = self.c.alpha
        video_query = (1 - alpha) * video_query + audio_gate * video_query * alpha
        audio_query = (1 - alpha) * audio_query + video_gate * audio_query * alpha
        video_cas_gate = sigmoid(self.linear("video_cas", video_query))
        audio_cas_gate = sigmoid(self.linear("audio_cas", audio_query))
        video_query = self.audio_video_inter("av_interaction", video_query, audio_query)
        audio_query = self.audio_video_inter("va_interaction", audio_query, video_query)
        fused = (video_query + audio_query) / 2
        cas_score = self.linear("cas_classifier", fused)
        gamma = self.c.gamma
        cas_score = gamma * video_cas_gate * cas_score + gamma * audio_cas_gate * cas_score
        raw_logits = -np.sort(-cas_score, axis=1)[:, :self.c.top_k].mean(1)
        fused_logits = av_gate * raw_logits[:, None, :]
        event_scores = softmax(fused_logits.max(1), axis=-1)
        return av_gate[..., 0], raw_logits, event_scores, fused_logits


def _bce_with_logits(z, target):
    """nn.BCEWithLogitsLoss (mean)."""
    return np.mean(-(target * np.log(sigmoid(z)) + (1 - target) * np.log(1 - sigmoid(z))))


def _cross_entropy(logits, target):
    """nn.CrossEntropyLoss (mean) of integer targets."""
    return np.mean([-np.log(softmax(row)[k]) for row, k in zip(logits, target)])


def _multilabel_soft_margin(scores, labels):
    return np.mean(-(labels * np.log(sigmoid(scores))
                     + (1 - labels) * np.log(1 - sigmoid(scores))))


def _segment_labels(rng):
    """One event class per video on some segments, background elsewhere; the
    third video has two event classes (the code takes the largest)."""
    classes = np.where(rng.random((B, T)) < 0.6, rng.integers(0, C - 1, (B, 1)), C - 1)
    classes[2, :2] = [1, 3]
    return np.eye(C, dtype="float32")[classes]


def test_supervised_forward_and_losses_match_the_released_code(rng):
    model = _randomized(build_cmbs_supervised(TINY), rng)
    x = _inputs(rng)
    is_event, event_scores, gate, av_score = Released(model, TINY).supv_main_model(**x)
    out = {k: _numpy(v) for k, v in model(x, training=False).items()}
    for key, expected in (("event_logits", is_event), ("class_logits", event_scores),
                          ("av_gate", gate), ("consistency_score", av_score)):
        np.testing.assert_allclose(out[key], expected, rtol=1e-5, atol=1e-5, err_msg=key)

    # supv_main.py: the labels and the four losses, weights 1.
    labels = _segment_labels(rng)
    labels_bce = labels[..., :-1].max(-1)
    labels_event = labels[..., :-1].argmax(-1).max(-1)
    expected = {
        "event_logits": _bce_with_logits(is_event, labels_bce),
        "av_gate": _bce_with_logits(gate, labels_bce),
        "class_logits": _cross_entropy(event_scores, labels_event),
        "consistency_score": _cross_entropy(av_score, labels_event),
    }
    losses = {"event_logits": ForegroundLoss(), "av_gate": ForegroundLoss(),
              "class_logits": EventClassLoss(), "consistency_score": EventClassLoss()}
    for key, loss in losses.items():
        np.testing.assert_allclose(float(loss(labels, out[key])), expected[key], rtol=1e-5,
                                   err_msg=key)
    _, targets = fit_targets(model)(x, labels)
    total = model.evaluate(x, targets, batch_size=B, verbose=0, return_dict=True)["loss"]
    np.testing.assert_allclose(total, sum(expected.values()), rtol=1e-5)


def test_weak_forward_and_loss_match_the_released_code(rng):
    model = _randomized(build_cmbs_weak(WEAK), rng)
    x = _inputs(rng)
    av_gate, raw_logits, event_scores, fused_logits = Released(model, WEAK).weak_main_model(**x)
    out = {k: _numpy(v) for k, v in model(x, training=False).items()}
    np.testing.assert_allclose(out["video_probabilities"], event_scores, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["segment_probabilities"], softmax(fused_logits, axis=-1),
                               rtol=1e-5, atol=1e-6)
    # weakly_main.py evaluates compute_accuracy_supervised(av_gate, raw_logits):
    # sigmoid(av_gate) > 0.5 always, so every segment is argmax raw_logits.
    assert (sigmoid(av_gate) > 0.5).all()
    assert (out["segment_probabilities"].argmax(-1) == raw_logits.argmax(-1)[:, None]).all()

    # MultiLabelSoftMarginLoss(event_scores, video labels).
    labels = np.eye(C, dtype="float32")[rng.integers(0, C, B)]
    expected = _multilabel_soft_margin(event_scores, labels)
    loss = _numpy(multilabel_soft_margin_loss(labels, out["video_probabilities"])).mean()
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    _, targets = fit_targets(model)(x, labels)
    total = model.evaluate(x, targets, batch_size=B, verbose=0, return_dict=True)["loss"]
    np.testing.assert_allclose(total, expected, rtol=1e-5)


def test_gamma_changes_the_weak_output(rng):
    model = _randomized(build_cmbs_weak(WEAK, compile=False), rng)
    doubled = WEAK.replace(gamma=2 * WEAK.gamma)
    other = build_cmbs_weak(doubled, compile=False)
    other.set_weights(model.get_weights())
    x = _inputs(rng)
    ours = _numpy(model(x, training=False)["video_probabilities"])
    theirs = _numpy(other(x, training=False)["video_probabilities"])
    assert np.abs(ours - theirs).max() > 1e-3
    np.testing.assert_allclose(theirs, Released(other, doubled).weak_main_model(**x)[2],
                               rtol=1e-5, atol=1e-6)


def test_regime_defaults_are_the_released_configs():
    """configs/main.json, configs/weak.json and the weak model's constants."""
    supervised, weak = regime_config("supervised"), regime_config("weak")
    assert (supervised.alpha, supervised.gamma, supervised.beta) == (0.1, 0.3, 0.4)
    assert (weak.alpha, weak.gamma, weak.beta) == (0.2, 0.5, 0.5)
    assert (supervised.interaction_heads, weak.interaction_heads) == (4, 2)
    assert (supervised.visual_dropout, weak.visual_dropout) == (0.2, 0.1)
    assert (supervised.encoder_feedforward_dim, weak.encoder_feedforward_dim) == (1024, 2048)
    assert supervised.feedforward_dim == weak.feedforward_dim == 1024
    assert supervised.interaction_dropout == weak.interaction_dropout == 0.2
    assert set(REGIME_DEFAULTS) == {"weak"}


def test_weak_builder_without_config_uses_the_weak_defaults():
    model = build_cmbs_weak(compile=False)
    assert model.get_layer("background_suppression").alpha == 0.2
    assert model.get_layer("cas_gate_weight").scale == 0.5
    assert model.get_layer("audio_guided_attention").beta == 0.5
    assert model.get_layer("av_interaction").attention.dropout == 0.2
    assert "audio_lstm" not in [layer.name for layer in model.layers]


def test_weights_are_initialised_like_pytorch():
    """nn.Linear: U(+-1/sqrt(fan_in)) for the weight and the bias; the blocks'
    output projection too (zero bias); the interaction attention dropout 0.2."""
    config = TINY.replace(d_model=64, visual_hidden=64)
    model = build_cmbs_supervised(config, compile=False)
    layer = model.get_layer("class_classifier")
    for weight in (layer.kernel, layer.bias):
        values = _numpy(weight)
        assert 0.8 / 8 < np.abs(values).max() <= 1 / 8
    attention = model.get_layer("audio_guided_attention")
    values = _numpy(attention.video_value_kernel)
    assert 0.9 / 8 < np.abs(values).max() <= 1 / 8
    block = model.get_layer("visual_encoder_0")
    output = _numpy(block.attention.output_dense.kernel)
    assert 0.9 / 8 < np.abs(output).max() <= 1 / 8
    assert np.abs(_numpy(block.attention.query_dense.kernel)).max() <= np.sqrt(6 / 256)
    assert block.attention.dropout == 0.1
    assert model.get_layer("va_interaction").attention.dropout == 0.2


@pytest.mark.parametrize("build", [build_cmbs_supervised, build_cmbs_weak])
def test_cmbs_trains_under_the_float64_policy_of_its_protocols(rng, build):
    """The code trains in float64 (`model.double()`): the cmbs-cvpr22-*
    protocols name that policy, and the model builds and takes a step in it."""
    from keras_avl.precision import precision_policy
    from keras_avl.protocols import PROTOCOLS

    assert {name: p.training.dtype_policy for name, p in PROTOCOLS.items()
            if p.training.dtype_policy} == {
        "cmbs-cvpr22-supervised": "float64", "cmbs-cvpr22-weak": "float64",
        "cace-mm24-supervised": "float64"}
    config = TINY if build is build_cmbs_supervised else WEAK
    with precision_policy(policy="float64"):
        model = build(config)
    x = _inputs(rng)
    labels = _segment_labels(rng) if build is build_cmbs_supervised \
        else np.eye(C, dtype="float32")[rng.integers(0, C, B)]
    before = [_numpy(w) for w in model.weights]
    history = model.fit(*fit_targets(model)(x, labels), batch_size=B, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert {w.dtype for w in model.weights} == {"float64"}
    assert any(not np.array_equal(b, _numpy(w)) for b, w in zip(before, model.weights))
    assert keras.mixed_precision.dtype_policy().name == "float32"


def test_float64_policy_is_refused_with_mixed_precision():
    from keras_avl.precision import precision_policy

    with pytest.raises(ValueError, match="policy"):
        with precision_policy(True, gpu=False, policy="float64"):
            pass
    with pytest.raises(ValueError, match="policy"):
        with precision_policy(policy="float16"):
            pass
