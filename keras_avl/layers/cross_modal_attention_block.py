"""The attention block of CMBS's cross-modal relation modules (Xia & Zhao, CVPR
2022, after Xu et al.'s CMRAN; github:marmot-xy/CMBS `model/models.py`
`EncoderLayer` / `DecoderLayer` and `main_model.py::AudioVideoInter`).

With a query sequence x (T, d) and a memory m (M, d):

    y = LN_1( x + D(MHA(x, m, m)) )
    out = LN_2( y + D(W_2 D(relu(W_1 y + b_1)) + b_2) )    (with a feed-forward)
    out = y                                                (without)

CMBS uses it three ways: the intra-modal encoder (memory = the query itself),
the cross-modal decoder (memory = [the other modality's encoding; the query],
concatenated over time by the caller) and the final audio-visual interaction
(query = v * a, memory = [a; v], no feed-forward).

D is dropout: on the residual branches and the feed-forward's hidden units
(0.1 in the code), and, by default the same rate, on the attention weights
(`attention_dropout`: `AudioVideoInter` uses `head_dropout=0.2` there).
Initialisation as PyTorch's: `nn.MultiheadAttention` draws its stacked
query/key/value projection (3d, d) from Xavier-uniform, U(+-sqrt(6 / 4d)), its
output projection from U(+-1/sqrt(d)), all its biases zero; the feed-forward
Dense layers are `nn.Linear` (`keras_avl.layers.torch_init`); LayerNorm
epsilon 1e-5.

With a memory mask (padded segments of clips shorter than T), MHA gives the
padded memory entries no weight, so a query attends to real segments only.
"""

import math

import keras

from keras_avl.layers.torch_init import torch_dense, torch_linear_kernel
from keras_avl.validation import check_positive_int, check_rate


@keras.saving.register_keras_serializable(package="keras_avl")
class CrossModalAttentionBlock(keras.layers.Layer):
    """Multi-head attention of a query sequence to a memory, residual and LayerNorm.

    Args:
        num_heads: int, attention heads (d must be divisible by it).
        feedforward_dim: int, the feed-forward's hidden size; 0 for none.
        dropout: float, D on the residual branches and the feed-forward.
        attention_dropout: float, dropout of the attention weights; None: `dropout`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: list `[query, memory]` of shapes `(B, T, d)` and `(B, M, d)`.
        mask: optional list `[query_mask, memory_mask]` of booleans `(B, T)`
            and `(B, M)`, False at padded segments: no query attends to a
            padded memory entry. The output carries no mask.
        training: whether dropout is active.

    Returns:
        `(B, T, d)`.

    Example:

    >>> import numpy as np
    >>> block = CrossModalAttentionBlock(num_heads=2, feedforward_dim=16)
    >>> x = np.random.rand(2, 10, 8).astype("float32")
    >>> tuple(block([x, np.concatenate([x, x], 1)]).shape)
    (2, 10, 8)
    """

    def __init__(self, num_heads=4, feedforward_dim=1024, dropout=0.1, attention_dropout=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.num_heads = check_positive_int("num_heads", num_heads)
        if isinstance(feedforward_dim, bool) or not isinstance(feedforward_dim, int) \
                or feedforward_dim < 0:
            raise ValueError(
                f"`feedforward_dim` must be an integer >= 0 (0: no feed-forward); "
                f"received feedforward_dim={feedforward_dim!r}."
            )
        self.feedforward_dim = feedforward_dim
        self.dropout = check_rate("dropout", dropout)
        self.attention_dropout = self.dropout if attention_dropout is None \
            else check_rate("attention_dropout", attention_dropout)

    def build(self, input_shape):
        query_shape, memory_shape = (tuple(shape) for shape in input_shape)
        d = query_shape[-1]
        if d % self.num_heads or memory_shape[-1] != d:
            raise ValueError(
                f"CrossModalAttentionBlock expects `query` and `memory` of one feature "
                f"size divisible by num_heads={self.num_heads}; received shapes "
                f"{query_shape} and {memory_shape}."
            )
        policy = self.dtype_policy
        bound = math.sqrt(6.0 / (4 * d))
        self.attention = keras.layers.MultiHeadAttention(
            self.num_heads, d // self.num_heads, dropout=self.attention_dropout, dtype=policy,
            kernel_initializer=keras.initializers.RandomUniform(-bound, bound))
        self.attention.build(query_shape, memory_shape, memory_shape)
        output = self.attention.output_dense.kernel  # Keras builds it with the in_proj init
        output.assign(torch_linear_kernel()(output.shape, output.dtype))
        self.residual_dropout = keras.layers.Dropout(self.dropout, dtype=policy)
        self.norm_1 = keras.layers.LayerNormalization(epsilon=1e-5, dtype=policy)
        self.norm_1.build(query_shape)
        if self.feedforward_dim:
            self.hidden = torch_dense(self.feedforward_dim, d, activation="relu", dtype=policy)
            self.hidden.build(query_shape)
            self.projection = torch_dense(d, self.feedforward_dim, dtype=policy)
            self.projection.build(query_shape[:-1] + (self.feedforward_dim,))
            self.norm_2 = keras.layers.LayerNormalization(epsilon=1e-5, dtype=policy)
            self.norm_2.build(query_shape)

    def call(self, inputs, mask=None, training=None):
        query, memory = inputs
        memory_mask = mask[1] if isinstance(mask, (list, tuple)) else None
        drop = lambda x: self.residual_dropout(x, training=training)
        attended = self.attention(query, memory, memory, value_mask=memory_mask,
                                  training=training)
        y = self.norm_1(query + drop(attended))
        if not self.feedforward_dim:
            return y
        return self.norm_2(y + drop(self.projection(drop(self.hidden(y)))))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        config = super().get_config()
        config.update({"num_heads": self.num_heads, "feedforward_dim": self.feedforward_dim,
                       "dropout": self.dropout, "attention_dropout": self.attention_dropout})
        return config
