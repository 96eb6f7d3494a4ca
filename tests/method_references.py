"""Independent NumPy transcriptions of the blocks of AVSDN, PSP, CMBS and
CACE-Net, used as reference values by their tests. Written from the papers and
the public codes' equations, with loops over segments and plain NumPy; not
from the layers."""

import numpy as np

from tests.numpy_reference import relu, sigmoid, softmax


def psp_video(a, v, v_L1, v_L2, a_L1, a_L2, v_fc, a_fc, ln_gamma, ln_beta, tau):
    """PSP without dropout for one video: a, v (T, d). Returns (fused, similarity)."""
    T, d = a.shape

    def prune(beta):
        gamma = np.zeros_like(beta)
        for i in range(T):
            row = beta[i] / (beta[i].sum() + 1e-8)
            kept = np.where(row > tau, row, 0.0)
            gamma[i] = kept / (kept.sum() + 1e-8)
        return gamma

    def layer_norm(x):
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-6) * ln_gamma + ln_beta

    v1, v2, a1, a2 = relu(v @ v_L1), relu(v @ v_L2), relu(a @ a_L1), relu(a @ a_L2)
    beta_va = np.array([[relu(v2[i] @ a1[j] / np.sqrt(d)) for j in range(T)] for i in range(T)])
    gamma_va, gamma_av = prune(beta_va), prune(beta_va.T)
    v_psp = layer_norm(relu((v + gamma_va @ a2) @ v_fc))
    a_psp = layer_norm(relu((a + gamma_av @ v1) @ a_fc))
    similarity = np.array([
        v_psp[t] @ a_psp[t] / (np.linalg.norm(v_psp[t]) * np.linalg.norm(a_psp[t]))
        for t in range(T)
    ])
    return (v_psp + a_psp) / 2, similarity


def avps_target(y):
    """PSP's AVPS target for one video's one-hot labels y (n, C)
    (`dataloader.py::get_segment_wise_relation`): 1/|E| on the segments E of
    its first class (lowest index: the event, or the background when there is
    no event), 0 elsewhere."""
    in_first = y[:, np.flatnonzero(y.sum(0))[0]]
    return in_first / in_first.sum()


def agsca_segment(V, a, w):
    """The paper's AGSCA (no self-attention) for one segment: V (S, d_v), a
    (d_a,), w the weights by name (`<module>_kernel`, `<module>_bias`)."""
    affine = lambda x, n: x @ w[f"{n}_kernel"] + w[f"{n}_bias"]
    a1 = relu(affine(a, "affine_audio_1"))
    q = np.mean([a1 * relu(affine(V[s], "affine_video_1")) for s in range(len(V))], axis=0)
    m = sigmoid(affine(relu(affine(q, "affine_bottleneck")), "affine_v_c_att"))
    Vc = V * (m + 1.0)
    a2 = relu(affine(a, "affine_audio_2"))
    z = np.array([np.tanh((relu(affine(Vc[s], "affine_video_2")) * a2)
                          @ w["affine_v_s_att_kernel"][:, 0] + w["affine_v_s_att_bias"][0])
                  for s in range(len(V))])
    lam = softmax(z)
    return (lam[:, None] * Vc).sum(0), lam


def top_k_mean(x, k):
    """Mean of the k largest entries of x (T, K) over t, per column."""
    return np.array([np.sort(x[:, c])[::-1][:k].mean() for c in range(x.shape[1])])


def multi_head_attention(q, m, kernels, num_heads):
    """Keras-layout MHA of q (T, d) over m (M, d): kernels = (Wq, bq, Wk, bk, Wv, bv, Wo, bo)
    with Wq (d, H, k), bq (H, k), Wo (H, k, d), bo (d,)."""
    Wq, bq, Wk, bk, Wv, bv, Wo, bo = kernels
    out = np.zeros((q.shape[0], Wo.shape[-1]))
    for h in range(num_heads):
        Q = q @ Wq[:, h] + bq[h]
        K = m @ Wk[:, h] + bk[h]
        Vv = m @ Wv[:, h] + bv[h]
        A = softmax(Q @ K.T / np.sqrt(Q.shape[-1]), axis=-1)
        out += (A @ Vv) @ Wo[h]
    return out + bo


def layer_norm(x, gamma, beta, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def lstm_states(x, kernel, recurrent_kernel, bias, h, c, reverse=False):
    """A Keras-layout LSTM (gates i, f, c, o) from state (h, c) over x (T, F).
    Returns the outputs (T, units) in input order and the final (h, c)."""
    units = recurrent_kernel.shape[0]
    steps = range(len(x) - 1, -1, -1) if reverse else range(len(x))
    outputs = np.zeros((len(x), units))
    for t in steps:
        z = x[t] @ kernel + h @ recurrent_kernel + bias
        i, f, g, o = (z[k * units:(k + 1) * units] for k in range(4))
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        outputs[t] = h
    return outputs, h, c


def segment_contrastive_loss(q, k, y, temperature=0.01):
    """CACE-Net's contrastive loss (`supv_main.py`) for one video: q, k (T, d)
    normalised features and their augmented views, y (T, C) one-hot labels
    (background last). With loops: each of the 2T anchors against the 2T - 1
    others, positives the event pairs and the anchor's own view; the loss is
    -log of the mean positive exp over the sum of all exps, averaged."""
    event = y[:, :-1].max(-1)
    n = len(q)
    features = np.concatenate([q, k]).astype("float64")
    segment = np.concatenate([np.arange(n), np.arange(n)])
    losses = []
    for i in range(2 * n):
        others = [j for j in range(2 * n) if j != i]
        scores = np.array([features[i] @ features[j] / temperature for j in others])
        positive = np.array([segment[j] == segment[i] or event[segment[i]] * event[segment[j]]
                             for j in others], dtype=bool)
        top = scores.max()
        mean_positive = np.exp(scores[positive] - top).mean()
        losses.append(-np.log(mean_positive / np.exp(scores - top).sum()))
    return np.mean(losses)
