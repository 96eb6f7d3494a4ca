"""The paper's model (Ramaswamy & Das, "See the Sound, Hear the Pixels", WACV
2020, Fig. 2) in its three regimes, built from a `PaperConfig`
(`keras_avl.models.paper_config`); the rows of its Tables 1-3 are presets of
it (`keras_avl.models.presets`).

The builders only compose layers of `keras_avl.layers` and `keras.layers`:
AVFB (`AVFBLayer`, eqs. 1-7) -> temporal LSTMs (eq. 8) -> SWAB (`SWABLayer`,
eqs. 9-11) -> aggregation (`Aggregation`, eq. 12) -> a shared softmax
classifier (§3.6), MIL pooling for the weak regime (`MILPooling`, §3.6), and
AVTGML over the SWAB outputs for the unsupervised one (`GramTripletLoss`, eqs.
13-16, §3.7).

Every model names the layers whose outputs a user wants to look at: `avfb`
(lambda), `visual_swab` / `audio_swab` (alpha) and `segment_probabilities`;
`inference_model` turns them into one model.

Segment masks (`segment_mask`, clips shorter than T): the LSTMs skip padded
segments, SWAB and MIL pooling leave them out, and the segment probabilities
carry the mask, so that Keras leaves them out of the loss and the accuracy.
"""

import keras

from keras_avl.layers import Aggregation, AVFBLayer, MILPooling, SWABLayer, TripletStack
from keras_avl.losses import GramTripletLoss
from keras_avl.models.classifier import classifier_model
from keras_avl.models.compiling import compile_model
from keras_avl.models.paper_config import PaperConfig
from keras_avl.models.inputs import model_inputs, real_segments
from keras_avl.models.optional_inputs import OptionalInputsModel
from keras_avl.models.outputs import max_pooled_softmax, segment_classifier


def temporal_lstm(config, name):
    """The temporal LSTM of eq. 8 (`config.hidden` units, bidirectional when
    `config.bidirectional`)."""
    lstm = keras.layers.LSTM(config.hidden, return_sequences=True, name=name)
    if config.bidirectional:
        return keras.layers.Bidirectional(lstm, name=f"{name}_bidirectional")
    return lstm


class _Stream:
    """The layers of one modality's stream: LSTM (eq. 8) then SWAB (eqs. 9-11).

    Calling it twice reuses the same weights (the audio stream of the
    unsupervised regime reads the positive and the negative audio).
    """

    def __init__(self, config, modality):
        self.lstm = temporal_lstm(config, f"{modality}_lstm")
        self.swab = (
            SWABLayer(config.swab_units, config.swab_pooling, rescale=config.swab_rescale,
                      name=f"{modality}_swab")
            if config.use_swab
            else None
        )

    def __call__(self, x, mask):
        """Returns (h, s, alpha); s is h and alpha is None without SWAB."""
        h = self.lstm(x, mask=mask)
        if self.swab is None:
            return h, h, None
        s, alpha = self.swab(h, mask=mask)
        return h, s, alpha


def _visual_features(config, visual, audio):
    """The visual stream's input per segment, and lambda when there is one."""
    if config.modalities in ("audio+fused_visual", "fused_visual"):
        fused, attention = AVFBLayer(
            embed_dim=config.embed_dim,
            mfb_factor=config.mfb_factor,
            mfb_output_dim=config.mfb_output_dim,
            mfb_dropout=config.mfb_dropout,
            fusion=config.fusion,
            mf_normalization=config.mf_normalization,
            name="avfb",
        )([visual, audio])
        return fused, attention
    pooled = keras.layers.TimeDistributed(
        keras.layers.GlobalAveragePooling2D(), name="visual_pooling"
    )(visual)
    return pooled, None


def _segment_features(config, inputs, mask):
    """The per-segment representation fed to the classifier (B, T, F)."""
    visual, audio = inputs["visual"], inputs["audio"]
    streams = {}
    if "visual" in config.modalities:
        features, _ = _visual_features(config, visual, audio)
        streams["visual"] = _Stream(config, "visual")(features, mask)
    if config.modalities.startswith("audio"):
        streams["audio"] = _Stream(config, "audio")(audio, mask)
    if len(streams) == 1:
        (h, s, alpha), = streams.values()
        if alpha is None:
            return h
        return keras.layers.Concatenate(name="stream_features")([h, s])
    h_v, s_v, _ = streams["visual"]
    h_a, s_a, _ = streams["audio"]
    if config.use_aggregation:
        return Aggregation(name="aggregation")([h_a, h_v, s_a, s_v])
    return keras.layers.Concatenate(name="stream_features")([s_v, s_a])


