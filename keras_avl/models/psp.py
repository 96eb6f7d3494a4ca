"""PSP (Zhou et al., "Positive Sample Propagation along the Audio-Visual Event
Line", CVPR 2021): its config and its supervised and weak models, following the
paper and github:jasongief/PSP_CVPR_2021 (`fully_model.py`, `weakly_model.py`).

Both regimes share one trunk: the audio goes through two bias-free projections
(128 -> 256 -> 128); A+V-att's audio-guided attention (`AudioGuidedAttention`,
hidden 512) pools the regions under that audio; two bias-free projections
(512 -> 256 -> 128) map the attended visual; bidirectional LSTMs (128) model
each modality; the PSP block (`PositiveSamplePropagation`, 256) exchanges
features along the positive pairs; Dense 64 + ReLU then Dense C (both
bias-free) give the segment scores.

- supervised: softmax per segment, trained with the cross-entropy plus
  `avps_weight` (lambda = 100) times the AVPS loss on the similarities of the
  PSP block (output `av_similarity`);
- weak: the scores are reweighted per segment (`SegmentScoreWeighting`), the
  video prediction is the softmax of their mean over the segments, trained with
  the binary cross-entropy of that softmax against the video label (as the
  code's `nn.BCELoss`; `probability_binary_crossentropy`).

Choice (the code's two regimes differ in details the paper does not discuss):
the weak model here keeps the supervised trunk (the audio projections, the
bias-free visual projections and the PSP block's output projections), with its
own threshold (0.095).

Segment masks (`segment_mask`, clips shorter than T; PSP's code has none): the
BiLSTMs skip padded segments, the PSP block propagates from real segments only
and gives padded ones no similarity, the weak video scores average the real
segments, the segment probabilities carry the mask (Keras leaves padded
segments out of the cross-entropy and the accuracy), and the AVPS loss reads
the real segments from the labels that `fit_targets` zeroes at padding.
"""

import dataclasses

import keras

from keras_avl.layers import AudioGuidedAttention, PositiveSamplePropagation, SegmentScoreWeighting
from keras_avl.losses import AVPSLoss, probability_binary_crossentropy
from keras_avl.models.compiling import compile_model, compile_video_classifier
from keras_avl.models.inputs import model_inputs, real_segments
from keras_avl.models.optional_inputs import OptionalInputsModel
from keras_avl.models.outputs import float32_output, softmax_output
from keras_avl.models.method_config import MethodConfig


@dataclasses.dataclass
class PSPConfig(MethodConfig):
    """PSP's knobs (defaults: the public code's supervised model).

    Args:
        projection_dim: the audio / visual bottleneck (256 -> `hidden`).
        hidden: the units of the bidirectional LSTMs (128).
        attention_dim: the audio-guided attention's projection (512).
        psp_dim: the PSP block's output size (256).
        threshold: tau of the PSP pruning (0.099 supervised, 0.095 weak).
        psp_dropout: the PSP block's dropout (0.1).
        classifier_hidden: the hidden Dense before the classifier (64).
        avps_weight: lambda, the weight of the AVPS loss (supervised; 100).
        (and the data fields of `MethodConfig`)
    """

    method = "psp"
    positive_ints = ("projection_dim", "hidden", "attention_dim", "psp_dim",
                     "classifier_hidden")
    rates = ("psp_dropout",)

    projection_dim: int = 256
    hidden: int = 128
    attention_dim: int = 512
    psp_dim: int = 256
    threshold: float = 0.099
    psp_dropout: float = 0.1
    classifier_hidden: int = 64
    avps_weight: float = 100.0

    def __post_init__(self):
        super().__post_init__()
        if not 0 <= self.threshold < 1:
            raise ValueError(f"`threshold` must be in [0, 1); received {self.threshold!r}.")
        if not self.avps_weight >= 0:
            raise ValueError(f"`avps_weight` must be >= 0; received {self.avps_weight!r}.")


# The fields whose released weak value differs from the supervised default
# (`weakly_supervised_main.py`); `keras_avl.models.get("psp").config(regime)`.
REGIME_DEFAULTS = {"weak": {"threshold": 0.095}}


