"""The blocks of AVSDN, PSP, CMBS and CACE-Net: the shared layer contract and their
equations against the NumPy transcriptions of tests/method_references.py."""

import numpy as np
import pytest
from keras import ops

from keras_avl.layers import (
    AudioGuidedSpatialChannelAttention,
    BackgroundSuppression,
    ClassActivationConsistency,
    CoGuidedAttention,
    ContrastiveEventHead,
    CrossModalAttentionBlock,
    TopKTimeMean,
    DualModalitySeq2Seq,
    EventGatedProbabilities,
    PositiveSamplePropagation,
    SegmentScoreWeighting,
)
from keras_avl.losses import AVPSLoss, EventClassLoss, ForegroundLoss, SegmentContrastiveLoss
from tests.conftest import weights_by_name
from tests.layer_test_case import run_layer_test
from tests.method_references import (
    agsca_segment,
    avps_target,
    layer_norm,
    lstm_states,
    multi_head_attention,
    psp_video,
    segment_contrastive_loss,
    top_k_mean,
)
from tests.numpy_reference import relu, sigmoid, softmax

pytestmark = pytest.mark.multibackend

B, T, D = 3, 6, 8


def _x(rng, *shape):
    return rng.normal(size=shape).astype("float32")


def _randomize(layer, rng, scale=0.5):
    for weight in layer.weights:
        weight.assign(scale * rng.normal(size=weight.shape).astype("float32"))


def _np(x):
    return ops.convert_to_numpy(x)


# PSP ------------------------------------------------------------------------

def test_psp_layer_contract(rng, tmp_path):
    run_layer_test(PositiveSamplePropagation, {"output_dim": 4, "threshold": 0.1},
                   [_x(rng, B, T, D), _x(rng, B, T, D)], [(B, T, 4), (B, T)], tmp_path,
                   expected_num_trainable_weights=8)