def _classifier_features(config, inputs, mask):
    """The segment features through the hidden layers of the head and the
    dropout, ready for the last (softmax) layer."""
    features = _segment_features(config, inputs, mask)
    for index, units in enumerate(config.head_units):
        features = keras.layers.Dense(units, activation="relu", name=f"head_dense_{index}")(
            features
        )
    return keras.layers.Dropout(config.dropout, name="classifier_dropout")(features)


def _segment_probabilities(config, inputs, mask):
    # The features' layers first: a layer draws its initializers' seeds when
    # it is created, so this order keeps the weights of a seed.
    features = _classifier_features(config, inputs, mask)
    return segment_classifier(config.num_classes)(features)


def _video_probabilities(config, inputs, mask):
    if config.weak_pooling == "max-logits":
        # A+V-att's pooling: the softmax of the segment scores max-pooled over time.
        logits = keras.layers.Dense(config.num_classes, dtype="float32", name="segment_logits")(
            _classifier_features(config, inputs, mask)
        )
        return max_pooled_softmax(logits, mask)
    return MILPooling(name="video_probabilities")(
        _segment_probabilities(config, inputs, mask), mask=mask
    )


def _checked(config):
    config = config or PaperConfig()
    if not isinstance(config, PaperConfig):
        raise ValueError(
            "The paper's builders build a PaperConfig; received a "
            f"{type(config).__name__} (build it with keras_avl.models.build_model)."
        )
    return config


def build_paper_supervised(config=None, compile=True, optimizer=None, loss=None):
    """Per-segment event classification (§3.6): outputs (B, T, C) probabilities.

    `optimizer` and `loss` replace Adam and the cross-entropy when compiling
    (a training protocol's, `keras_avl.protocols`).

    Example:

    >>> config = PaperConfig(num_classes=3, visual_dim=8, embed_dim=8,
    ...                    mfb_output_dim=4, hidden=4, swab_units=4)
    >>> build_paper_supervised(config).output_shape
    (None, 10, 3)
    """
    return classifier_model(_checked(config), "paper_supervised", _segment_probabilities,
                            compile, optimizer, loss)


def build_paper_weak(config=None, compile=True, optimizer=None, loss=None):
    """Video-label training through MIL pooling (§3.6): outputs (B, C).

    The per-segment probabilities (B, T, C) stay available as the output of
    the layer `segment_probabilities` (see `inference_model`); with
    `weak_pooling="max-logits"` they are the softmax of the layer
    `segment_logits`. `optimizer` and `loss` as `build_paper_supervised`.

    Example:

    >>> config = PaperConfig(num_classes=3, visual_dim=8, embed_dim=8,
    ...                    mfb_output_dim=4, hidden=4, swab_units=4)
    >>> build_paper_weak(config).output_shape
    (None, 3)
    """
    return classifier_model(_checked(config), "paper_weak", _video_probabilities, compile,
                            optimizer, loss)


def build_paper_unsupervised(config=None, compile=True, optimizer=None):
    """Sound localization without labels, trained with AVTGML (§3.7).

    Inputs `visual`, `audio` (the positive sample) and `audio_negative` (the
    audio of another video). The output stacks (s_v, s_a+, s_a-) as
    (B, 3, T, hidden) for `GramTripletLoss`. The visual stream is the faithful
    reading: s_v comes from AVFB(F_v, F_a+); set `fusion="mfb"` to close the
    shortcut through AVFB's LSTM branch, which feeds audio into s_v directly.
    `optimizer`: Adam at `config.learning_rate` by default.
    """
    config = _checked(config)
    if config.modalities != "audio+fused_visual":
        raise ValueError(
            "The paper's unsupervised model needs both streams "
            "(modalities='audio+fused_visual'); received "
            f"modalities={config.modalities!r}."
        )
    if not config.use_swab:
        raise ValueError(
            "The paper's unsupervised model computes AVTGML on the SWAB outputs; received "
            "use_swab=False."
        )
    inputs = model_inputs(config, negative_audio=True)
    mask = real_segments(inputs)
    # s_v reads the positive audio only (the paper's reading); see
    # docs/reproducing_the_paper.md for what this does to lambda.
    features, _ = _visual_features(config, inputs["visual"], inputs["audio"])
    _, s_v, _ = _Stream(config, "visual")(features, mask)
    audio_stream = _Stream(config, "audio")
    _, s_a_pos, _ = audio_stream(inputs["audio"], mask)
    negative_mask = real_segments(inputs, "_negative")
    _, s_a_neg, _ = audio_stream(inputs["audio_negative"], negative_mask)
    # Padded rows are zeroed: the Gram matrices cover the real segments only.
    triplet = TripletStack(name="gram_triplet_features")(
        [s_v, s_a_pos, s_a_neg], mask=[mask, mask, negative_mask]
    )
    model = OptionalInputsModel(inputs, triplet, name="paper_unsupervised")
    if compile:
        compile_model(model, config, GramTripletLoss(config.margin, config.segment_weight),
                      None, optimizer)
    return model
