"""The released PSP (github:jasongief/PSP_CVPR_2021 `fully_model.py`,
`weakly_model.py`, `fully_supervised_main.py`, `weakly_supervised_main.py`,
`dataloader.py`, `measure.py`) against NumPy transcriptions of its forward
passes, its target builders and its losses, written here from the PyTorch code
(not from the Keras model), fed the Keras model's weights, eval mode."""

import numpy as np
import pytest
from keras import ops

from keras_avl.models.psp import (
    REGIME_DEFAULTS,
    PSPConfig,
    build_psp_supervised,
    build_psp_weak,
)
from keras_avl.data import class_shares
from keras_avl.models.registry import fit_targets
from tests.ave_fixtures import tiny_root  # noqa: F401
from tests.numpy_reference import lstm_sequence, relu, sigmoid, softmax

pytestmark = pytest.mark.multibackend

B, T, C = 3, 10, 5
# grid 3 x 3: S = 9 regions, as 49 = 7 x 7 in AVE (AVGA's map_size = S).
TINY = dict(num_classes=C, segments=T, grid=(3, 3), visual_dim=8, audio_dim=6,
            projection_dim=8, hidden=4, attention_dim=6, psp_dim=8, classifier_hidden=4)


def _n(weight):
    return ops.convert_to_numpy(weight)


def _inputs(rng):
    return {"visual": rng.normal(size=(B, T, 3, 3, 8)).astype("float32"),
            "audio": rng.normal(size=(B, T, 6)).astype("float32")}


def _segment_labels(rng):
    classes = rng.integers(0, C - 1, size=(B, T))
    classes[0] = C - 1  # a background-only video
    classes[1, :4] = C - 1  # an event over 6 segments, 2 event classes
    classes[1, 4:] = rng.permutation([1, 1, 1, 3, 3, 3])
    classes[2, 7:] = C - 1
    return np.eye(C, dtype="float32")[classes]


# The release's forward pass, batched as in PyTorch. -----------------------

def _avga(model, audio, video):
    """AVGA.forward: affine_g(a_t).unsqueeze(2), one audio scalar per region."""
    W = {w.name: _n(w) for w in model.get_layer("audio_guided_attention").weights}
    v_t = video.reshape(B * T, -1, video.shape[-1])  # [bs*10, 49, 512]
    V = v_t
    v_t = relu(v_t @ W["W_video"] + W["b_video"])
    a_t = relu(audio.reshape(-1, audio.shape[-1]) @ W["W_audio"] + W["b_audio"])
    content_v = v_t @ W["W_v"] + (a_t @ W["W_g"])[:, :, None]
    z_t = (np.tanh(content_v) @ W["w_h"])[..., 0]
    alpha_t = softmax(z_t)[:, None, :]
    return (alpha_t @ V).reshape(B, T, -1)


def _lstm_a_v(model, a_fea, v_fea):
    """LSTM_A_V.forward: two bidirectional LSTMs from zero states."""
    def bilstm(name, x):
        layer = model.get_layer(name)
        out = []
        for direction, reverse in ((layer.forward_layer, False), (layer.backward_layer, True)):
            cell = direction.cell
            seq = [lstm_sequence(v[::-1] if reverse else v, _n(cell.kernel),
                                 _n(cell.recurrent_kernel), _n(cell.bias)) for v in x]
            out.append(np.array([s[::-1] if reverse else s for s in seq]))
        return np.concatenate(out, -1)
    return bilstm("lstm_audio", a_fea), bilstm("lstm_video", v_fea)


def _psp(model, a_fea, v_fea, thr_val, weakly):
    """PSP.forward (fully_model.py; weakly_model.py when `weakly`), no dropout."""
    layer = model.get_layer("psp")
    v_branch1, v_branch2 = relu(v_fea @ _n(layer.v_L1)), relu(v_fea @ _n(layer.v_L2))
    a_branch1, a_branch2 = relu(a_fea @ _n(layer.a_L1)), relu(a_fea @ _n(layer.a_L2))
    beta_va = v_branch2 @ a_branch1.transpose(0, 2, 1) / np.sqrt(v_branch2.shape[2])
    beta_va = relu(beta_va)
    beta_av = beta_va.transpose(0, 2, 1)
    beta_va = beta_va / (beta_va.sum(-1, keepdims=True) + 1e-8)
    gamma_va = (beta_va > thr_val) * beta_va
    beta_av = beta_av / (beta_av.sum(-1, keepdims=True) + 1e-8)
    gamma_av = (beta_av > thr_val) * beta_av
    if not weakly:
        gamma_va = gamma_va / (gamma_va.sum(-1, keepdims=True) + 1e-8)
        gamma_av = gamma_av / (gamma_av.sum(-1, keepdims=True) + 1e-8)
    v_psp = v_fea + gamma_va @ a_branch2
    a_psp = a_fea + gamma_av @ v_branch1
    if not weakly:
        v_psp, a_psp = relu(v_psp @ _n(layer.v_fc)), relu(a_psp @ _n(layer.a_fc))
    ln_gamma, ln_beta = (_n(w) for w in layer.layer_norm.weights)

    def layer_norm(x):  # nn.LayerNorm(out_dim, eps=1e-6)
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-6) * ln_gamma + ln_beta

    v_psp, a_psp = layer_norm(v_psp), layer_norm(a_psp)
    return (v_psp + a_psp) * 0.5, v_psp, a_psp


