"""The dual-modality sequence-to-sequence block of AVSDN (Lin, Li & Wang,
"Dual-modality seq2seq network for audio-visual event localization", ICASSP
2019, Sec. 2). No official code is public; this follows the paper's text, and
the choices it leaves open are marked (choice).

For one video with audio a_t and visual v_t features (t = 1..T):

    encoders:  (h^a, c^a) = final states of BiLSTM_a(a_1..a_T)
               (h^v, c^v) = final states of BiLSTM_v(v_1..v_T)
               (forward and backward direction each)
    fusion:    for each direction, h_0 = [h^a ; h^v], c_0 = [c^a ; c^v]
               (choice: concatenation, so the decoder has 2 * units per
               direction and the fusion adds no weights)
    decoder:   y_1..y_T = BiLSTM_av([a_1 ; v_1] .. [a_T ; v_T]) started from
               (h_0, c_0) in each direction (choice: the decoder reads the
               concatenated audio-visual features of every segment)

so the decoder sees the global (whole-video) summary of both modalities through
its initial state and the local (per-segment) features through its input.

With a segment mask (clips shorter than T, padded at the end), the three
BiLSTMs skip the padded segments: the encoders' final states summarise the
real segments a_1..a_n, v_1..v_n only, and the decoder's outputs at the real
segments are those of the clip cut to its n real segments.
"""

import keras
from keras import ops

from keras_avl.layers.segment_mask import merge_masks
from keras_avl.validation import check_positive_int


def _bidirectional_lstm(units, name, return_sequences, dtype):
    return keras.layers.Bidirectional(
        keras.layers.LSTM(units, return_sequences=return_sequences,
                          return_state=not return_sequences, dtype=dtype),
        name=name, dtype=dtype,
    )


@keras.saving.register_keras_serializable(package="keras_avl")
class DualModalitySeq2Seq(keras.layers.Layer):
    """Audio and visual BiLSTM encoders whose final states start a joint BiLSTM.

    Args:
        units: int, the encoders' units per direction (the decoder has twice
            as many).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: list `[audio, visual]` of shapes `(B, T, d_a)` and `(B, T, d_v)`.
        mask: optional boolean `(B, T)`, False at padded segments (or a list
            of such masks, one per input); the output carries it.

    Returns:
        `(B, T, 4 * units)`: the decoder's forward and backward outputs.

    Example:

    >>> import numpy as np
    >>> layer = DualModalitySeq2Seq(units=4)
    >>> a = np.random.rand(2, 10, 6).astype("float32")
    >>> v = np.random.rand(2, 10, 8).astype("float32")
    >>> tuple(layer([a, v]).shape)
    (2, 10, 16)
    """

    def __init__(self, units=128, **kwargs):
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        policy = self.dtype_policy
        self.audio_encoder = _bidirectional_lstm(self.units, "audio_encoder", False, policy)
        self.visual_encoder = _bidirectional_lstm(self.units, "visual_encoder", False, policy)
        self.decoder = _bidirectional_lstm(2 * self.units, "decoder", True, policy)

    def build(self, input_shape):
        audio_shape, visual_shape = (tuple(shape) for shape in input_shape)
        if len(audio_shape) != 3 or len(visual_shape) != 3:
            raise ValueError(
                "DualModalitySeq2Seq expects `audio` (B, T, d_a) and `visual` (B, T, d_v); "
                f"received shapes {audio_shape} and {visual_shape}."
            )
        self.audio_encoder.build(audio_shape)
        self.visual_encoder.build(visual_shape)
        self.decoder.build(audio_shape[:-1] + (audio_shape[-1] + visual_shape[-1],))

    def call(self, inputs, mask=None):
        audio, visual = inputs
        mask = merge_masks(mask)
        _, h_af, c_af, h_ab, c_ab = self.audio_encoder(audio, mask=mask)
        _, h_vf, c_vf, h_vb, c_vb = self.visual_encoder(visual, mask=mask)
        join = lambda x, y: ops.concatenate([x, y], axis=-1)
        initial_state = [join(h_af, h_vf), join(c_af, c_vf), join(h_ab, h_vb), join(c_ab, c_vb)]
        return self.decoder(join(audio, visual), initial_state=initial_state, mask=mask)

    def compute_mask(self, inputs, mask=None):
        return merge_masks(mask)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])[:-1] + (4 * self.units,)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config
