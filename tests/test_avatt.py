"""The released A+V-att (AVE-ECCV18 `models.py` / `models_weakly.py`,
`supervised_main.py` / `weak_supervised_main.py`) against NumPy transcriptions
of its forward pass, loss and learning-rate schedule, written here from the
PyTorch code (not from the Keras model)."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_avl.models import (AVAttConfig, PaperConfig, build_model, get, inference_model,
                              presets)
from keras_avl.models.step_lr import StepLR
from keras_avl.protocols import get_protocol, resolve_protocol
from tests.numpy_reference import lstm_sequence, relu, sigmoid, softmax

pytestmark = pytest.mark.multibackend

B = 3
# grid 3 x 3: S = 9 = the attention size, as 49 = 7 x 7 in AVE.
TINY = get("avatt").config(
    num_classes=5, segments=4, grid=(3, 3), visual_dim=8, audio_dim=6, hidden=4,
    avatt_hidden_dim=6,
)


def _with_protocol(regime, config=TINY):
    """The model compiled as `train` compiles it under `ave-eccv18-<regime>`."""
    recipe = get_protocol(f"ave-eccv18-{regime}")
    return build_model(config, regime, optimizer=recipe.training.optimizer(steps_per_epoch=52),
                       loss=recipe.training.loss_function())


def _inputs(config, rng):
    h, w = config.grid
    return {
        "visual": rng.normal(size=(B, config.segments, h, w, config.visual_dim)).astype("float32"),
        "audio": rng.normal(size=(B, config.segments, config.audio_dim)).astype("float32"),
    }


def _schedule(optimizer):
    """The optimizer's learning rate as compiled: its schedule, or a float
    (read back from the public config, not the optimizer's private attribute)."""
    rate = optimizer.get_config()["learning_rate"]
    return keras.optimizers.schedules.deserialize(rate) if isinstance(rate, dict) else rate


def _numpy(weight):
    return ops.convert_to_numpy(weight)


def _bilstm(model, name, x):
    """Bi-LSTM over x (T, F): [forward, backward] outputs, as nn.LSTM(bidirectional)."""
    layer = model.get_layer(f"{name}_bidirectional")
    outputs = []
    for direction, sequence in ((layer.forward_layer, x), (layer.backward_layer, x[::-1])):
        cell = direction.cell
        h = lstm_sequence(sequence, _numpy(cell.kernel), _numpy(cell.recurrent_kernel),
                          _numpy(cell.bias))
        outputs.append(h if direction is layer.forward_layer else h[::-1])
    return np.concatenate(outputs, -1)


def _att_net_scores(model, x):
    """`att_Net.forward` up to `score = self.L2(out)`, for each video: (B, T, C)."""
    att = model.get_layer("audio_guided_attention")
    W = {w.name: _numpy(w) for w in att.weights}
    L1, L2 = model.get_layer("hidden_dense"), model.get_layer("segment_logits")
    scores, attentions = [], []
    for visual, audio in zip(x["visual"], x["audio"]):
        T = visual.shape[0]
        V = visual.reshape(T, -1, visual.shape[-1])  # (T, 49, 512)
        v_t = relu(V @ W["W_video"] + W["b_video"])
        a_t = relu(audio @ W["W_audio"] + W["b_audio"])
        # affine_v(v_t) (T, 49, 49) + affine_g(a_t).unsqueeze(2) (T, 49, 1)
        content_v = v_t @ W["W_v"] + (a_t @ W["W_g"])[:, :, None]
        z_t = (np.tanh(content_v) @ W["w_h"])[..., 0]
        alpha_t = softmax(z_t)
        c_t = np.einsum("ts,tsd->td", alpha_t, V)
        output = np.concatenate(
            [_bilstm(model, "audio_lstm", audio), _bilstm(model, "visual_lstm", c_t)], -1)
        out = relu(relu(output) @ _numpy(L1.kernel) + _numpy(L1.bias))
        scores.append(out @ _numpy(L2.kernel) + _numpy(L2.bias))
        attentions.append(alpha_t)
    return np.array(scores), np.array(attentions)


def test_supervised_forward_matches_the_released_att_net(rng):
    model = build_model(TINY, "supervised", compile=False)
    x = _inputs(TINY, rng)
    scores, attention = _att_net_scores(model, x)
    outputs = inference_model(model)(x, training=False)
    np.testing.assert_allclose(_numpy(outputs["segment_probabilities"]), softmax(scores),
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(
        _numpy(outputs["spatial_attention"]).reshape(attention.shape), attention,
        rtol=1e-4, atol=1e-6)


def test_weak_forward_max_pools_the_scores_before_the_softmax(rng):
    """models_weakly.py: softmax(MaxPool1d over time of the scores); the
    segments are classified by the argmax of the scores."""
    model = build_model(TINY, "weak", compile=False)
    x = _inputs(TINY, rng)
    scores, _ = _att_net_scores(model, x)
    np.testing.assert_allclose(_numpy(model(x, training=False)), softmax(scores.max(axis=1)),
                               rtol=1e-4, atol=1e-6)
    segments = _numpy(inference_model(model)(x, training=False)["segment_probabilities"])
    np.testing.assert_allclose(segments, softmax(scores), rtol=1e-4, atol=1e-6)
    # Not the MIL mean of the probabilities that the paper's weak model uses.
    assert not np.allclose(_numpy(model(x, training=False)), segments.mean(axis=1), atol=1e-3)


def _multilabel_soft_margin(scores, labels):
    """nn.MultiLabelSoftMarginLoss: mean over classes, then over the rest."""
    per_class = -(labels * np.log(sigmoid(scores)) + (1 - labels) * np.log(1 - sigmoid(scores)))
    return per_class.mean()


def test_protocol_loss_is_multilabel_soft_margin_on_the_softmax_outputs(rng):
    """The official scripts feed the softmax probabilities to the loss."""
    model = _with_protocol("supervised")
    x = _inputs(TINY, rng)
    labels = np.eye(5, dtype="float32")[rng.integers(0, 5, (B, TINY.segments))]
    probabilities = _numpy(model(x, training=False))
    expected = _multilabel_soft_margin(probabilities, labels)
    loss_function = get_protocol("ave-eccv18-supervised").training.loss_function()
    loss = ops.convert_to_numpy(loss_function(labels, probabilities))
    np.testing.assert_allclose(loss.mean(), expected, rtol=1e-5)
    np.testing.assert_allclose(model.evaluate(x, labels, batch_size=B, verbose=0)[0],
                               expected, rtol=1e-4)
    weak = _with_protocol("weak")
    video_labels = labels[:, 0]
    expected = _multilabel_soft_margin(_numpy(weak(x, training=False)), video_labels)
    np.testing.assert_allclose(weak.evaluate(x, video_labels, batch_size=B, verbose=0)[0],
                               expected, rtol=1e-4)


def _torch_step_lr(base, step_size, gamma, updates):
    """StepLR as supervised_main.py drives it: the constructor steps once
    (last_epoch = 0), then `scheduler.step()` before every `optimizer.step()`."""
    last_epoch, rates = 0, []
    for _ in range(updates):
        last_epoch += 1
        rates.append(base * gamma ** (last_epoch // step_size))
    return rates


def test_step_lr_follows_the_torch_loop():
    schedule = StepLR(1e-3, step_size=4, gamma=0.1)
    ours = [float(schedule(i)) for i in range(13)]
    np.testing.assert_allclose(ours, _torch_step_lr(1e-3, 4, 0.1, 13), rtol=1e-6)
    assert StepLR.from_config(schedule.get_config()).get_config() == schedule.get_config()


def test_avatt_compiles_with_the_official_schedule_and_round_trips(rng, tmp_path):
    model = _with_protocol("supervised")
    schedule = _schedule(model.optimizer)
    assert isinstance(schedule, StepLR)
    assert schedule.get_config() == {"initial_learning_rate": 1e-3, "step_size": 15000,
                                     "gamma": 0.1}
    x = _inputs(TINY, rng)
    labels = np.eye(5, dtype="float32")[rng.integers(0, 5, (B, TINY.segments))]
    model.fit(x, labels, batch_size=B, epochs=1, verbose=0)
    model.save(tmp_path / "avatt.keras")
    loaded = keras.saving.load_model(tmp_path / "avatt.keras")
    assert isinstance(_schedule(loaded.optimizer), StepLR)
    np.testing.assert_allclose(_numpy(loaded(x)), _numpy(model(x)), rtol=1e-5, atol=1e-6)


def test_without_a_protocol_the_builders_compile_adam_and_cross_entropy():
    """The protocol is a training setting: the builders compile the common
    recipe, for the released network too."""
    for config in (TINY, TINY.replace(**get("avatt-keras-avl").changes)):
        model = build_model(config, "supervised")
        assert isinstance(model.loss, keras.losses.CategoricalCrossentropy)
        assert not isinstance(_schedule(model.optimizer), StepLR)


def test_weights_are_initialised_like_the_released_code():
    """Xavier-uniform weights (init_weights); PyTorch's default biases and
    LSTM weights, U(+-1/sqrt(fan_in)); glorot bound sqrt(6 / (in + out))."""
    config = TINY.replace(hidden=64, avatt_hidden_dim=64)
    model = build_model(config, "supervised", compile=False)
    L1, L2 = model.get_layer("hidden_dense"), model.get_layer("segment_logits")
    for layer, fan_in in ((L1, 4 * 64), (L2, 64)):
        kernel, bias = _numpy(layer.kernel), _numpy(layer.bias)
        assert np.abs(kernel).max() <= np.sqrt(6 / sum(kernel.shape))
        assert 0 < np.abs(bias).max() <= 1 / np.sqrt(fan_in)
    for name in ("audio_lstm", "visual_lstm"):
        cell = model.get_layer(f"{name}_bidirectional").forward_layer.cell
        for weight in (cell.kernel, cell.recurrent_kernel, cell.bias):
            values = _numpy(weight)
            assert np.abs(values).max() <= 1 / np.sqrt(64)
            assert np.abs(values).max() > 0.9 / np.sqrt(64)  # not orthogonal / zeros


def test_variants_name_their_default_protocol():
    assert (type(TINY), TINY.reading, TINY.dropout) == (AVAttConfig, "released", 0.0)
    assert {name: preset.recipe for name, preset in presets().items()
            if preset.recipe} == {"avatt": "ave-eccv18"}
    recipe, chosen = resolve_protocol(None, "avatt", "supervised")
    assert (recipe.name, chosen) == ("ave-eccv18-supervised", False)
    # avatt-adam: the same network, the common recipe.
    assert get("avatt-adam").config() == get("avatt").config()
    assert resolve_protocol(None, "avatt-adam", "weak") == (None, False)
    earlier = get("avatt-keras-avl").config()
    assert (earlier.reading, earlier.dropout) == ("keras-avl", 0.2)
    assert AVAttConfig.from_json(TINY.to_json()) == TINY
    with pytest.raises(ValueError, match="own loss and Adam"):
        build_model(PaperConfig(), "unsupervised",
                    loss=get_protocol("ave-eccv18-supervised").training.loss_function())