def _av_similarity(v_fea, a_fea):
    """AVSimilarity.forward: F.normalize (eps 1e-12), then the dot product."""
    unit = lambda x: x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
    return (unit(v_fea) * unit(a_fea)).sum(-1)


def _classify(model, fusion):
    """relu(L1(.)) then L2: the segment scores [bs, 10, C]."""
    return relu(fusion @ _n(model.get_layer("L1").kernel)) @ _n(model.get_layer("L2").kernel)


def _fully_psp_net(model, audio, video, thr_val):
    """fully_model.py psp_net.forward: (out [bs, 10, C], cross_att [bs, 10])."""
    fa = [_n(layer.kernel) for layer in model.get_layer("fa").layers]
    fv = [_n(layer.kernel) for layer in model.get_layer("fv").layers]
    fa_fea = audio @ fa[0] @ fa[1]
    video_t = _avga(model, fa_fea, video) @ fv[0] @ fv[1]
    lstm_audio, lstm_video = _lstm_a_v(model, fa_fea, video_t)
    fusion, final_v_fea, final_a_fea = _psp(model, lstm_audio, lstm_video, thr_val, False)
    return _classify(model, fusion), _av_similarity(final_v_fea, final_a_fea)


def _weakly_psp_net(model, audio, video, thr_val):
    """weakly_model.py psp_net.forward: (out_avg [bs, C], score [bs, 10, C])."""
    linear_v = model.get_layer("linear_v")
    video_t = _avga(model, audio, video) @ _n(linear_v.kernel) + _n(linear_v.bias)
    lstm_audio, lstm_video = _lstm_a_v(model, audio, video_t)
    fusion, _, _ = _psp(model, lstm_audio, lstm_video, thr_val, True)
    score = _classify(model, fusion)
    W3 = _n(model.get_layer("segment_score_weighting").w)
    temporal_wei = sigmoid(relu(score @ W3))
    score = score * temporal_wei
    return softmax(score.mean(1)), score


# The release's targets and losses. -----------------------------------------

def _segment_wise_relation(batch_labels):
    """dataloader.py get_segment_wise_relation, on a fresh (zero) buffer (the
    paper's target; the release's buffer keeps earlier batches' values)."""
    segment_avps_gt_batch = np.zeros(batch_labels.shape[:2], "float32")
    for i in range(batch_labels.shape[0]):
        col_sum = np.sum(batch_labels[i].T, axis=1)
        category_bg_cols = sorted(col_sum.nonzero()[0].tolist())
        category_col = batch_labels[i, :, category_bg_cols[0]]
        same_category_row_idx = category_col.nonzero()[0].tolist()
        segment_avps_gt_batch[i, same_category_row_idx] = 1 / len(same_category_row_idx)
    return segment_avps_gt_batch


def _avps_loss(av_simm, soft_label):
    """measure.py AVPSLoss: nn.MSELoss of the L1-normalised relu(similarity)."""
    relu_av_simm = relu(av_simm)
    avg_av_simm = relu_av_simm / (relu_av_simm.sum(-1, keepdims=True) + 1e-8)
    return ((avg_av_simm - soft_label) ** 2).mean()


def _cross_entropy(out_prob, segment_labels):
    """nn.CrossEntropyLoss of the scores against the class indices, mean."""
    log_p = out_prob - np.log(np.exp(out_prob).sum(-1, keepdims=True))
    return -(log_p * segment_labels).sum(-1).mean()


def _bce(scores_avg, prob_labels):
    """nn.BCELoss, mean over the batch and the classes."""
    return -(prob_labels * np.log(scores_avg)
             + (1 - prob_labels) * np.log(1 - scores_avg)).mean()


