"""Independent NumPy transcriptions of the paper's equations, used as the
reference values of the layer tests. Written from the paper, not from the
layers: loops and plain NumPy where the layers use batched `keras.ops`."""

import numpy as np


def softmax(x, axis=-1):
    x = x - x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def relu(x):
    return np.maximum(x, 0.0)


def mfb_segment(F_v, F_a, U, V, W_z, b_z, q):
    """Eqs. 3-6 for one segment: F_v (S, d_v), F_a (d_a,)."""
    S = F_v.shape[0]
    p = U.shape[1] // q
    scores = np.zeros(S)
    for s in range(S):
        x = (F_v[s] @ U) * (F_a @ V)  # U^T F_v o V^T F_a, width q*p
        z_tilde = np.array([x[j * q:(j + 1) * q].sum() for j in range(p)])  # eq. 3
        z_prime = np.sign(z_tilde) * np.abs(z_tilde) ** 0.5  # eq. 4
        norm = np.linalg.norm(z_prime)
        z = z_prime / norm if norm > 0 else z_prime
        scores[s] = z @ W_z[:, 0] + b_z[0]
    lam = softmax(scores)  # eq. 5
    attended = (lam[:, None] * F_v).sum(axis=0)  # eq. 6
    return attended, lam


def swab_sequence(h, W_g, b_g, W_gbar, b_gbar, W_alpha, b_alpha, pooling, mask=None):
    """Eqs. 9-11 for one video: h (T, D); mask (T,) of booleans or None."""
    T = h.shape[0]
    valid = np.ones(T, bool) if mask is None else np.asarray(mask, bool)
    g_tilde = 0.0
    if pooling in ("mean", "mean+max"):
        g_tilde = g_tilde + relu(h[valid].mean(axis=0) @ W_g + b_g)
    if pooling in ("max", "mean+max"):
        g_tilde = g_tilde + relu(h[valid].max(axis=0) @ W_g + b_g)
    logits = []
    for t in range(T):
        g_bar = relu(h[t] @ W_gbar + b_gbar)
        P = g_bar * g_tilde  # eq. 9
        logits.append(P @ W_alpha[:, 0] + b_alpha[0])
    logits = np.array(logits)
    alpha = np.zeros(T)
    alpha[valid] = softmax(logits[valid])  # eq. 10
    return alpha[:, None] * h, alpha  # eq. 11


def lstm_sequence(x, kernel, recurrent_kernel, bias):
    """A Keras-layout LSTM (gates i, f, c, o) over x (T, F); returns (T, units)."""
    units = recurrent_kernel.shape[0]
    h = np.zeros(units)
    c = np.zeros(units)
    outputs = []
    for x_t in x:
        z = x_t @ kernel + h @ recurrent_kernel + bias
        i, f, g, o = (z[k * units:(k + 1) * units] for k in range(4))
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        outputs.append(h)
    return np.array(outputs)


def gram_triplet(Z, Y_pos, Y_neg, margin):
    """Eqs. 13-16 for one video: each (T, D)."""

    def normalized_gram(X):
        G = X @ X.T  # eq. 13
        return G / np.sqrt((G ** 2).sum())  # eq. 14

    d_pos = (normalized_gram(Z) * normalized_gram(Y_pos)).sum()  # eq. 15
    d_neg = (normalized_gram(Z) * normalized_gram(Y_neg)).sum()
    return max(d_neg - d_pos + margin, 0.0)  # eq. 16


def l2_normalize(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def audio_visual_similarity(regions, audio, W_v, b_v, W_a, b_a):
    """The contrastive baseline's cosines (EZ-VSL) for regions (B, T, S, d_v)
    and audio (B, T, d_a): cross[i, t, j] = max_s v_i,t,s . a_j,t and
    map[i, t, s] = v_i,t,s . a_i,t."""
    v = l2_normalize(regions @ W_v + b_v)
    a = l2_normalize(audio @ W_a + b_a)
    B, T = audio.shape[:2]
    cross = np.empty((B, T, B))
    sim_map = np.empty(v.shape[:3])
    for i in range(B):
        for t in range(T):
            for j in range(B):
                cross[i, t, j] = max(v[i, t, s] @ a[j, t] for s in range(v.shape[2]))
            sim_map[i, t] = v[i, t] @ a[i, t]
    return cross, sim_map


def info_nce(cross, tau, mask):
    """EZ-VSL's symmetric InfoNCE per video, cross (B, T, B), mask (B, T) bool:
    masked segments are neither anchors nor candidates."""
    B, T = mask.shape
    loss = np.zeros(B)
    for i in range(B):
        terms = []
        for t in range(T):
            if not mask[i, t]:
                continue
            candidates = [j for j in range(B) if mask[j, t]]
            rows = np.array([cross[i, t, j] for j in candidates]) / tau
            cols = np.array([cross[j, t, i] for j in candidates]) / tau
            k = candidates.index(i)
            terms.append(-(rows[k] - np.log(np.exp(rows).sum()))
                         - (cols[k] - np.log(np.exp(cols).sum())))
        loss[i] = np.mean(terms) if terms else 0.0
    return loss


def segment_triplet(Z, Y_pos, Y_neg, margin):
    """The per-segment cosine triplet of keras-avl's AVTGML option, one video."""
    cos_pos = (l2_normalize(Z) * l2_normalize(Y_pos)).sum(-1)
    cos_neg = (l2_normalize(Z) * l2_normalize(Y_neg)).sum(-1)
    return np.maximum(cos_neg - cos_pos + margin, 0.0).mean()
