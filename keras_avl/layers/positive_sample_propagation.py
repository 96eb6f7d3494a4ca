"""Positive sample propagation (PSP) of Zhou et al., "Positive Sample
Propagation along the Audio-Visual Event Line", CVPR 2021 (Sec. 3.2), as the
public code has it (github:jasongief/PSP_CVPR_2021, class `PSP` of
`fully_model.py` and of `weakly_model.py`, and `AVSimilarity`).

For one video, with the temporal features v, a of shape (T, d) (d the same for
both modalities) and dropout written D:

    v_1 = D(relu(v_L1 v)),  v_2 = D(relu(v_L2 v)),
    a_1 = D(relu(a_L1 a)),  a_2 = D(relu(a_L2 a))
    beta_va = relu(v_2 a_1^T / sqrt(d)),  beta_av = beta_va^T
    each row r of beta: beta_r <- beta_r / (sum(beta_r) + eps)
    gamma = 1[beta > tau] * beta
    v_psp = v + gamma_va a_2,   a_psp = a + gamma_av v_1

then, by `variant`:

- `"fully"` (`fully_model.py`): gamma's rows are L1-normalised again before
  the propagation, and v_psp <- LN(D(relu(v_fc v_psp))),
  a_psp <- LN(D(relu(a_fc a_psp)));
- `"weakly"` (`weakly_model.py`): no second normalisation, no `v_fc` / `a_fc`:
  v_psp <- LN(v_psp), a_psp <- LN(a_psp) (so the output size is d);

and fused = (v_psp + a_psp) / 2. A segment only receives the features of the
segments of the other modality whose (normalised) similarity exceeds tau: the
positive pairs. The layer also returns the cosine similarity
s_t = cos(v_psp,t, a_psp,t) of each segment's audio-visual pair (`AVSimilarity`,
`F.normalize`), on which PSP's AVPS loss acts (`keras_avl.losses.AVPSLoss`;
the weak model does not use it). As in the code, no projection has a bias, the
weights are Xavier-uniform, and one LayerNorm (eps 1e-6) is shared by the two
modalities.

With a segment mask (clips shorter than T, padded at the end; the code has
none: AVE's clips all last 10 s), the columns of beta at padded segments are
zeroed before the row normalisation, so a real segment receives features from
the real segments of the other modality only, as it would in the clip cut to
its real segments, and s_t = 0 at a padded segment (it reaches no AVPS term).
"""

import keras
from keras import ops

from keras_avl.layers.segment_mask import merge_masks
from keras_avl.validation import check_choice, check_positive_int, check_rate

EPSILON = 1e-8
VARIANTS = ("fully", "weakly")


def _normalise_rows(x):
    return x / (ops.sum(x, axis=-1, keepdims=True) + EPSILON)


