"""CMBS (Xia & Zhao, "Cross-Modal Background Suppression for Audio-Visual Event
Localization", CVPR 2022): its config and its supervised and weak models, as
released in github:marmot-xy/CMBS (`model/main_model.py`: `supv_main_model`,
`weak_main_model`; `configs/main.json`, `configs/weak.json`).

Trunk (both regimes): the regions go through Dense(512) + ReLU + dropout
(`v_fc`) and the audio-guided spatial-channel attention with the code's
self-attention branch (`AudioGuidedSpatialChannelAttention`, beta); each
modality is mapped to d and encoded by `encoder_blocks` self-attention blocks
(`InternalTemporalRelationModule`: the intra-modal keys k^a, k^v), and each
modality's own sequence, mapped to d, queries the other's keys through one
cross-modal block (`CrossModalRelationAttModule`, memory = [keys; query]);
`BackgroundSuppression` gates the two query outputs per segment and gives the
audio-visual gate G; two audio-visual interaction blocks (`AVInter`,
`VAInter`: query v * a, memory [a; v], attention dropout
`interaction_dropout`) mix them, and the fused sequence is their mean.

- supervised (`supv_main_model`): BiLSTMs first encode the audio (d/2 per
  direction) and the attended visual (d per direction); the gates are
  g^a = sigmoid(k^a w), g^v = sigmoid(k^v w), v' = v + alpha g^a v,
  G = g^a g^v; a per-segment event logit (Dense 1) and the video event logits
  (Dense C-1 of the max over time of the fused sequence) plus gamma times the
  class-activation consistency score (`ClassActivationConsistency`, top-4);
  losses: BCE of the event logits and of G against event/background
  (`ForegroundLoss`), CE of the event logits and of the consistency score
  against the video's event (`EventClassLoss`), weights 1;
  `segment_probabilities` is CMBS's decision written as a distribution
  (`EventGatedProbabilities`).
- weak (`weak_main_model`): no BiLSTMs (the encoders read the attended
  regions and the raw audio); each modality is gated by its own keys, as a
  convex mix, v' = (1 - alpha) v + alpha sigmoid(k^v w) v, and
  G = (g^a + g^v) / 2; class activations over the C classes
  CAS = fused W (`cas_classifier`, no bias), rescaled by the two streams'
  sigmoid class activations: CAS * gamma (sigmoid(v' W_v) + sigmoid(a' W_a))
  (`video_cas`, `audio_cas`); the video scores s are its top-4 mean over time
  (`TopKTimeMean`), the per-segment logits G_t * s, the video prediction the
  softmax of their max over time, trained like the code with
  `MultiLabelSoftMarginLoss` on that softmax (a binary cross-entropy that
  reads the probabilities as logits; `multilabel_soft_margin_loss`). Every
  segment's logits are s times G_t > 0, so each segment's prediction is
  argmax s, the code's evaluation (`compute_accuracy_supervised` of
  `weakly_main.py` thresholds sigmoid(G) > 0.5, always true).

The weak model's released values differ from the supervised ones in
`REGIME_DEFAULTS["weak"]` (`weak.json`, `weak_main_model`); a builder called
with `config=None` starts from them. Weights are initialised as PyTorch
initialises the released modules (`keras_avl.layers.torch_init`). The code
trains in float64 (`model.double()`): see `keras_avl.protocols`.

Segment masks (`segment_mask`, clips shorter than T; CMBS's code has none):
the BiLSTMs skip padded segments, no attention block attends to a padded
segment (`CrossModalAttentionBlock` gets the memory's mask; the spatial
self-attention mixes the regions of one segment only), the top-k means and
the max over time run over the real segments, the segment probabilities
carry the mask (Keras leaves padded segments out of the accuracy), and the
foreground and event-class losses read the real segments from the labels
that `fit_targets` zeroes at padding.
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
    TopKTimeMean,
)
from keras_avl.layers.torch_init import torch_dense, torch_lstm
from keras_avl.losses import EventClassLoss, ForegroundLoss, multilabel_soft_margin_loss
from keras_avl.models.compiling import compile_model, compile_video_classifier
from keras_avl.models.inputs import model_inputs, real_segments
from keras_avl.models.optional_inputs import OptionalInputsModel
from keras_avl.models.outputs import float32_output, softmax_output
from keras_avl.models.method_config import MethodConfig

# The fields whose released weak value (`configs/weak.json`, `weak_main_model`)
# differs from the supervised default of `CMBSConfig`.
REGIME_DEFAULTS = {
    "weak": {"alpha": 0.2, "gamma": 0.5, "beta": 0.5, "visual_dropout": 0.1,
             "interaction_heads": 2, "encoder_feedforward_dim": 2048},
}


@dataclasses.dataclass
class CMBSConfig(MethodConfig):
    """CMBS's knobs (defaults: the public code's supervised model, `main.json`;
    the weak model's values: `REGIME_DEFAULTS["weak"]`).

    Args:
        visual_hidden: the Dense applied to every region (512).
        attention_hidden: AGSCA's hidden size (256).
        beta: the weight of AGSCA's self-attention rescaling (0.4; weak 0.5).
        d_model: d, the size of the attention blocks (256).
        num_heads: heads of the encoder / decoder blocks (4).
        encoder_blocks: self-attention blocks of each intra-modal encoder (2).
        encoder_feedforward_dim: the encoder blocks' feed-forward size (1024;
            weak 2048).
        feedforward_dim: the cross-modal (decoder) blocks' feed-forward size (1024).
        interaction_heads: heads of the audio-visual interaction blocks (4; weak 2).
        attention_dropout: dropout of the encoder / decoder blocks and of the
            interaction blocks' residuals (0.1).
        interaction_dropout: dropout of the interaction blocks' attention
            weights (`head_dropout=0.2`).
        visual_dropout: dropout after the region Dense (0.2; weak 0.1).
        alpha: the background suppression's strength (0.1; weak 0.2).
        gamma: the weight of the consistency score in the supervised event
            logits, of the streams' class activations in the weak ones (0.3;
            weak 0.5).
        top_k: segments averaged per class by the top-k means (4).
        (and the data fields of `MethodConfig`)
    """

    method = "cmbs"
    positive_ints = ("visual_hidden", "attention_hidden", "d_model", "num_heads",
                     "encoder_blocks", "encoder_feedforward_dim", "feedforward_dim",
                     "interaction_heads", "top_k")
    rates = ("attention_dropout", "interaction_dropout", "visual_dropout")
    non_negative = ("alpha", "gamma", "beta")

    visual_hidden: int = 512
    attention_hidden: int = 256
    beta: float = 0.4
    d_model: int = 256
    num_heads: int = 4
    encoder_blocks: int = 2
    encoder_feedforward_dim: int = 1024
    feedforward_dim: int = 1024
    interaction_heads: int = 4
    attention_dropout: float = 0.1
    interaction_dropout: float = 0.2
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


def regime_config(regime):
    """The released config of `regime`: `CMBSConfig()` with `REGIME_DEFAULTS`.

    Example:

    >>> regime_config("weak").gamma, regime_config("supervised").gamma
    (0.5, 0.3)
    """
    return CMBSConfig().replace(**REGIME_DEFAULTS.get(regime, {}))


def _time_concat(name):
    return keras.layers.Concatenate(axis=1, name=name)


def _bilstm(units, name):
    """PyTorch's `nn.LSTM(bidirectional=True)`, initialised as PyTorch does."""
    return keras.layers.Bidirectional(torch_lstm(units), name=name)