def _projections(sizes, name):
    return keras.Sequential(
        [keras.layers.Dense(size, use_bias=False) for size in sizes], name=name
    )


def _segment_scores(config, inputs, mask):
    """The shared trunk: (segment scores (B, T, C), similarities (B, T))."""
    audio = _projections((config.projection_dim, config.hidden), "audio_projection")(
        inputs["audio"])
    regions = keras.layers.Reshape(
        (config.segments, config.regions, config.visual_dim), name="visual_regions"
    )(inputs["visual"])
    attended, _ = AudioGuidedAttention(
        hidden_dim=config.attention_dim, attention_dim=config.regions,
        name="audio_guided_attention",
    )([regions, audio])
    visual = _projections((config.projection_dim, config.hidden), "visual_projection")(attended)
    lstm = lambda name: keras.layers.Bidirectional(
        keras.layers.LSTM(config.hidden, return_sequences=True), name=name)
    fused, similarity = PositiveSamplePropagation(
        output_dim=config.psp_dim, threshold=config.threshold,
        dropout=config.psp_dropout, name="positive_sample_propagation",
    )([lstm("audio_lstm")(audio, mask=mask), lstm("visual_lstm")(visual, mask=mask)],
      mask=mask)
    hidden = keras.layers.Dense(config.classifier_hidden, activation="relu", use_bias=False,
                                name="hidden_dense")(fused)
    scores = keras.layers.Dense(config.num_classes, use_bias=False, name="segment_scores")(hidden)
    return scores, similarity


def build_psp_supervised(config=None, compile=True, optimizer=None):
    """PSP for per-segment labels: outputs `segment_probabilities` (B, T, C)
    and `av_similarity` (B, T), trained on the same segment labels.

    Example:

    >>> config = PSPConfig(num_classes=3, visual_dim=8, projection_dim=8, hidden=4,
    ...                    attention_dim=8, psp_dim=8, classifier_hidden=4)
    >>> model = build_psp_supervised(config)
    >>> sorted(model.output_names)
    ['av_similarity', 'segment_probabilities']
    >>> model.get_layer("segment_probabilities").output.shape
    (None, 10, 3)
    """
    config = config or PSPConfig()
    inputs = model_inputs(config)
    scores, similarity = _segment_scores(config, inputs, real_segments(inputs))
    outputs = {
        "segment_probabilities": softmax_output("segment_probabilities")(scores),
        "av_similarity": float32_output("av_similarity")(similarity),
    }
    model = OptionalInputsModel(inputs, outputs, name="psp_supervised")
    if compile:
        compile_model(
            model, config,
            {"segment_probabilities": "categorical_crossentropy", "av_similarity": AVPSLoss()},
            {"segment_probabilities": ["categorical_accuracy"]}, optimizer,
            loss_weights={"segment_probabilities": 1.0, "av_similarity": config.avps_weight},
        )
    return model


def build_psp_weak(config=None, compile=True, optimizer=None):
    """PSP for video labels: outputs `video_probabilities` (B, C), trained on
    the video labels, and `segment_probabilities` (B, T, C), without loss.

    Example:

    >>> config = PSPConfig(num_classes=3, visual_dim=8, projection_dim=8, hidden=4,
    ...                    attention_dim=8, psp_dim=8, classifier_hidden=4,
    ...                    threshold=0.095)
    >>> build_psp_weak(config).get_layer("video_probabilities").output.shape
    (None, 3)
    """
    config = config or PSPConfig().replace(**REGIME_DEFAULTS["weak"])
    inputs = model_inputs(config)
    mask = real_segments(inputs)
    scores, _ = _segment_scores(config, inputs, mask)
    weighted = SegmentScoreWeighting(name="segment_score_weighting")(scores)
    outputs = {
        "video_probabilities": softmax_output("video_probabilities")(
            keras.layers.GlobalAveragePooling1D(name="video_scores")(weighted, mask=mask)),
        # No loss: the per-segment prediction, an output so that it is built.
        "segment_probabilities": softmax_output("segment_probabilities")(weighted),
    }
    model = OptionalInputsModel(inputs, outputs, name="psp_weak")
    if compile:
        compile_video_classifier(model, config, probability_binary_crossentropy, optimizer)
    return model
