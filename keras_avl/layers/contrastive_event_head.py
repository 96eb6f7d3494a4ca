"""The event head of CACE-Net with its background-event contrastive enhancement
(He et al., ACM MM 2024, Sec. 3.3), as released in github:Brain-Cog-Lab/CACE-Net
`CACE/model/main_model.py::SupvLocalizeModule` (`encoder_q`, `classifier`,
`data_augmentation`).

For one video with the fused audio-visual sequence f (T, d):

    q_t = relu(f_t W_q + b_q)                                 (`encoder_q`)
    z_t = (f_t + s lambda q_t) w + b                          (`classifier`: is-event logit)
    k_t = relu((f_t + sigma n_t) W_q + b_q),  n_t ~ N(0, I)   (the augmented view)
    features = s [ q_1/|q_1|, ..., q_T/|q_T| ; k_1/|k_1|, ..., k_T/|k_T| ]   (2T, d)

s is the contrastive switch, 0 or 1, a non-trainable weight (`switch`): the
code turns its `contrastive_switch` on from epoch n_epoch / 8 of its training
(`warmup_fraction`; `keras_avl.models.cace.CACEModel.fit` sets it at each
epoch's start), which adds lambda q_t to the event logits and the contrastive
loss of the features (`keras_avl.losses.SegmentContrastiveLoss`, which gives
a video of all-zero features no loss). sigma = 0.1 (the code's noise level);
the noise is drawn in training only (the code draws it in evaluation too,
where nothing reads k). The normalisation is PyTorch's `F.normalize`
(x / max(|x|, 1e-12)).

With a segment mask (clips shorter than T), every segment is computed alone
(no mixing over time) and the features of padded segments are zero.
"""

import keras
from keras import ops

from keras_avl.layers.segment_mask import merge_masks
from keras_avl.layers.torch_init import torch_linear_kernel, torch_uniform
from keras_avl.validation import check_non_negative, check_rate

_NORM_EPSILON = 1e-12


def _normalize(x):
    """PyTorch's `F.normalize(x, dim=-1)`: x / max(||x||, 1e-12)."""
    norm = ops.sqrt(ops.sum(ops.square(x), axis=-1, keepdims=True))
    return x / ops.maximum(norm, ops.cast(_NORM_EPSILON, x.dtype))


@keras.saving.register_keras_serializable(package="keras_avl")
class ContrastiveEventHead(keras.layers.Layer):
    """Per-segment event logits, enhanced by a contrastive projection, and the
    two views of that projection for the contrastive loss.

    Args:
        enhancement: float >= 0, lambda, the weight of the projection added to
            the fused features once the switch is on (`--Lambda`, 0.6 in the
            released run; 0: the code without `--contrastive`).
        noise_stddev: float >= 0, sigma of the augmented view's Gaussian noise (0.1).
        warmup_fraction: float in [0, 1), the share of the training epochs
            before the switch turns on (1/8: `epoch >= n_epoch / 8`).
        seed: optional int, the seed of the noise.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Weights: `encoder_q_kernel`, `encoder_q_bias` (d, d), `classifier_kernel`,
    `classifier_bias` (d, 1) (PyTorch's `nn.Linear` init), and the
    non-trainable scalar `switch` (0 when built).

    Call arguments:
        inputs: the fused sequence `(B, T, d)`.
        mask: optional boolean `(B, T)`, False at padded segments.
        training: whether the noise is drawn.

    Returns:
        Tuple `(event_logits, features)` of shapes `(B, T)` and `(B, 2T, d)`
        (the normalised projections of the T segments, then those of their
        augmented views; zero while the switch is off).

    Example:

    >>> import numpy as np
    >>> head = ContrastiveEventHead(enhancement=0.6)
    >>> logits, features = head(np.random.rand(2, 10, 8).astype("float32"))
    >>> tuple(logits.shape), tuple(features.shape), float(np.abs(features).max())
    ((2, 10), (2, 20, 8), 0.0)
    >>> _ = head.switch.assign(1.0)  # as `CACEModel.fit` does from epoch n_epoch / 8
    >>> _, features = head(np.random.rand(2, 10, 8).astype("float32"))
    >>> float(np.linalg.norm(np.asarray(features), axis=-1).max().round(4))  # unit vectors
    1.0
    """

    def __init__(self, enhancement=0.6, noise_stddev=0.1, warmup_fraction=0.125, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.enhancement = check_non_negative("enhancement", enhancement)
        self.noise_stddev = check_non_negative("noise_stddev", noise_stddev)
        self.warmup_fraction = check_rate("warmup_fraction", warmup_fraction)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        d = tuple(input_shape)[-1]
        self.encoder_q_kernel = self.add_weight(name="encoder_q_kernel", shape=(d, d),
                                                initializer=torch_linear_kernel())
        self.encoder_q_bias = self.add_weight(name="encoder_q_bias", shape=(d,),
                                              initializer=torch_uniform(d))
        self.classifier_kernel = self.add_weight(name="classifier_kernel", shape=(d, 1),
                                                 initializer=torch_linear_kernel())
        self.classifier_bias = self.add_weight(name="classifier_bias", shape=(1,),
                                               initializer=torch_uniform(d))
        self.switch = self.add_weight(name="switch", shape=(), initializer="zeros",
                                      trainable=False)

    def _project(self, x):
        return ops.relu(ops.matmul(x, self.encoder_q_kernel) + self.encoder_q_bias)

    def call(self, inputs, mask=None, training=None):
        fused = inputs
        switch = ops.cast(self.switch, self.compute_dtype)
        query = self._project(fused)
        enhanced = fused + (switch * self.enhancement) * query
        logits = ops.squeeze(ops.matmul(enhanced, self.classifier_kernel)
                             + self.classifier_bias, -1)
        view = fused
        if training and self.noise_stddev > 0:
            view = fused + self.noise_stddev * keras.random.normal(
                ops.shape(fused), dtype=self.compute_dtype, seed=self.seed_generator)
        features = ops.concatenate([_normalize(query), _normalize(self._project(view))], axis=1)
        features = switch * features
        mask = merge_masks(mask)
        if mask is not None:
            real = ops.cast(ops.concatenate([mask, mask], axis=1), features.dtype)
            features = features * ops.expand_dims(real, -1)
        return logits, features

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        batch, segments, d = tuple(input_shape)
        return (batch, segments), (batch, None if segments is None else 2 * segments, d)

    def get_config(self):
        config = super().get_config()
        config.update({"enhancement": self.enhancement, "noise_stddev": self.noise_stddev,
                       "warmup_fraction": self.warmup_fraction, "seed": self.seed})
        return config
