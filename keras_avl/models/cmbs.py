"""CMBS (Xia & Zhao, "Cross-Modal Background Suppression for Audio-Visual Event
Localization", CVPR 2022): its config and its supervised and weak models,
following the paper and github:marmot-xy/CMBS (`model/main_model.py`).

Trunk (both regimes): the regions go through Dense(512) + ReLU + dropout and
the audio-guided spatial-channel attention (`AudioGuidedSpatialChannelAttention`);
BiLSTMs encode the audio (d/2 per direction) and the attended visual (d per
direction); each modality is mapped to d and encoded by `encoder_blocks`
self-attention blocks (the intra-modal keys k^a, k^v), and each modality's own
sequence, mapped to d, queries the other's keys through one cross-modal block
(memory = [keys; query]); `BackgroundSuppression` gates the two query outputs
per segment (time level) and gives the audio-visual gate G; two
audio-visual interaction blocks (query v * a, memory [a; v]) mix them, and the
fused sequence is their mean.

- supervised (as the code): a per-segment event logit (Dense 1) and the video
  event logits (Dense C-1 of the max over time of the fused sequence) plus
  gamma times the class-activation consistency score
  (`ClassActivationConsistency`, top-4); losses: BCE of the event logits and of
  G against event/background (`ForegroundLoss`), CE of the event logits and of
  the consistency score against the video's event (`EventClassLoss`), weights 1;
  `segment_probabilities` is CMBS's decision written as a distribution
  (`EventGatedProbabilities`).
- weak: per-segment logits G_t * s, with s the class-activation consistency
  score over the C classes; the video prediction is the softmax of their max
  over time, trained like the code with `MultiLabelSoftMarginLoss` on that
  softmax (a binary cross-entropy that reads the probabilities as logits;
  `multilabel_soft_margin_loss`).

Choices where this differs from the released code (see also the layers):
AGSCA without the code's extra self-attention branch; the weak model keeps the
supervised trunk (the code's weak model has no BiLSTMs, swaps which gate
scales which modality and averages the gates) and takes its class scores from
the consistency layer instead of a gated fused CAS.

Segment masks (`segment_mask`, clips shorter than T; CMBS's code has none):
the BiLSTMs skip padded segments, no attention block attends to a padded
segment (`CrossModalAttentionBlock` gets the memory's mask), the
class-activation consistency and the max over time run over the real
segments, the segment probabilities carry the mask (Keras leaves padded
segments out of the accuracy), and the foreground and event-class losses read
the real segments from the labels that `fit_targets` zeroes at padding.
"""

import dataclasses

import keras

from keras_avl.layers import (
    AudioGuidedSpatialChannelAttention,
    BackgroundSuppression,
    ClassActivationConsistency,
    CrossModalAttentionBlock,
    EventGatedProbabilities,
    MILPooling,
)
from keras_avl.losses import EventClassLoss, ForegroundLoss, multilabel_soft_margin_loss
from keras_avl.models.compiling import compile_model, compile_video_classifier
from keras_avl.models.inputs import model_inputs, real_segments
from keras_avl.models.optional_inputs import OptionalInputsModel
from keras_avl.models.outputs import float32_output, softmax_output
from keras_avl.models.method_config import MethodConfig