@pytest.mark.parametrize("threshold", [0.0, 0.15, 0.3])
def test_psp_against_numpy(rng, threshold):
    a, v = _x(rng, B, T, D), _x(rng, B, T, D)
    layer = PositiveSamplePropagation(output_dim=5, threshold=threshold)
    layer.build([a.shape, v.shape])
    _randomize(layer, rng)
    w = {name: _np(getattr(layer, name)) for name in
         ("v_L1", "v_L2", "a_L1", "a_L2", "v_fc", "a_fc")}
    ln_gamma, ln_beta = (_np(x) for x in layer.layer_norm.weights)
    fused, similarity = (_np(x) for x in layer([a, v]))
    for b in range(B):
        ref_fused, ref_similarity = psp_video(a[b], v[b], **w, ln_gamma=ln_gamma,
                                              ln_beta=ln_beta, tau=threshold)
        np.testing.assert_allclose(fused[b], ref_fused, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(similarity[b], ref_similarity, rtol=1e-4, atol=1e-4)
        if threshold > 0:  # the pruning removes pairs here: tau = 0 would differ
            unpruned, _ = psp_video(a[b], v[b], **w, ln_gamma=ln_gamma, ln_beta=ln_beta,
                                    tau=0.0)
            assert np.abs(unpruned - ref_fused).max() > 1e-3


def test_psp_weakly_variant_contract(rng, tmp_path):
    """weakly_model.py's block: no v_fc / a_fc, so the output keeps size d."""
    run_layer_test(PositiveSamplePropagation,
                   {"output_dim": D, "threshold": 0.1, "variant": "weakly"},
                   [_x(rng, B, T, D), _x(rng, B, T, D)], [(B, T, D), (B, T)], tmp_path,
                   expected_num_trainable_weights=6)
    with pytest.raises(ValueError, match="output_dim` must equal"):
        PositiveSamplePropagation(output_dim=D + 1, variant="weakly")(
            [_x(rng, B, T, D), _x(rng, B, T, D)])


def test_psp_rejects_bad_threshold():
    with pytest.raises(ValueError, match="threshold"):
        PositiveSamplePropagation(threshold=1.5)


def test_segment_score_weighting_against_numpy(rng, tmp_path):
    x = _x(rng, B, T, 5)
    run_layer_test(SegmentScoreWeighting, {}, x, [(B, T, 5)], tmp_path,
                   expected_num_trainable_weights=1)
    layer = SegmentScoreWeighting()
    layer.build(x.shape)
    w = weights_by_name(layer)["w"]
    expected = np.array([[x[b, t] * sigmoid(relu(x[b, t] @ w[:, 0]))
                          for t in range(T)] for b in range(B)])
    np.testing.assert_allclose(_np(layer(x)), expected, rtol=1e-5, atol=1e-6)


def test_avps_loss_against_numpy(rng):
    labels = np.eye(4, dtype="float32")[rng.integers(0, 4, size=(B, T))]
    # A background-only video: target 1/T (the loader's first class is the background).
    labels[0] = np.eye(4, dtype="float32")[3]
    similarity = _x(rng, B, T)
    expected = []
    for b in range(B):
        target = avps_target(labels[b])
        r = relu(similarity[b]) / (relu(similarity[b]).sum() + 1e-8)
        expected.append(((r - target) ** 2).mean())
    np.testing.assert_allclose(float(AVPSLoss()(labels, similarity)), np.mean(expected),
                               rtol=1e-5)


# CMBS -----------------------------------------------------------------------

@pytest.mark.parametrize("self_attention, weights", [(True, 28), (False, 14)])
def test_agsca_layer_contract(rng, tmp_path, self_attention, weights):
    run_layer_test(AudioGuidedSpatialChannelAttention,
                   {"hidden_dim": 4, "self_attention": self_attention, "beta": 0.5},
                   [_x(rng, B, T, 9, D), _x(rng, B, T, 5)], [(B, T, D), (B, T, 9)], tmp_path,
                   expected_num_trainable_weights=weights)


def test_agsca_without_self_attention_is_the_papers(rng):
    """The released branch is checked in tests/test_cmbs_parity.py."""
    visual, audio = _x(rng, B, T, 9, D), _x(rng, B, T, 5)
    layer = AudioGuidedSpatialChannelAttention(hidden_dim=4, self_attention=False)
    layer.build([visual.shape, audio.shape])
    _randomize(layer, rng)
    w = weights_by_name(layer)
    attended, attention = (_np(x) for x in layer([visual, audio]))
    for b in range(B):
        for t in range(T):
            ref_attended, ref_attention = agsca_segment(visual[b, t], audio[b, t], w)
            np.testing.assert_allclose(attended[b, t], ref_attended, rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(attention[b, t], ref_attention, rtol=1e-4, atol=1e-6)


def test_agsca_rejects_bad_arguments():
    with pytest.raises(ValueError, match="beta"):
        AudioGuidedSpatialChannelAttention(beta=-1.0)
    with pytest.raises(ValueError, match="self_attention"):
        AudioGuidedSpatialChannelAttention(self_attention="yes")
    with pytest.raises(ValueError, match="at least 4 channels"):
        AudioGuidedSpatialChannelAttention(hidden_dim=2)([np.zeros((1, 2, 3, 2)),
                                                          np.zeros((1, 2, 5))])


@pytest.mark.parametrize("weak", [False, True])
def test_background_suppression_against_numpy(rng, tmp_path, weak):
    """supv_main_model (defaults) and weak_main_model (own keys, convex, mean)."""
    inputs = [_x(rng, B, T, D) for _ in range(4)]
    options = dict(alpha=0.3, gate_keys="same" if weak else "other", convex=weak,
                   combine="mean" if weak else "product")
    run_layer_test(BackgroundSuppression, options, inputs,
                   [(B, T, D), (B, T, D), (B, T)], tmp_path,
                   expected_num_trainable_weights=4)
    layer = BackgroundSuppression(**options)
    layer.build([x.shape for x in inputs])
    _randomize(layer, rng)
    w = weights_by_name(layer)
    visual, audio, gate = (_np(x) for x in layer(inputs))
    v, a, k_v, k_a = inputs
    keep = 0.7 if weak else 1.0
    for b in range(B):
        for t in range(T):
            # audio_gated scales the visual stream in both of the code's models.
            g_a = sigmoid((k_v if weak else k_a)[b, t] @ w["audio_gated_kernel"][:, 0]
                          + w["audio_gated_bias"][0])
            g_v = sigmoid((k_a if weak else k_v)[b, t] @ w["video_gated_kernel"][:, 0]
                          + w["video_gated_bias"][0])
            np.testing.assert_allclose(visual[b, t], v[b, t] * (keep + 0.3 * g_a), rtol=1e-5)
            np.testing.assert_allclose(audio[b, t], a[b, t] * (keep + 0.3 * g_v), rtol=1e-5)
            np.testing.assert_allclose(gate[b, t], (g_a + g_v) / 2 if weak else g_a * g_v,
                                       rtol=1e-5)


def test_background_suppression_rejects_unknown_options():
    with pytest.raises(ValueError, match="gate_keys"):
        BackgroundSuppression(gate_keys="audio")
    with pytest.raises(ValueError, match="combine"):
        BackgroundSuppression(combine="max")


def test_class_activation_consistency_against_numpy(rng, tmp_path):
    v, a = _x(rng, B, T, D), _x(rng, B, T, D)
    run_layer_test(ClassActivationConsistency, {"num_classes": 5, "top_k": 2}, [v, a],
                   [(B, 5)], tmp_path, expected_num_trainable_weights=4)
    layer = ClassActivationConsistency(num_classes=5, top_k=2)
    layer.build([v.shape, a.shape])
    _randomize(layer, rng)
    w = weights_by_name(layer)
    score = _np(layer([v, a]))
    for b in range(B):
        s_v = top_k_mean(v[b] @ w["video_cas_kernel"] + w["video_cas_bias"], 2)
        s_a = top_k_mean(a[b] @ w["audio_cas_kernel"] + w["audio_cas_bias"], 2)
        np.testing.assert_allclose(score[b], (s_v + s_a) / 2, rtol=1e-5, atol=1e-6)


def test_top_k_time_mean_against_numpy(rng, tmp_path):
    x = _x(rng, B, T, 5)
    run_layer_test(TopKTimeMean, {"top_k": 3}, x, [(B, 5)], tmp_path)
    out = _np(TopKTimeMean(top_k=3)(x))
    for b in range(B):
        np.testing.assert_allclose(out[b], top_k_mean(x[b], 3), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="top_k"):
        TopKTimeMean(top_k=T + 1)(x)


def test_class_activation_consistency_rejects_top_k_above_segments(rng):
    with pytest.raises(ValueError, match="top_k"):
        ClassActivationConsistency(num_classes=3, top_k=T + 1)([_x(rng, B, T, D)] * 2)


def test_event_gated_probabilities_give_cmbs_decision(rng, tmp_path):
    z, e = _x(rng, B, T) * 3, _x(rng, B, 4)
    run_layer_test(EventGatedProbabilities, {}, [z, e], [(B, T, 5)], tmp_path)
    P = _np(EventGatedProbabilities()([z, e]))
    np.testing.assert_allclose(P.sum(-1), 1.0, rtol=1e-5)
    for b in range(B):
        q = softmax(e[b])
        for t in range(T):
            p = sigmoid(z[b, t])
            # CMBS's rule: background (class 4) unless sigmoid(z) > 0.5.
            assert P[b, t].argmax() == (q.argmax() if p > 0.5 else 4)
            u = np.concatenate([p * q / q.max(), [1 - p]])
            np.testing.assert_allclose(P[b, t], u / u.sum(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("feedforward_dim", [0, 16])
def test_cross_modal_attention_block_against_numpy(rng, tmp_path, feedforward_dim):
    query, memory = _x(rng, B, T, D), _x(rng, B, 2 * T, D)
    run_layer_test(CrossModalAttentionBlock,
                   {"num_heads": 2, "feedforward_dim": feedforward_dim, "dropout": 0.1},
                   [query, memory], [(B, T, D)], tmp_path)
    layer = CrossModalAttentionBlock(num_heads=2, feedforward_dim=feedforward_dim)
    layer.build([query.shape, memory.shape])
    _randomize(layer, rng, scale=0.3)
    mha = layer.attention
    kernels = [_np(x) for dense in (mha.query_dense, mha.key_dense, mha.value_dense,
                                    mha.output_dense) for x in (dense.kernel, dense.bias)]
    out = _np(layer([query, memory]))
    norm_1 = [_np(x) for x in layer.norm_1.weights]
    for b in range(B):
        y = layer_norm(query[b] + multi_head_attention(query[b], memory[b], kernels, 2),
                       *norm_1, 1e-5)
        if feedforward_dim:
            W1, b1 = (_np(x) for x in layer.hidden.weights)
            W2, b2 = (_np(x) for x in layer.projection.weights)
            y = layer_norm(y + relu(y @ W1 + b1) @ W2 + b2,
                           *(_np(x) for x in layer.norm_2.weights), 1e-5)
        np.testing.assert_allclose(out[b], y, rtol=1e-4, atol=1e-4)


def test_foreground_and_event_class_losses_against_numpy(rng):
    labels = np.eye(5, dtype="float32")[rng.integers(0, 5, size=(B, T))]
    z, e = _x(rng, B, T), _x(rng, B, 4)
    fg = 1 - labels[..., -1]
    bce = -(fg * np.log(sigmoid(z)) + (1 - fg) * np.log(1 - sigmoid(z))).mean()
    np.testing.assert_allclose(float(ForegroundLoss()(labels, z)), bce, rtol=1e-5)
    ce = []
    for b in range(B):
        k = labels[b, :, :-1].argmax(-1).max()  # supv_main.py: labels_evn.max(-1)
        ce.append(-np.log(softmax(e[b])[k]))
    np.testing.assert_allclose(float(EventClassLoss()(labels, e)), np.mean(ce), rtol=1e-5)


# AVSDN ----------------------------------------------------------------------

def test_dual_modality_seq2seq_contract(rng, tmp_path):
    run_layer_test(DualModalitySeq2Seq, {"units": 3}, [_x(rng, B, T, 5), _x(rng, B, T, 4)],
                   [(B, T, 12)], tmp_path)


def test_dual_modality_seq2seq_against_numpy(rng):
    audio, visual = _x(rng, B, T, 5), _x(rng, B, T, 4)
    u = 3
    layer = DualModalitySeq2Seq(units=u)
    layer.build([audio.shape, visual.shape])
    _randomize(layer, rng)
    out = _np(layer([audio, visual]))

    def cell(bidirectional, direction):
        lstm = getattr(bidirectional, f"{direction}_layer")
        return [_np(x) for x in (lstm.cell.kernel, lstm.cell.recurrent_kernel, lstm.cell.bias)]

    zeros = np.zeros(u)
    for b in range(B):
        expected = []
        for direction, reverse in (("forward", False), ("backward", True)):
            _, h_a, c_a = lstm_states(audio[b], *cell(layer.audio_encoder, direction),
                                      zeros, zeros, reverse)
            _, h_v, c_v = lstm_states(visual[b], *cell(layer.visual_encoder, direction),
                                      zeros, zeros, reverse)
            y, _, _ = lstm_states(np.concatenate([audio[b], visual[b]], -1),
                                  *cell(layer.decoder, direction),
                                  np.concatenate([h_a, h_v]), np.concatenate([c_a, c_v]),
                                  reverse)
            expected.append(y)
        np.testing.assert_allclose(out[b], np.concatenate(expected, -1), rtol=1e-4, atol=1e-5)


@pytest.mark.notorch  # the gradient through JAX or TensorFlow's tape
def test_psp_similarity_gradient_is_finite_at_a_zero_vector():
    """A PSP output vector can be zero (all its ReLU units off, then LayerNorm);
    the cosine's normalisation must keep a finite gradient there (NaN losses
    under JAX with x / max(sqrt(sum x^2), eps))."""
    import keras

    from keras_avl.layers.positive_sample_propagation import _unit

    zeros, weights = np.zeros((2, 4), "float32"), np.ones((2, 4), "float32")
    if keras.backend.backend() == "jax":
        import jax

        grad = jax.grad(lambda x: (_unit(x) * weights).sum())(zeros)
    else:
        import tensorflow as tf

        x = tf.Variable(zeros)
        with tf.GradientTape() as tape:
            total = tf.reduce_sum(_unit(x) * weights)
        grad = tape.gradient(total, x)
    assert np.all(np.isfinite(_np(grad)))


# Segment masks: a layer given the mask of a clip padded after its n real
# segments gives, at those segments, the NumPy reference of the clip cut to n.

REAL = np.array([6, 4, 1])  # real segments per video (T = 6), padding at the end
MASK = np.arange(T) < REAL[:, None]


def test_psp_with_a_mask_is_psp_of_the_real_segments(rng):
    a, v = _x(rng, B, T, D), _x(rng, B, T, D)
    layer = PositiveSamplePropagation(output_dim=5, threshold=0.15)
    layer.build([a.shape, v.shape])
    _randomize(layer, rng)
    w = {name: _np(getattr(layer, name)) for name in
         ("v_L1", "v_L2", "a_L1", "a_L2", "v_fc", "a_fc")}
    ln_gamma, ln_beta = (_np(x) for x in layer.layer_norm.weights)
    fused, similarity = (_np(x) for x in layer([a, v], mask=MASK))
    for b, n in enumerate(REAL):
        ref_fused, ref_similarity = psp_video(a[b, :n], v[b, :n], **w, ln_gamma=ln_gamma,
                                              ln_beta=ln_beta, tau=0.15)
        np.testing.assert_allclose(fused[b, :n], ref_fused, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(similarity[b, :n], ref_similarity, rtol=1e-4, atol=1e-4)
        assert (similarity[b, n:] == 0).all()


def test_class_activation_consistency_with_a_mask_ranks_real_segments(rng):
    v, a = _x(rng, B, T, D), _x(rng, B, T, D)
    layer = ClassActivationConsistency(num_classes=5, top_k=2)
    layer.build([v.shape, a.shape])
    _randomize(layer, rng)
    w = weights_by_name(layer)
    v[~MASK] = a[~MASK] = 50.0  # padded segments would win every top-k
    score = _np(layer([v, a], mask=MASK))
    for b, n in enumerate(REAL):
        k = min(2, n)  # fewer real segments than top_k: all of them
        s_v = top_k_mean(v[b, :n] @ w["video_cas_kernel"] + w["video_cas_bias"], k)
        s_a = top_k_mean(a[b, :n] @ w["audio_cas_kernel"] + w["audio_cas_bias"], k)
        np.testing.assert_allclose(score[b], (s_v + s_a) / 2, rtol=1e-5, atol=1e-5)


def test_top_k_time_mean_with_a_mask_ranks_real_segments(rng):
    x = _x(rng, B, T, 5)
    x[~MASK] = 50.0  # padded segments would win every top-k
    out = _np(TopKTimeMean(top_k=2)(x, mask=MASK))
    for b, n in enumerate(REAL):
        np.testing.assert_allclose(out[b], top_k_mean(x[b, :n], min(2, n)), rtol=1e-5,
                                   atol=1e-5)


def test_cross_modal_attention_block_attends_to_real_memory_only(rng):
    query, memory = _x(rng, B, T, D), _x(rng, B, 2 * T, D)
    memory_mask = np.concatenate([MASK, MASK], axis=1)
    layer = CrossModalAttentionBlock(num_heads=2, feedforward_dim=0)
    layer.build([query.shape, memory.shape])
    _randomize(layer, rng, scale=0.3)
    mha = layer.attention
    kernels = [_np(x) for dense in (mha.query_dense, mha.key_dense, mha.value_dense,
                                    mha.output_dense) for x in (dense.kernel, dense.bias)]
    out = _np(layer([query, memory], mask=[MASK, memory_mask]))
    norm_1 = [_np(x) for x in layer.norm_1.weights]
    for b, n in enumerate(REAL):
        real_memory = memory[b][memory_mask[b]]
        y = layer_norm(query[b, :n] + multi_head_attention(query[b, :n], real_memory,
                                                           kernels, 2), *norm_1, 1e-5)
        np.testing.assert_allclose(out[b, :n], y, rtol=1e-4, atol=1e-4)


def test_dual_modality_seq2seq_with_a_mask_is_the_clip_cut_to_its_real_segments(rng):
    audio, visual = _x(rng, B, T, 5), _x(rng, B, T, 4)
    layer = DualModalitySeq2Seq(units=3)
    layer.build([audio.shape, visual.shape])
    _randomize(layer, rng)
    out = _np(layer([audio, visual], mask=MASK))
    for b, n in enumerate(REAL):
        cut = _np(layer([audio[b:b + 1, :n], visual[b:b + 1, :n]]))[0]
        np.testing.assert_allclose(out[b, :n], cut, rtol=1e-4, atol=1e-5)


def test_segment_losses_leave_zero_label_rows_out(rng):
    """Padded segments come with all-zero label rows (`fit_targets`): AVPS,
    the foreground BCE and the event class read the real segments only."""
    labels = np.eye(5, dtype="float32")[rng.integers(0, 5, size=(B, T))]
    labels[1, 0] = np.eye(5)[4]  # one background segment among the real ones
    labels[~MASK] = 0.0
    similarity, z, e = _x(rng, B, T), _x(rng, B, T), _x(rng, B, 4)
    avps, bce, ce = [], [], []
    for b, n in enumerate(REAL):
        y = labels[b, :n]
        event = y[:, -1] == 0
        target = avps_target(y)
        r = relu(similarity[b, :n]) / (relu(similarity[b, :n]).sum() + 1e-8)
        avps.append(((r - target) ** 2).mean())
        bce.append(-(event * np.log(sigmoid(z[b, :n]))
                     + (1 - event) * np.log(1 - sigmoid(z[b, :n]))).mean())
        present = np.flatnonzero(y[:, :-1].max(0))  # supv_main.py: the largest event class
        ce.append(-np.log(softmax(e[b])[present.max() if present.size else 0]))
    np.testing.assert_allclose(float(AVPSLoss()(labels, similarity)), np.mean(avps), rtol=1e-5)
    np.testing.assert_allclose(float(ForegroundLoss()(labels, z)), np.mean(bce), rtol=1e-5)
    np.testing.assert_allclose(float(EventClassLoss()(labels, e)), np.mean(ce), rtol=1e-5)


# CACE-Net --------------------------------------------------------------------
# The released forward pass as a whole: tests/test_cace_parity.py.

def test_co_guided_attention_contract(rng, tmp_path):
    run_layer_test(CoGuidedAttention, {"hidden_dim": 4, "beta": 0.5, "psai": 0.3},
                   [_x(rng, B, T, 9, D), _x(rng, B, T, 5)],
                   [(B, T, D), (B, T, 9), (B, T, 5)], tmp_path,
                   expected_num_trainable_weights=48)


def test_co_guided_attention_guides_vision_as_agsca_and_audio_by_psai(rng):
    """Step 1 is CMBS's AGSCA with the same weights; psai = 0 passes the audio."""
    visual, audio = _x(rng, B, T, 9, D), _x(rng, B, T, 5)
    layer = CoGuidedAttention(hidden_dim=4, psai=0.0)
    layer.build([visual.shape, audio.shape])
    _randomize(layer, rng)
    agsca = AudioGuidedSpatialChannelAttention(hidden_dim=4)
    agsca.build([visual.shape, audio.shape])
    for weight in agsca.weights:  # the LayerNorm's are `gamma`, `beta`
        owner = layer.norm if weight.name in ("gamma", "beta") else layer
        weight.assign(getattr(owner, weight.name))
    attended, attention, guided = (_np(x) for x in layer([visual, audio]))
    for ours, theirs in zip((attended, attention), agsca([visual, audio])):
        np.testing.assert_allclose(ours, _np(theirs), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(guided, audio, rtol=1e-6)
    layer.psai = 0.3
    assert np.abs(_np(layer([visual, audio])[2]) - audio).max() > 1e-2


def test_co_guided_attention_with_a_mask_is_the_clip_cut_to_its_real_segments(rng):
    visual, audio = _x(rng, B, T, 9, D), _x(rng, B, T, 5)
    layer = CoGuidedAttention(hidden_dim=4, psai=0.5)
    layer.build([visual.shape, audio.shape])
    _randomize(layer, rng)
    out = [_np(x) for x in layer([visual, audio], mask=MASK)]
    unmasked = _np(layer([visual, audio])[2])
    for b, n in enumerate(REAL):
        cut = [_np(x)[0] for x in layer([visual[b:b + 1, :n], audio[b:b + 1, :n]])]
        for ours, theirs in zip(out, cut):
            np.testing.assert_allclose(ours[b, :n], theirs, rtol=1e-4, atol=1e-5)
    assert np.abs(out[2] - unmasked)[~MASK.all(1)].max() > 1e-4  # the mask matters


def test_contrastive_event_head_contract(rng, tmp_path):
    run_layer_test(ContrastiveEventHead, {"enhancement": 0.6, "seed": 1},
                   _x(rng, B, T, D), [(B, T), (B, 2 * T, D)], tmp_path,
                   expected_num_trainable_weights=4)


@pytest.mark.parametrize("switch", [0.0, 1.0])
def test_contrastive_event_head_against_numpy(rng, switch):
    fused = _x(rng, B, T, D)
    head = ContrastiveEventHead(enhancement=0.6)
    head.build(fused.shape)
    _randomize(head, rng)
    head.switch.assign(switch)
    w = weights_by_name(head)
    logits, features = (_np(x) for x in head(fused, mask=MASK))
    for b, n in enumerate(REAL):
        q = relu(fused[b] @ w["encoder_q_kernel"] + w["encoder_q_bias"])
        z = (fused[b] + switch * 0.6 * q) @ w["classifier_kernel"][:, 0] + w["classifier_bias"][0]
        np.testing.assert_allclose(logits[b], z, rtol=1e-4, atol=1e-5)
        unit = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), 1e-12)
        expected = np.zeros((2 * T, D))
        expected[:n], expected[T:T + n] = unit[:n], unit[:n]  # eval: no noise
        np.testing.assert_allclose(features[b], switch * expected, rtol=1e-4, atol=1e-6)
    # Training draws the augmented view: k differs from q, q does not.
    _, noisy = (_np(x) for x in head(fused, training=True))
    assert switch == 0.0 or np.abs(noisy[:, T:] - features[:, T:]).max() > 1e-3


def test_segment_contrastive_loss_leaves_padded_segments_out(rng):
    labels = np.eye(5, dtype="float32")[rng.integers(0, 5, size=(B, T))]
    labels[1, :2] = np.eye(5)[4]
    labels[~MASK] = 0.0
    features = _x(rng, B, 2 * T, D)
    features /= np.linalg.norm(features, axis=-1, keepdims=True)
    expected = np.mean([segment_contrastive_loss(features[b, :n], features[b, T:T + n],
                                                 labels[b, :n])
                        for b, n in enumerate(REAL)])
    np.testing.assert_allclose(float(SegmentContrastiveLoss()(labels, features)), expected,
                               rtol=1e-5)
    scrambled = features.copy()
    scrambled[:, :T][~MASK] = 5.0
    scrambled[:, T:][~MASK] = -5.0
    np.testing.assert_allclose(float(SegmentContrastiveLoss()(labels, scrambled)), expected,
                               rtol=1e-5)
