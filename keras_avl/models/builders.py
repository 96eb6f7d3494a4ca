"""Functional models of the three regimes (Fig. 2) and of the A+V-att baseline.

The builders only compose layers of `keras_avl.layers` and `keras.layers`:
AVFB (eqs. 1-7) -> temporal LSTMs (eq. 8) -> SWAB (eqs. 9-11) -> aggregation
(eq. 12) -> a shared softmax classifier (§3.6), MIL pooling for the weak regime
(§3.6), and AVTGML over the SWAB outputs for the unsupervised one (§3.7).

Every model names the layers whose outputs a user wants to look at: `avfb` or
`audio_guided_attention` (lambda), `visual_swab` / `audio_swab` (alpha) and
`segment_probabilities`; `inference_model` turns them into one model.
"""

import keras

from keras_avl.layers import (
    Aggregation,
    AudioGuidedAttention,
    AVFBLayer,
    MILPooling,
    SWABLayer,
    TripletStack,
)
from keras_avl.losses import GramTripletLoss
from keras_avl.models.config import AVLConfig

REGIMES = ("supervised", "weak", "unsupervised")


def model_inputs(config, negative_audio=False):
    """The named `keras.Input`s of a model: `visual`, `audio` (and
    `audio_negative` for the unsupervised regime)."""
    height, width = config.grid
    inputs = {
        "visual": keras.Input(
            (config.segments, height, width, config.visual_dim), name="visual"
        ),
        "audio": keras.Input((config.segments, config.audio_dim), name="audio"),
    }
    if negative_audio:
        inputs["audio_negative"] = keras.Input(
            (config.segments, config.audio_dim), name="audio_negative"
        )
    return inputs


def _temporal_lstm(config, name):
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
        self.lstm = _temporal_lstm(config, f"{modality}_lstm")
        self.swab = (
            SWABLayer(config.swab_units, config.swab_pooling, name=f"{modality}_swab")
            if config.use_swab
            else None
        )

    def __call__(self, x):
        """Returns (h, s, alpha); s is h and alpha is None without SWAB."""
        h = self.lstm(x)
        if self.swab is None:
            return h, h, None
        s, alpha = self.swab(h)
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
            name="avfb",
        )([visual, audio])
        return fused, attention
    pooled = keras.layers.TimeDistributed(
        keras.layers.GlobalAveragePooling2D(), name="visual_pooling"
    )(visual)
    return pooled, None


def _paper_segment_features(config, inputs):
    """The per-segment representation fed to the classifier (B, T, F)."""
    visual, audio = inputs["visual"], inputs["audio"]
    streams = {}
    if "visual" in config.modalities:
        features, _ = _visual_features(config, visual, audio)
        streams["visual"] = _Stream(config, "visual")(features)
    if config.modalities.startswith("audio"):
        streams["audio"] = _Stream(config, "audio")(audio)
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


def _avatt_segment_features(config, inputs):
    """A+V-att of Tian et al. (ECCV 2018): audio-guided visual attention, two
    bidirectional LSTMs and a hidden Dense layer."""
    regions = keras.layers.Reshape(
        (config.segments, config.regions, config.visual_dim), name="visual_regions"
    )(inputs["visual"])
    attended, _ = AudioGuidedAttention(
        hidden_dim=config.avatt_hidden_dim,
        attention_dim=config.regions,
        name="audio_guided_attention",
    )([regions, inputs["audio"]])
    bidirectional = config.replace(bidirectional=True)
    h_v = _temporal_lstm(bidirectional, "visual_lstm")(attended)
    h_a = _temporal_lstm(bidirectional, "audio_lstm")(inputs["audio"])
    joint = keras.layers.Concatenate(name="stream_features")([h_a, h_v])
    return keras.layers.Dense(64, activation="relu", name="hidden_dense")(joint)


def _segment_probabilities(config, inputs):
    if config.architecture == "ezvsl":
        raise ValueError(
            "architecture='ezvsl' is the contrastive baseline: it does not "
            "classify; build it with build_model(config, 'unsupervised')."
        )
    if config.architecture == "avatt":
        features = _avatt_segment_features(config, inputs)
    else:
        features = _paper_segment_features(config, inputs)
    features = keras.layers.Dropout(config.dropout, name="classifier_dropout")(features)
    # float32 softmax also under a mixed-precision policy.
    return keras.layers.Dense(
        config.num_classes,
        activation="softmax",
        dtype="float32",
        name="segment_probabilities",
    )(features)