@dataclasses.dataclass
class CMBSConfig(MethodConfig):
    """CMBS's knobs (defaults: the public code's supervised model, `main.json`).

    Args:
        visual_hidden: the Dense applied to every region (512).
        attention_hidden: AGSCA's hidden size (256).
        d_model: d, the size of the attention blocks (256).
        num_heads: heads of the encoder / decoder blocks (4).
        encoder_blocks: self-attention blocks of each intra-modal encoder (2).
        feedforward_dim: the blocks' feed-forward size (1024).
        interaction_heads: heads of the audio-visual interaction blocks (4).
        attention_dropout: dropout of the blocks (0.1).
        visual_dropout: dropout after the region Dense (0.2).
        alpha: the background suppression's strength (0.1 supervised, 0.2 weak).
        gamma: the weight of the consistency score in the event logits (0.3).
        top_k: segments averaged per class by the consistency score (4).
        (and the data fields of `MethodConfig`)
    """

    method = "cmbs"
    positive_ints = ("visual_hidden", "attention_hidden", "d_model", "num_heads",
                     "encoder_blocks", "feedforward_dim", "interaction_heads", "top_k")
    rates = ("attention_dropout", "visual_dropout")

    visual_hidden: int = 512
    attention_hidden: int = 256
    d_model: int = 256
    num_heads: int = 4
    encoder_blocks: int = 2
    feedforward_dim: int = 1024
    interaction_heads: int = 4
    attention_dropout: float = 0.1
    visual_dropout: float = 0.2
    alpha: float = 0.1
    gamma: float = 0.3
    top_k: int = 4

    def __post_init__(self):
        super().__post_init__()
        if self.d_model % 2 or self.d_model % self.num_heads \
                or self.d_model % self.interaction_heads:
            raise ValueError(
                "`d_model` must be even and divisible by `num_heads` and "
                f"`interaction_heads`; received d_model={self.d_model}, "
                f"num_heads={self.num_heads}, interaction_heads={self.interaction_heads}."
            )
        if self.top_k > self.segments:
            raise ValueError(
                f"`top_k` must be at most `segments` ({self.segments}); "
                f"received top_k={self.top_k}."
            )
        for name in ("alpha", "gamma"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"`{name}` must be >= 0; received {getattr(self, name)!r}.")


# The fields whose released weak value differs from the supervised default
# (`configs/weak.json`); `keras_avl.models.get("cmbs").config(regime)`.
REGIME_DEFAULTS = {"weak": {"alpha": 0.2, "gamma": 0.5}}


def _block(config, name, heads=None, feedforward=True):
    return CrossModalAttentionBlock(
        num_heads=heads or config.num_heads,
        feedforward_dim=config.feedforward_dim if feedforward else 0,
        dropout=config.attention_dropout, name=name)


def _time_concat(name):
    return keras.layers.Concatenate(axis=1, name=name)


