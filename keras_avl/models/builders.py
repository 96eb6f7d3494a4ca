"""Functional models of the three regimes (Fig. 2) and of the A+V-att baseline.

The builders only compose layers of `keras_avl.layers` and `keras.layers`:
AVFB (eqs. 1-7) -> temporal LSTMs (eq. 8) -> SWAB (eqs. 9-11) -> aggregation
(eq. 12) -> a shared softmax classifier (§3.6), MIL pooling for the weak regime
(§3.6), and AVTGML over the SWAB outputs for the unsupervised one (§3.7).

Every model names the layers whose outputs a user wants to look at: `avfb` or
`audio_guided_attention` (lambda), `visual_swab` / `audio_swab` (alpha) and
`segment_probabilities`; `inference_model` turns them into one model.

Every model takes the optional input `segment_mask` (B, T), 1 = real segment,
0 = padding at the end of a clip shorter than T (`segment_mask_negative` for
the negative audio of the unsupervised regime); left out, every segment is
real. Padded segments reach no output at a real segment: the LSTMs skip them,
SWAB and MIL pooling leave them out, and the segment probabilities carry the
mask, so that Keras leaves them out of the loss and the accuracy.
"""

import math

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
from keras_avl.models.inputs import model_inputs, real_segments
from keras_avl.models.optional_inputs import OptionalInputsModel
from keras_avl.models.compiling import compile_classifier
from keras_avl.regimes import REGIMES



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


def _paper_segment_features(config, inputs, mask):
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


