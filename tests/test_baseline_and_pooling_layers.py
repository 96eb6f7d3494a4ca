import numpy as np
import pytest
from keras import ops

from keras_avl.layers import AudioGuidedAttention, MILPooling, TripletStack
from tests.conftest import weights_by_name
from tests.layer_test_case import run_layer_test
from tests.numpy_reference import relu, softmax

pytestmark = pytest.mark.multibackend

B, T, S, DV, DA, C = 2, 4, 9, 6, 5, 7


@pytest.mark.parametrize("options", [
    {},
    {"audio_term": "region", "torch_bias_init": True},  # the released code's reading
])
def test_audio_guided_attention_contract(rng, tmp_path, options):
    inputs = [
        rng.normal(size=(B, T, S, DV)).astype("float32"),
        rng.normal(size=(B, T, DA)).astype("float32"),
    ]
    run_layer_test(
        AudioGuidedAttention,
        {"hidden_dim": 8, "attention_dim": S, **options},
        inputs,
        [(B, T, DV), (B, T, S)],
        tmp_path,
        expected_num_trainable_weights=7,
    )


@pytest.mark.parametrize("audio_term", ["unit", "region"])
def test_audio_guided_attention_against_numpy(rng, audio_term):
    """Tian et al. (ECCV 2018): the paper's equation adds W_g a to every region
    ("unit"); the released `att_Net.forward` adds `affine_g(a_t).unsqueeze(2)`,
    (S, att) + (S, 1) with att = S: one scalar g[s] per region s ("region")."""
    visual = rng.normal(size=(B, T, S, DV)).astype("float32")
    audio = rng.normal(size=(B, T, DA)).astype("float32")
    layer = AudioGuidedAttention(hidden_dim=8, attention_dim=S, audio_term=audio_term)
    attended, attention = (ops.convert_to_numpy(x) for x in layer([visual, audio]))
    w = weights_by_name(layer)
    for b in range(B):
        for t in range(T):
            a = relu(audio[b, t] @ w["W_audio"] + w["b_audio"])
            g = a @ w["W_g"]
            scores = np.array([
                np.tanh(relu(visual[b, t, s] @ w["W_video"] + w["b_video"]) @ w["W_v"]
                        + (g if audio_term == "unit" else g[s])) @ w["w_h"][:, 0]
                for s in range(S)
            ])
            lam = softmax(scores)
            np.testing.assert_allclose(attention[b, t], lam, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(
                attended[b, t], lam @ visual[b, t], rtol=1e-5, atol=1e-5
            )


def test_audio_guided_attention_region_term_needs_attention_dim_s(rng):
    visual = rng.normal(size=(B, T, S, DV)).astype("float32")
    audio = rng.normal(size=(B, T, DA)).astype("float32")
    layer = AudioGuidedAttention(hidden_dim=8, attention_dim=S + 1, audio_term="region")
    with pytest.raises(ValueError, match="attention_dim=10 and S=9"):
        layer([visual, audio])
    with pytest.raises(ValueError, match="audio_term"):
        AudioGuidedAttention(audio_term="pixel")


def test_audio_guided_attention_torch_bias_init():
    """PyTorch's nn.Linear default bias U(+-1/sqrt(fan_in)): fan_in = d_v, d_a."""
    layer = AudioGuidedAttention(hidden_dim=4000, attention_dim=S, torch_bias_init=True)
    layer.build([(None, T, S, 16), (None, T, 100)])
    w = weights_by_name(layer)
    for name, fan_in in (("b_video", 16), ("b_audio", 100)):
        bound = 1 / np.sqrt(fan_in)
        assert np.abs(w[name]).max() <= bound
        assert np.abs(w[name]).max() > 0.9 * bound  # spread over the whole range
    default = AudioGuidedAttention(hidden_dim=8, attention_dim=S)
    default.build([(None, T, S, 16), (None, T, 100)])
    assert not weights_by_name(default)["b_video"].any()


def test_mil_pooling_contract_and_mean(rng, tmp_path):
    probabilities = softmax(rng.normal(size=(B, T, C))).astype("float32")
    run_layer_test(MILPooling, {}, probabilities, [(B, C)], tmp_path)
    pooled = ops.convert_to_numpy(MILPooling()(probabilities))
    np.testing.assert_allclose(pooled, probabilities.mean(axis=1), rtol=1e-6)
    mask = np.ones((B, T), bool)
    mask[0, 2:] = False
    masked = ops.convert_to_numpy(MILPooling()(probabilities, mask=mask))
    np.testing.assert_allclose(masked[0], probabilities[0, :2].mean(axis=0), rtol=1e-6)


def test_mil_max_pooling_leaves_padded_segments_out(rng, tmp_path):
    scores = rng.normal(size=(B, T, C)).astype("float32")
    run_layer_test(MILPooling, {"pooling": "max"}, scores, [(B, C)], tmp_path)
    layer = MILPooling(pooling="max")
    np.testing.assert_array_equal(ops.convert_to_numpy(layer(scores)), scores.max(axis=1))
    mask = np.ones((B, T), bool)
    mask[0, 2:] = False
    scores[0, 2:] = 100.0  # padded segments with the highest scores must not win
    pooled = ops.convert_to_numpy(layer(scores, mask=mask))
    np.testing.assert_array_equal(pooled[0], scores[0, :2].max(axis=0))
    np.testing.assert_array_equal(pooled[1:], scores[1:].max(axis=1))
    mask[1] = False
    np.testing.assert_array_equal(ops.convert_to_numpy(layer(scores, mask=mask))[1], 0.0)
    with pytest.raises(ValueError, match="pooling"):
        MILPooling(pooling="median")


def test_triplet_stack_contract_and_order(rng, tmp_path):
    inputs = [rng.normal(size=(B, T, 3)).astype("float32") for _ in range(3)]
    run_layer_test(TripletStack, {}, inputs, [(B, 3, T, 3)], tmp_path)
    stacked = ops.convert_to_numpy(TripletStack()(inputs))
    for index, x in enumerate(inputs):
        np.testing.assert_array_equal(stacked[:, index], x)


def test_triplet_stack_rejects_mismatched_inputs(rng):
    inputs = [rng.normal(size=(B, T, 3)).astype("float32") for _ in range(2)]
    inputs.append(rng.normal(size=(B, T, 4)).astype("float32"))
    with pytest.raises(ValueError, match="one shape"):
        TripletStack()(inputs)