def _trunk(config, inputs, mask):
    """(fused (B, T, d), audio-visual gate (B, T), suppressed visual, audio)."""
    regions = keras.layers.Reshape(
        (config.segments, config.regions, config.visual_dim), name="visual_regions"
    )(inputs["visual"])
    regions = keras.layers.Dense(config.visual_hidden, activation="relu", name="visual_fc")(regions)
    regions = keras.layers.Dropout(config.visual_dropout, name="visual_dropout")(regions)
    attended, _ = AudioGuidedSpatialChannelAttention(
        hidden_dim=config.attention_hidden, name="audio_guided_attention",
    )([regions, inputs["audio"]])
    d = config.d_model
    lstm = lambda units, name: keras.layers.Bidirectional(
        keras.layers.LSTM(units, return_sequences=True), name=name)
    audio = lstm(d // 2, "audio_lstm")(inputs["audio"], mask=mask)
    visual = lstm(d, "visual_lstm")(attended, mask=mask)
    # Every memory is a sequence or two sequences of T segments side by side.
    masks = [mask, mask]
    memory_masks = [mask, _time_concat("memory_mask")(masks)]

    def encode(x, modality):
        x = keras.layers.Dense(d, name=f"{modality}_encoder_input")(x)
        for i in range(config.encoder_blocks):
            x = _block(config, f"{modality}_encoder_{i}")([x, x], mask=masks)
        return x

    def query(x, keys, modality):
        x = keras.layers.Dense(d, name=f"{modality}_decoder_input")(x)
        memory = _time_concat(f"{modality}_decoder_memory")([keys, x])
        return _block(config, f"{modality}_decoder")([x, memory], mask=memory_masks)

    visual_keys, audio_keys = encode(visual, "visual"), encode(audio, "audio")
    audio_query = query(audio, visual_keys, "audio")
    visual_query = query(visual, audio_keys, "visual")
    visual_query, audio_query, gate = BackgroundSuppression(
        alpha=config.alpha, name="background_suppression",
    )([visual_query, audio_query, visual_keys, audio_keys])

    def interact(x, other, name):
        product = keras.layers.Multiply(name=f"{name}_query")([x, other])
        memory = _time_concat(f"{name}_memory")([other, x])
        return _block(config, name, heads=config.interaction_heads,
                      feedforward=False)([product, memory], mask=memory_masks)

    visual_mixed = interact(visual_query, audio_query, "av_interaction")
    audio_mixed = interact(audio_query, visual_mixed, "va_interaction")
    fused = keras.layers.Average(name="fused")([visual_mixed, audio_mixed])
    return fused, gate, visual_query, audio_query


def build_cmbs_supervised(config=None, compile=True, optimizer=None):
    """CMBS for per-segment labels. Outputs (all trained on the segment labels):
    `segment_probabilities` (B, T, C) (no loss: CMBS's decision), `event_logits`
    (B, T), `av_gate` (B, T), `class_logits` (B, C-1), `consistency_score` (B, C-1).

    Example:

    >>> config = CMBSConfig(num_classes=3, visual_dim=8, visual_hidden=8,
    ...                     attention_hidden=4, d_model=8, num_heads=2,
    ...                     interaction_heads=2, feedforward_dim=8)
    >>> build_cmbs_supervised(config).get_layer("segment_probabilities").output.shape
    (None, 10, 3)
    """
    config = config or CMBSConfig()
    inputs = model_inputs(config)
    mask = real_segments(inputs)
    fused, gate, visual, audio = _trunk(config, inputs, mask)
    events = config.num_classes - 1
    consistency = ClassActivationConsistency(events, config.top_k,
                                             name="class_activation_consistency")(
        [visual, audio], mask=mask)
    event_logits = keras.layers.Reshape((config.segments,), name="event_logit_per_segment")(
        keras.layers.Dense(1, name="event_classifier")(fused))
    class_logits = keras.layers.Add(name="class_logits_sum")([
        keras.layers.Dense(events, name="class_classifier")(
            MILPooling("max", name="fused_max")(fused, mask=mask)),
        keras.layers.Rescaling(config.gamma, name="consistency_weight")(consistency),
    ])
    outputs = {
        "segment_probabilities": EventGatedProbabilities(
            dtype="float32", name="segment_probabilities")([event_logits, class_logits],
                                                           mask=mask),
        "event_logits": float32_output("event_logits")(event_logits),
        "av_gate": float32_output("av_gate")(gate),
        "class_logits": float32_output("class_logits")(class_logits),
        "consistency_score": float32_output("consistency_score")(consistency),
    }
    model = OptionalInputsModel(inputs, outputs, name="cmbs_supervised")
    if compile:
        compile_model(
            model, config,
            {"event_logits": ForegroundLoss(), "av_gate": ForegroundLoss(),
             "class_logits": EventClassLoss(), "consistency_score": EventClassLoss()},
            {"segment_probabilities": ["categorical_accuracy"]}, optimizer,
        )
    return model


def build_cmbs_weak(config=None, compile=True, optimizer=None):
    """CMBS for video labels: outputs `video_probabilities` (B, C), trained on
    the video labels, and `segment_probabilities` (B, T, C), without loss.

    Example:

    >>> config = CMBSConfig(num_classes=3, visual_dim=8, visual_hidden=8,
    ...                     attention_hidden=4, d_model=8, num_heads=2,
    ...                     interaction_heads=2, feedforward_dim=8, alpha=0.2)
    >>> build_cmbs_weak(config).get_layer("video_probabilities").output.shape
    (None, 3)
    """
    config = config or CMBSConfig().replace(**REGIME_DEFAULTS["weak"])
    inputs = model_inputs(config)
    mask = real_segments(inputs)
    _, gate, visual, audio = _trunk(config, inputs, mask)
    classes = config.num_classes
    scores = ClassActivationConsistency(classes, config.top_k,
                                        name="class_activation_consistency")(
        [visual, audio], mask=mask)
    segment_logits = keras.layers.Multiply(name="gated_segment_logits")([
        keras.layers.Reshape((config.segments, 1), name="gate_per_segment")(gate),
        keras.layers.Reshape((1, classes), name="scores_per_video")(scores),
    ])
    outputs = {
        "video_probabilities": softmax_output("video_probabilities")(
            MILPooling("max", name="video_logits")(segment_logits, mask=mask)),
        "segment_probabilities": softmax_output("segment_probabilities")(segment_logits),
    }
    model = OptionalInputsModel(inputs, outputs, name="cmbs_weak")
    if compile:
        compile_video_classifier(model, config, multilabel_soft_margin_loss, optimizer)
    return model