def _compile_classifier(model, config):
    """Adam and cross-entropy on one-hot labels, as AVE trains (§3.6)."""
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss="categorical_crossentropy",
        metrics=["categorical_accuracy"],
    )


def build_supervised(config=None, compile=True):
    """Per-segment event classification (§3.6): outputs (B, T, C) probabilities.

    Example:

    >>> from keras_avl.models import AVLConfig
    >>> config = AVLConfig(num_classes=3, visual_dim=8, embed_dim=8,
    ...                    mfb_output_dim=4, hidden=4, swab_units=4)
    >>> model = build_supervised(config)
    >>> model.output_shape
    (None, 10, 3)
    """
    config = config or AVLConfig()
    inputs = model_inputs(config)
    probabilities = _segment_probabilities(config, inputs)
    model = keras.Model(inputs, probabilities, name=f"{config.architecture}_supervised")
    if compile:
        _compile_classifier(model, config)
    return model


def build_weakly_supervised(config=None, compile=True):
    """Video-label training through MIL pooling (§3.6): outputs (B, C).

    The per-segment probabilities (B, T, C) stay available as the output of
    the layer `segment_probabilities` (see `inference_model`).
    """
    config = config or AVLConfig()
    inputs = model_inputs(config)
    video_probabilities = MILPooling(name="video_probabilities")(
        _segment_probabilities(config, inputs)
    )
    model = keras.Model(inputs, video_probabilities, name=f"{config.architecture}_weak")
    if compile:
        _compile_classifier(model, config)
    return model


def build_unsupervised(config=None, compile=True):
    """Sound localization without labels, trained with AVTGML (§3.7).

    Inputs `visual`, `audio` (the positive sample) and `audio_negative` (the
    audio of another video). The output stacks (s_v, s_a+, s_a-) as
    (B, 3, T, hidden) for `GramTripletLoss`. The visual stream is the faithful
    reading: s_v comes from AVFB(F_v, F_a+); set `fusion="mfb"` to close the
    shortcut through AVFB's LSTM branch, which feeds audio into s_v directly.
    """
    config = config or AVLConfig()
    if config.architecture != "paper" or config.modalities != "audio+fused_visual":
        raise ValueError(
            "build_unsupervised needs the paper's architecture with both streams "
            "(architecture='paper', modalities='audio+fused_visual'); received "
            f"architecture={config.architecture!r}, modalities={config.modalities!r}."
        )
    if not config.use_swab:
        raise ValueError(
            "build_unsupervised computes AVTGML on the SWAB outputs; received "
            "use_swab=False."
        )
    inputs = model_inputs(config, negative_audio=True)
    # s_v reads the positive audio only (the paper's reading); see
    # docs/reproducing_the_paper.md for what this does to lambda.
    features, _ = _visual_features(config, inputs["visual"], inputs["audio"])
    _, s_v, _ = _Stream(config, "visual")(features)
    audio_stream = _Stream(config, "audio")
    _, s_a_pos, _ = audio_stream(inputs["audio"])
    _, s_a_neg, _ = audio_stream(inputs["audio_negative"])
    triplet = TripletStack(name="gram_triplet_features")([s_v, s_a_pos, s_a_neg])
    model = keras.Model(inputs, triplet, name="paper_unsupervised")
    if compile:
        model.compile(
            optimizer=keras.optimizers.Adam(config.learning_rate),
            loss=GramTripletLoss(config.margin, config.segment_weight),
        )
    return model


def build_model(config, regime, compile=True):
    """Dispatches to the builder of `regime` (one of `REGIMES`); the
    contrastive baseline (`architecture="ezvsl"`) has the unsupervised one only."""
    if config.architecture == "ezvsl":
        if regime != "unsupervised":
            raise ValueError(
                "The contrastive baseline (architecture='ezvsl') trains without "
                f"labels: expected regime='unsupervised'; received regime={regime!r}."
            )
        # Imported here: keras_avl.models.contrastive imports this module.
        from keras_avl.models.contrastive import build_contrastive

        return build_contrastive(config, compile=compile)
    builders = {
        "supervised": build_supervised,
        "weak": build_weakly_supervised,
        "unsupervised": build_unsupervised,
    }
    if regime not in builders:
        raise ValueError(f"`regime` must be one of {REGIMES}; received regime={regime!r}.")
    return builders[regime](config, compile=compile)