@keras.saving.register_keras_serializable(package="keras_avl")
class PositiveSamplePropagation(keras.layers.Layer):
    """PSP block: audio and visual segments exchange features only along the
    positive (thresholded) pairs of their T x T similarity.

    Args:
        output_dim: int, the size of the fused output (256 in PSP's code);
            `"weakly"` has no output projection and needs it equal to d.
        threshold: float, tau of the pruning (0.099 supervised, 0.095 weak in
            PSP's code).
        dropout: float, the dropout of the branches and projections (0.1).
        variant: `"fully"` (`fully_model.py`'s block) or `"weakly"`
            (`weakly_model.py`'s: no `v_fc` / `a_fc`, no second L1
            normalisation).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Weights (the code's names): `v_L1`, `v_L2`, `a_L1`, `a_L2`, for `"fully"`
    also `v_fc`, `a_fc`, and the shared LayerNorm's `gamma`, `beta`.

    Call arguments:
        inputs: list `[audio, visual]`, both of shape `(B, T, d)`.
        mask: optional boolean `(B, T)`, False at padded segments (or a list
            of such masks, one per input); `fused` carries it.
        training: whether dropout is active.

    Returns:
        Tuple `(fused, similarity)` of shapes `(B, T, output_dim)` and `(B, T)`.

    Example:

    >>> import numpy as np
    >>> layer = PositiveSamplePropagation(output_dim=6, threshold=0.1)
    >>> a = np.random.rand(2, 10, 8).astype("float32")
    >>> v = np.random.rand(2, 10, 8).astype("float32")
    >>> fused, similarity = layer([a, v])
    >>> tuple(fused.shape), tuple(similarity.shape)
    ((2, 10, 6), (2, 10))
    >>> weak = PositiveSamplePropagation(output_dim=8, threshold=0.1, variant="weakly")
    >>> tuple(weak([a, v])[0].shape)
    (2, 10, 8)
    """

    def __init__(self, output_dim=256, threshold=0.099, dropout=0.1, variant="fully",
                 **kwargs):
        super().__init__(**kwargs)
        self.output_dim = check_positive_int("output_dim", output_dim)
        if not 0 <= threshold < 1:
            raise ValueError(
                f"`threshold` must be in [0, 1) (it compares L1-normalised rows); "
                f"received threshold={threshold!r}."
            )
        self.threshold = float(threshold)
        self.dropout = check_rate("dropout", dropout)
        self.variant = check_choice("variant", variant, VARIANTS)
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        self.layer_norm = keras.layers.LayerNormalization(epsilon=1e-6, dtype=self.dtype_policy)

    def build(self, input_shape):
        audio_shape, visual_shape = (tuple(shape) for shape in input_shape)
        if audio_shape[-1] != visual_shape[-1] or len(audio_shape) != 3:
            raise ValueError(
                "PositiveSamplePropagation expects `audio` and `visual` of one shape "
                f"(B, T, d); received shapes {audio_shape} and {visual_shape}."
            )
        d, out = audio_shape[-1], self.output_dim
        if self.variant == "weakly" and out != d:
            raise ValueError(
                "PositiveSamplePropagation(variant='weakly') has no output projection: "
                f"`output_dim` must equal the feature size d={d}; received output_dim={out}."
            )
        names = ("v_L1", "v_L2", "a_L1", "a_L2")
        if self.variant == "fully":
            names += ("v_fc", "a_fc")
        for name in names:
            shape = (d, out) if name.endswith("_fc") else (d, d)
            setattr(self, name, self.add_weight(name=name, shape=shape,
                                                initializer="glorot_uniform"))
        self.layer_norm.build(audio_shape[:-1] + (out,))

    def _prune(self, beta, mask):
        # float32: eps = 1e-8 vanishes in float16 and an all-zero row would give 0/0.
        beta = ops.cast(beta, "float32")
        if mask is not None:  # padded segments give nothing
            beta = beta * ops.cast(ops.expand_dims(mask, 1), "float32")
        beta = _normalise_rows(beta)
        gamma = ops.where(beta > self.threshold, beta, ops.zeros_like(beta))
        if self.variant == "fully":
            gamma = _normalise_rows(gamma)
        return ops.cast(gamma, self.compute_dtype)

    def call(self, inputs, mask=None, training=None):
        audio, visual = inputs
        mask = merge_masks(mask)
        branch = lambda x, w: self.dropout_layer(ops.relu(ops.matmul(x, w)), training=training)
        v_1, v_2 = branch(visual, self.v_L1), branch(visual, self.v_L2)
        a_1, a_2 = branch(audio, self.a_L1), branch(audio, self.a_L2)
        scale = ops.sqrt(ops.cast(ops.shape(v_2)[-1], v_2.dtype))
        beta_va = ops.relu(ops.matmul(v_2, ops.transpose(a_1, (0, 2, 1))) / scale)
        beta_av = ops.transpose(beta_va, (0, 2, 1))
        v_psp = visual + ops.matmul(self._prune(beta_va, mask), a_2)
        a_psp = audio + ops.matmul(self._prune(beta_av, mask), v_1)
        if self.variant == "fully":
            v_psp, a_psp = branch(v_psp, self.v_fc), branch(a_psp, self.a_fc)
        v_psp, a_psp = self.layer_norm(v_psp), self.layer_norm(a_psp)
        fused = (v_psp + a_psp) * 0.5
        v_unit, a_unit = (_unit(ops.cast(x, "float32")) for x in (v_psp, a_psp))
        similarity = ops.sum(v_unit * a_unit, axis=-1)
        if mask is not None:
            similarity = ops.where(mask, similarity, ops.zeros_like(similarity))
        return fused, ops.cast(similarity, self.compute_dtype)

    def compute_mask(self, inputs, mask=None):
        # The similarity carries no mask: AVPSLoss reads the real segments
        # from the labels (keras_avl.losses.avps_loss).
        return merge_masks(mask), None

    def compute_output_shape(self, input_shape):
        audio_shape = tuple(input_shape[0])
        return audio_shape[:-1] + (self.output_dim,), audio_shape[:-1]

    def get_config(self):
        config = super().get_config()
        config.update({"output_dim": self.output_dim, "threshold": self.threshold,
                       "dropout": self.dropout, "variant": self.variant})
        return config


def _unit(x):
    """x / max(||x||, 1e-12) along the last axis (PyTorch's F.normalize),
    written as x / sqrt(max(||x||^2, 1e-24)): the same values, and a finite
    gradient at x = 0 (where the derivative of the norm is not)."""
    return x * ops.rsqrt(ops.maximum(ops.sum(ops.square(x), axis=-1, keepdims=True), 1e-24))
