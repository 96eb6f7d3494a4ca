"""AVSDN (Lin, Li & Wang, "Dual-modality seq2seq network for audio-visual event
localization", ICASSP 2019): its config and its supervised and weak models.

No official code is public; the model follows the paper's text (Sec. 2) with
the choices it leaves open written down here and in `DualModalitySeq2Seq`:

- visual input: the regions of each segment averaged (global average pooling
  of the VGG-19 pool5 map), as the paper's Table 1 re-implementation uses
  VGG-19 features without saying how they are pooled (choice: no attention,
  so AVSDN has no spatial attention map);
- the seq2seq block: audio and visual BiLSTM encoders (`hidden` units per
  direction) whose final states, concatenated per direction, start a joint
  BiLSTM decoder reading [audio; visual] per segment (`DualModalitySeq2Seq`);
- classifier: dropout then Dense C + softmax per segment (choice: no hidden
  layer, dropout 0.2 as the paper's models here);
- weak regime: the segment probabilities averaged over the segments (MIL
  pooling, as A+V-att and the paper's weak model), categorical cross-entropy
  on the video label;
- training: Adam, learning rate 1e-3 (choice: the AVE default).

Segment masks (`segment_mask`, clips shorter than T): the BiLSTMs skip padded
segments, the segment probabilities carry the mask (Keras leaves padded
segments out of the loss and the accuracy) and MIL pooling averages the real
segments only.
"""

import dataclasses

import keras

from keras_avl.layers import DualModalitySeq2Seq, MILPooling
from keras_avl.models.compiling import compile_model
from keras_avl.models.inputs import model_inputs, real_segments
from keras_avl.models.optional_inputs import OptionalInputsModel
from keras_avl.models.method_config import MethodConfig


@dataclasses.dataclass
class AVSDNConfig(MethodConfig):
    """AVSDN's knobs.

    Args:
        hidden: the encoders' LSTM units per direction (the decoder has 2x).
        dropout: dropout before the classifier.
        (and the data fields of `MethodConfig`)
    """

    method = "avsdn"
    positive_ints = ("hidden",)
    rates = ("dropout",)

    hidden: int = 128
    dropout: float = 0.2


def _segment_probabilities(config, inputs, mask):
    pooled = keras.layers.TimeDistributed(
        keras.layers.GlobalAveragePooling2D(), name="visual_pooling")(inputs["visual"])
    decoded = DualModalitySeq2Seq(units=config.hidden, name="dual_modality_seq2seq")(
        [inputs["audio"], pooled], mask=mask)
    decoded = keras.layers.Dropout(config.dropout, name="classifier_dropout")(decoded)
    return keras.layers.Dense(config.num_classes, activation="softmax", dtype="float32",
                              name="segment_probabilities")(decoded)


def build_avsdn_supervised(config=None, compile=True, optimizer=None):
    """AVSDN for per-segment labels: outputs (B, T, C) probabilities.

    Example:

    >>> config = AVSDNConfig(num_classes=3, visual_dim=8, hidden=4)
    >>> build_avsdn_supervised(config).output_shape
    (None, 10, 3)
    """
    config = config or AVSDNConfig()
    inputs = model_inputs(config)
    probabilities = _segment_probabilities(config, inputs, real_segments(inputs))
    model = OptionalInputsModel(inputs, probabilities, name="avsdn_supervised")
    if compile:
        compile_model(model, config, "categorical_crossentropy", ["categorical_accuracy"],
                      optimizer)
    return model


def build_avsdn_weak(config=None, compile=True, optimizer=None):
    """AVSDN for video labels through MIL pooling: outputs (B, C).

    Example:

    >>> config = AVSDNConfig(num_classes=3, visual_dim=8, hidden=4)
    >>> build_avsdn_weak(config).output_shape
    (None, 3)
    """
    config = config or AVSDNConfig()
    inputs = model_inputs(config)
    mask = real_segments(inputs)
    video = MILPooling(name="video_probabilities")(
        _segment_probabilities(config, inputs, mask), mask=mask)
    model = OptionalInputsModel(inputs, video, name="avsdn_weak")
    if compile:
        compile_model(model, config, "categorical_crossentropy", ["categorical_accuracy"],
                      optimizer)
    return model