# Tests. --------------------------------------------------------------------

def test_supervised_forward_matches_the_released_psp_net(rng):
    model = build_psp_supervised(PSPConfig(**TINY), compile=False)
    x = _inputs(rng)
    out, cross_att = _fully_psp_net(model, x["audio"], x["visual"], 0.099)
    outputs = model(x, training=False)
    np.testing.assert_allclose(_n(outputs["segment_probabilities"]), softmax(out),
                               rtol=0, atol=1e-5)
    np.testing.assert_allclose(_n(outputs["av_similarity"]), cross_att, rtol=0, atol=1e-5)


def test_weak_forward_matches_the_released_psp_net(rng):
    model = build_psp_weak(PSPConfig(**TINY, **REGIME_DEFAULTS["weak"]), compile=False)
    x = _inputs(rng)
    out_avg, score = _weakly_psp_net(model, x["audio"], x["visual"], 0.095)
    outputs = model(x, training=False)
    np.testing.assert_allclose(_n(outputs["video_probabilities"]), out_avg, rtol=0, atol=1e-5)
    np.testing.assert_allclose(_n(outputs["segment_probabilities"]), softmax(score),
                               rtol=0, atol=1e-5)
    assert {w.name for w in model.get_layer("psp").weights} == {
        "v_L1", "v_L2", "a_L1", "a_L2", "gamma", "beta"}


def test_supervised_loss_is_ce_plus_lambda_avps_of_the_released_targets(rng):
    model = build_psp_supervised(PSPConfig(**TINY))
    x, y = _inputs(rng), _segment_labels(rng)
    out, cross_att = _fully_psp_net(model, x["audio"], x["visual"], 0.099)
    target = _segment_wise_relation(y)
    # The background-only video: the loader's first column is the background.
    np.testing.assert_allclose(target[0], np.full(T, 1 / T))
    # Two event classes: only the first one's segments.
    np.testing.assert_allclose(target[1], np.where(y[1].argmax(-1) == 1, 1 / 3, 0.0))
    expected = _cross_entropy(out, y) + 100.0 * _avps_loss(cross_att, target)
    fit_x, fit_y = fit_targets(model)(x, y)
    loss = model.evaluate(fit_x, fit_y, batch_size=B, verbose=0, return_dict=True)["loss"]
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_weak_loss_is_bce_against_the_normalised_labels(rng):
    model = build_psp_weak(PSPConfig(**TINY, **REGIME_DEFAULTS["weak"]))
    x, y = _inputs(rng), _segment_labels(rng)
    out_avg, _ = _weakly_psp_net(model, x["audio"], x["visual"], 0.095)
    prob_labels = y.sum(1) / T  # prob_label.h5: each class's share of the segments
    shares = class_shares(y, np.ones((B, T), "float32"))
    np.testing.assert_allclose(shares, prob_labels, rtol=1e-6)
    fit_x, fit_y = fit_targets(model)(x, shares)
    loss = model.evaluate(fit_x, fit_y, batch_size=B, verbose=0, return_dict=True)["loss"]
    np.testing.assert_allclose(loss, _bce(out_avg, prob_labels), rtol=1e-5)


def test_weak_psp_trains_on_class_shares(tiny_root, tmp_path):
    """`train` gives PSP's weak model the class shares of the training split
    (the release's prob_label.h5), the other methods the video labels."""
    from keras_avl.data import load_ave, make_dataset
    from keras_avl.models.registry import weak_targets

    data = load_ave(tiny_root)
    batches = make_dataset(data, "train", "weak", batch_size=64, shuffle=False,
                           weak_targets=weak_targets("psp"))
    _, targets = batches[0]
    order = data.orders["train"]
    expected = data.segment_labels[order].mean(1)  # all segments real here
    np.testing.assert_allclose(targets[: len(order)], expected, rtol=1e-6)
    # The background-only videos keep their all-background label.
    np.testing.assert_array_equal(targets[len(order):], data.noisy.video_labels)
    _, video = make_dataset(data, "train", "weak", batch_size=64, shuffle=False)[0]
    np.testing.assert_array_equal(video[: len(order)], data.video_labels[order])


def test_builders_without_config_take_the_regime_defaults():
    supervised = build_psp_supervised(compile=False).get_layer("psp")
    weak = build_psp_weak(compile=False).get_layer("psp")
    assert (supervised.threshold, weak.threshold) == (0.099, 0.095)
    assert (supervised.variant, weak.variant) == ("fully", "weakly")