def _torch_uniform(fan_in):
    """PyTorch's default init of `nn.Linear` biases and of every `nn.LSTM`
    weight: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1.0 / math.sqrt(fan_in)
    return keras.initializers.RandomUniform(-bound, bound)


def _avatt_lstm(config, name):
    """A bidirectional LSTM of A+V-att. The released one is PyTorch's `nn.LSTM`
    with its default init, U(+-1/sqrt(hidden)) for the kernels and the biases;
    PyTorch has two biases (b_ih + b_hh), Keras one, drawn from the same U."""
    if config.architecture == "avatt-keras-avl":
        return _temporal_lstm(config.replace(bidirectional=True), name)
    init = _torch_uniform(config.hidden)
    lstm = keras.layers.LSTM(
        config.hidden, return_sequences=True, kernel_initializer=init,
        recurrent_initializer=init, bias_initializer=init, unit_forget_bias=False,
        name=name,
    )
    return keras.layers.Bidirectional(lstm, name=f"{name}_bidirectional")


def _avatt_segment_features(config, inputs, mask):
    """A+V-att of Tian et al. (ECCV 2018): audio-guided visual attention, two
    bidirectional LSTMs and a hidden Dense layer of 64 units.

    `architecture="avatt"` is the released `att_Net`: the audio term one scalar
    per region, ReLU on the concatenated LSTM outputs before the hidden layer,
    Xavier-uniform weights and PyTorch's default biases. `"avatt-keras-avl"` is
    the earlier reading (audio term per hidden unit, no ReLU there, zero biases).
    """
    official = config.architecture == "avatt"
    regions = keras.layers.Reshape(
        (config.segments, config.regions, config.visual_dim), name="visual_regions"
    )(inputs["visual"])
    attended, _ = AudioGuidedAttention(
        hidden_dim=config.avatt_hidden_dim,
        attention_dim=config.regions,
        audio_term="region" if official else "unit",
        torch_bias_init=official,
        name="audio_guided_attention",
    )([regions, inputs["audio"]])
    h_v = _avatt_lstm(config, "visual_lstm")(attended, mask=mask)
    h_a = _avatt_lstm(config, "audio_lstm")(inputs["audio"], mask=mask)
    joint = keras.layers.Concatenate(name="stream_features")([h_a, h_v])
    if not official:
        return keras.layers.Dense(64, activation="relu", name="hidden_dense")(joint)
    joint = keras.layers.ReLU(name="stream_relu")(joint)
    return keras.layers.Dense(
        64, activation="relu", bias_initializer=_torch_uniform(4 * config.hidden),
        name="hidden_dense",
    )(joint)


def _avatt_segment_logits(config, inputs, mask):
    """The released A+V-att's per-segment scores `L2(...)` (B, T, C), before the
    softmax (its weak model max-pools them over time)."""
    features = _avatt_segment_features(config, inputs, mask)
    features = keras.layers.Dropout(config.dropout, name="classifier_dropout")(features)
    return keras.layers.Dense(
        config.num_classes, bias_initializer=_torch_uniform(64), dtype="float32",
        name="segment_logits",
    )(features)


def _paper_classifier_features(config, inputs, mask):
    """The paper's segment features through the hidden layers of the head and
    the dropout, ready for the last (softmax) layer."""
    features = _paper_segment_features(config, inputs, mask)
    for index, units in enumerate(config.head_units):
        features = keras.layers.Dense(units, activation="relu", name=f"head_dense_{index}")(
            features
        )
    return keras.layers.Dropout(config.dropout, name="classifier_dropout")(features)


def _segment_probabilities(config, inputs, mask):
    if config.architecture == "ezvsl":
        raise ValueError(
            "architecture='ezvsl' is the contrastive baseline: it does not "
            "classify; build it with build_model(config, 'unsupervised')."
        )
    if config.architecture == "avatt":
        # An Activation, not a Softmax layer: the (B, T) segment mask passes
        # through untouched (Softmax would apply it over the classes).
        return keras.layers.Activation(
            "softmax", dtype="float32", name="segment_probabilities"
        )(_avatt_segment_logits(config, inputs, mask))
    if config.architecture == "avatt-keras-avl":
        features = _avatt_segment_features(config, inputs, mask)
        features = keras.layers.Dropout(config.dropout, name="classifier_dropout")(features)
    else:
        features = _paper_classifier_features(config, inputs, mask)
    # float32 softmax also under a mixed-precision policy.
    return keras.layers.Dense(
        config.num_classes,
        activation="softmax",
        dtype="float32",
        name="segment_probabilities",
    )(features)


def build_supervised(config=None, compile=True, optimizer=None, loss=None):
    """Per-segment event classification (§3.6): outputs (B, T, C) probabilities.

    `optimizer` and `loss` replace Adam and the cross-entropy when compiling
    (a training protocol's, `keras_avl.training.protocols`).

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
    probabilities = _segment_probabilities(config, inputs, real_segments(inputs))
    model = OptionalInputsModel(
        inputs, probabilities, name=f"{config.architecture}_supervised"
    )
    if compile:
        compile_classifier(model, config, optimizer, loss)
    return model


def build_weakly_supervised(config=None, compile=True, optimizer=None, loss=None):
    """Video-label training through MIL pooling (§3.6): outputs (B, C).

    The per-segment probabilities (B, T, C) stay available as the output of
    the layer `segment_probabilities` (see `inference_model`). The released
    A+V-att (`architecture="avatt"`) pools differently: the softmax of its
    per-segment scores max-pooled over time (`models_weakly.py`); its segment
    probabilities are the softmax of the layer `segment_logits`. `optimizer`
    and `loss` as `build_supervised`.
    """
    config = config or AVLConfig()
    inputs = model_inputs(config)
    mask = real_segments(inputs)
    if config.architecture == "avatt" or (
        config.architecture == "paper" and config.weak_pooling == "max-logits"
    ):
        # models_weakly.py: MaxPool1d over time of the segment scores (real
        # segments only), then softmax.
        logits = (
            _avatt_segment_logits(config, inputs, mask)
            if config.architecture == "avatt"
            else keras.layers.Dense(config.num_classes, dtype="float32", name="segment_logits")(
                _paper_classifier_features(config, inputs, mask)
            )
        )
        video_logits = MILPooling(pooling="max", name="video_logits")(logits, mask=mask)
        video_probabilities = keras.layers.Activation(
            "softmax", dtype="float32", name="video_probabilities"
        )(video_logits)
    else:
        video_probabilities = MILPooling(name="video_probabilities")(
            _segment_probabilities(config, inputs, mask), mask=mask
        )
    model = OptionalInputsModel(
        inputs, video_probabilities, name=f"{config.architecture}_weak"
    )
    if compile:
        compile_classifier(model, config, optimizer, loss)
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
        model.compile(
            optimizer=keras.optimizers.Adam(config.learning_rate),
            loss=GramTripletLoss(config.margin, config.segment_weight),
        )
    return model


def build_model(config, regime, compile=True, optimizer=None, loss=None):
    """Dispatches to the builder of `regime` (one of `REGIMES`); the
    contrastive baseline (`architecture="ezvsl"`) has the unsupervised one only.
    `optimizer` and `loss` (a training protocol's) compile the classifiers of
    the supervised and weak regimes; the unsupervised models train with their
    own loss and Adam."""
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
    if regime == "unsupervised":
        if optimizer is not None or loss is not None:
            raise ValueError(
                "The unsupervised regime trains with its own loss and Adam; a training "
                "protocol's optimizer or loss applies to the supervised and weak "
                "regimes only."
            )
        return build_unsupervised(config, compile=compile)
    return builders[regime](config, compile=compile, optimizer=optimizer, loss=loss)