def _trunk(config, inputs, mask, regime):
    """(fused (B, T, d), audio-visual gate (B, T), suppressed visual, audio)."""
    weak = regime == "weak"
    regions = keras.layers.Reshape(
        (config.segments, config.regions, config.visual_dim), name="visual_regions"
    )(inputs["visual"])
    regions = torch_dense(config.visual_hidden, config.visual_dim, activation="relu",
                          name="visual_fc")(regions)
    regions = keras.layers.Dropout(config.visual_dropout, name="visual_dropout")(regions)
    visual, _ = AudioGuidedSpatialChannelAttention(
        hidden_dim=config.attention_hidden, beta=config.beta, name="audio_guided_attention",
    )([regions, inputs["audio"]])
    audio = inputs["audio"]
    d = config.d_model
    if not weak:
        audio = _bilstm(d // 2, "audio_lstm")(audio, mask=mask)
        visual = _bilstm(d, "visual_lstm")(visual, mask=mask)
    return attend_and_fuse(config, visual, audio, mask, weak)


def attend_and_fuse(config, visual, audio, mask, weak=False):
    """CMBS after its temporal LSTMs (and CACE-Net's, which keeps it): the
    intra-modal encoders, the cross-modal decoders, the background
    suppression and the audio-visual interaction blocks of `config`'s sizes
    on the (B, T, d) `visual` and `audio`. Returns (fused (B, T, d),
    audio-visual gate (B, T), suppressed visual, audio)."""
    d = config.d_model
    # Every memory is a sequence or two sequences of T segments side by side.
    masks = [mask, mask]
    memory_masks = [mask, _time_concat("memory_mask")(masks)]

    def block(name, feedforward, heads=None, attention_dropout=None):
        return CrossModalAttentionBlock(
            num_heads=heads or config.num_heads, feedforward_dim=feedforward,
            dropout=config.attention_dropout, attention_dropout=attention_dropout, name=name)

    def encode(x, modality):
        x = torch_dense(d, x.shape[-1], name=f"{modality}_encoder_input")(x)
        for i in range(config.encoder_blocks):
            x = block(f"{modality}_encoder_{i}", config.encoder_feedforward_dim)(
                [x, x], mask=masks)
        return x

    def query(x, keys, modality):
        x = torch_dense(d, x.shape[-1], name=f"{modality}_decoder_input")(x)
        memory = _time_concat(f"{modality}_decoder_memory")([keys, x])
        return block(f"{modality}_decoder", config.feedforward_dim)(
            [x, memory], mask=memory_masks)

    visual_keys, audio_keys = encode(visual, "visual"), encode(audio, "audio")
    audio_query = query(audio, visual_keys, "audio")
    visual_query = query(visual, audio_keys, "visual")
    visual_query, audio_query, gate = BackgroundSuppression(
        alpha=config.alpha, gate_keys="same" if weak else "other", convex=weak,
        combine="mean" if weak else "product", name="background_suppression",
    )([visual_query, audio_query, visual_keys, audio_keys])

    def interact(x, other, name):
        product = keras.layers.Multiply(name=f"{name}_query")([x, other])
        memory = _time_concat(f"{name}_memory")([other, x])
        return block(name, 0, heads=config.interaction_heads,
                     attention_dropout=config.interaction_dropout)(
            [product, memory], mask=memory_masks)

    visual_mixed = interact(visual_query, audio_query, "av_interaction")
    audio_mixed = interact(audio_query, visual_mixed, "va_interaction")
    fused = keras.layers.Average(name="fused")([visual_mixed, audio_mixed])
    return fused, gate, visual_query, audio_query


def supervised_outputs(config, fused, gate, consistency, event_logits, mask):
    """CMBS's supervised outputs (and CACE-Net's, which keeps them) from the
    trunk's `fused` features and `gate`, the class-activation `consistency`
    and the per-segment `event_logits`: the class logits (the max-pooled fused
    features' classifier plus gamma times the consistency) and the gated
    segment probabilities, each output in float32."""
    class_logits = keras.layers.Add(name="class_logits_sum")([
        torch_dense(config.num_classes - 1, config.d_model, name="class_classifier")(
            MILPooling("max", name="fused_max")(fused, mask=mask)),
        keras.layers.Rescaling(config.gamma, name="consistency_weight")(consistency),
    ])
    return {
        "segment_probabilities": EventGatedProbabilities(
            dtype="float32", name="segment_probabilities")([event_logits, class_logits],
                                                           mask=mask),
        "event_logits": float32_output("event_logits")(event_logits),
        "av_gate": float32_output("av_gate")(gate),
        "class_logits": float32_output("class_logits")(class_logits),
        "consistency_score": float32_output("consistency_score")(consistency),
    }


def build_cmbs_supervised(config=None, compile=True, optimizer=None):
    """CMBS for per-segment labels (`supv_main_model`). Outputs (all trained on
    the segment labels): `segment_probabilities` (B, T, C) (no loss: CMBS's
    decision), `event_logits` (B, T), `av_gate` (B, T), `class_logits` (B, C-1),
    `consistency_score` (B, C-1).

    Example:

    >>> config = CMBSConfig(num_classes=3, visual_dim=8, visual_hidden=8,
    ...                     attention_hidden=4, d_model=8, num_heads=2,
    ...                     interaction_heads=2, feedforward_dim=8,
    ...                     encoder_feedforward_dim=8)
    >>> build_cmbs_supervised(config).get_layer("segment_probabilities").output.shape
    (None, 10, 3)
    """
    config = config or regime_config("supervised")
    inputs = model_inputs(config)
    mask = real_segments(inputs)
    fused, gate, visual, audio = _trunk(config, inputs, mask, "supervised")
    events = config.num_classes - 1
    consistency = ClassActivationConsistency(events, config.top_k,
                                             name="class_activation_consistency")(
        [visual, audio], mask=mask)
    d = config.d_model
    event_logits = keras.layers.Reshape((config.segments,), name="event_logit_per_segment")(
        torch_dense(1, d, name="event_classifier")(fused))
    outputs = supervised_outputs(config, fused, gate, consistency, event_logits, mask)
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
    """CMBS for video labels (`weak_main_model`): outputs `video_probabilities`
    (B, C), trained on the video labels, and `segment_probabilities` (B, T, C),
    without loss.

    Example:

    >>> config = CMBSConfig(num_classes=3, visual_dim=8, visual_hidden=8,
    ...                     attention_hidden=4, d_model=8, num_heads=2,
    ...                     interaction_heads=2, feedforward_dim=8,
    ...                     encoder_feedforward_dim=8, alpha=0.2, gamma=0.5)
    >>> build_cmbs_weak(config).get_layer("video_probabilities").output.shape
    (None, 3)
    """
    config = config or regime_config("weak")
    inputs = model_inputs(config)
    mask = real_segments(inputs)
    fused, gate, visual, audio = _trunk(config, inputs, mask, "weak")
    classes, d = config.num_classes, config.d_model
    streams = keras.layers.Add(name="cas_gate_sum")([
        keras.layers.Activation("sigmoid", name="video_cas_gate")(
            torch_dense(classes, d, name="video_cas")(visual)),
        keras.layers.Activation("sigmoid", name="audio_cas_gate")(
            torch_dense(classes, d, name="audio_cas")(audio)),
    ])
    # gamma g^v CAS + gamma g^a CAS, CAS_Module's bias-free 1x1 Conv1d.
    cas_score = keras.layers.Multiply(name="cas_score")([
        keras.layers.Rescaling(config.gamma, name="cas_gate_weight")(streams),
        torch_dense(classes, d, use_bias=False, name="cas_classifier")(fused),
    ])
    raw_logits = TopKTimeMean(config.top_k, name="raw_logits")(cas_score, mask=mask)
    segment_logits = keras.layers.Multiply(name="gated_segment_logits")([
        keras.layers.Reshape((config.segments, 1), name="gate_per_segment")(gate),
        keras.layers.Reshape((1, classes), name="scores_per_video")(raw_logits),
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
