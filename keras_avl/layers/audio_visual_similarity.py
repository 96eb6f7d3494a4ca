"""Audio-visual similarity map of the contrastive sound-source-localization
baseline (Senocak et al., CVPR 2018; LVS, CVPR 2021; EZ-VSL, ECCV 2022).

Each region s of segment t and the segment's audio are projected to a common
space and L2-normalised: v_{t,s} = norm(F_v,{t,s} W_v + b_v), a_t = norm(F_a,t W_a
+ b_a). The localization map of a video is the cosine similarity of every region
with its own audio, S_{t,s} = v_{t,s} . a_t. For the contrastive loss the layer
also compares every video's regions with every other video's audio of the same
segment and keeps the best region (EZ-VSL's multiple-instance max):
X[i, t, j] = max_s v^i_{t,s} . a^j_t.
"""

import keras
from keras import ops

from keras_avl.numerics import safe_l2_normalize
from keras_avl.validation import check_positive_int


@keras.saving.register_keras_serializable(package="keras_avl")
class AudioVisualSimilarity(keras.layers.Layer):
    """Cosine similarity of projected regions and projected audio.

    Args:
        embed_dim: int, the size of the common space (512 in EZ-VSL).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Weights: `W_v` (d_v, embed_dim), `b_v`, `W_a` (d_a, embed_dim), `b_a`.

    Call arguments:
        inputs: list `[visual, audio]`; visual of shape `(B, T, S, d_v)` or
            `(B, T, H, W, d_v)`, audio of shape `(B, T, d_a)`.

    Returns:
        Tuple `(cross_similarity, similarity_map)`: cross_similarity
        `(B, T, B)`, entry `[i, t, j]` the best region of video i's segment t
        against video j's audio of segment t; similarity_map `(B, T, S)`, each
        region against its own video's audio (the localization map). Both are
        cosines in [-1, 1], computed in float32.

    Example:

    >>> import numpy as np
    >>> layer = AudioVisualSimilarity(embed_dim=8)
    >>> visual = np.random.rand(3, 10, 7, 7, 16).astype("float32")
    >>> audio = np.random.rand(3, 10, 4).astype("float32")
    >>> cross, similarity_map = layer([visual, audio])
    >>> tuple(cross.shape), tuple(similarity_map.shape)
    ((3, 10, 3), (3, 10, 49))
    """

    def __init__(self, embed_dim=512, **kwargs):
        super().__init__(**kwargs)
        self.embed_dim = check_positive_int("embed_dim", embed_dim)

    def build(self, input_shape):
        visual_shape, audio_shape = (tuple(shape) for shape in input_shape)
        if len(visual_shape) not in (4, 5) or len(audio_shape) != 3:
            raise ValueError(
                "AudioVisualSimilarity expects `visual` (B, T, S, d_v) or "
                "(B, T, H, W, d_v) and `audio` (B, T, d_a); received shapes "
                f"{visual_shape} and {audio_shape}."
            )
        add = self.add_weight
        self.W_v = add(name="W_v", shape=(visual_shape[-1], self.embed_dim))
        self.b_v = add(name="b_v", shape=(self.embed_dim,), initializer="zeros")
        self.W_a = add(name="W_a", shape=(audio_shape[-1], self.embed_dim))
        self.b_a = add(name="b_a", shape=(self.embed_dim,), initializer="zeros")

    def _regions(self, visual):
        if len(visual.shape) == 5:
            # S kept static when H and W are known (the einsums need it).
            height, width = visual.shape[2], visual.shape[3]
            regions = -1 if None in (height, width) else height * width
            shape = ops.shape(visual)
            visual = ops.reshape(visual, (shape[0], shape[1], regions, shape[-1]))
        return visual

    def call(self, inputs):
        visual, audio = inputs
        regions = self._regions(visual)
        v = safe_l2_normalize(ops.matmul(regions, self.W_v) + self.b_v)
        a = safe_l2_normalize(ops.matmul(audio, self.W_a) + self.b_a)
        # (B_v, T, S, E) x (B_a, T, E) -> (B_v, T, B_a, S), best region per pair.
        cross = ops.einsum("itse,jte->itjs", v, a)
        similarity_map = ops.einsum("itse,ite->its", v, a)
        return (
            ops.cast(ops.max(cross, axis=-1), self.compute_dtype),
            ops.cast(similarity_map, self.compute_dtype),
        )

    def get_config(self):
        config = super().get_config()
        config.update({"embed_dim": self.embed_dim})
        return config
