"""A+V-att, the audio-guided visual attention baseline of the AVE benchmark
(Tian et al., "Audio-Visual Event Localization in Unconstrained Videos", ECCV
2018, Sec. 4 and eq. 1-2 of its attention), in the supervised and weak
regimes: the audio-guided visual attention (`AudioGuidedAttention`), two
bidirectional LSTMs, a hidden Dense layer of 64 units and a softmax classifier.

`architecture="avatt"` is the released `att_Net` / weak model
(github:YapengTian/AVE-ECCV18 `models.py`, `models_weakly.py`): the audio term
one scalar per region, ReLU on the concatenated LSTM outputs before the hidden
layer, Xavier-uniform weights and PyTorch's default biases, no dropout (the
variant `avatt`), and for the weak regime the softmax of the segment scores
max-pooled over time. It trains with its own protocol
(`keras_avl.protocols`: `ave-eccv18-<regime>`, the default of the
variant `avatt`). `"avatt-keras-avl"` is keras-avl's earlier reading (audio
term per hidden unit, no ReLU there, zero biases, dropout + the shared softmax
classifier, MIL averaging of the probabilities for the weak regime).

Segment masks (`segment_mask`, clips shorter than T): the LSTMs skip padded
segments, the weak pooling leaves them out, and the segment probabilities
carry the mask.
"""

import keras

from keras_avl.layers import AudioGuidedAttention, MILPooling
from keras_avl.models.classifier import classifier_model
from keras_avl.models.config import AVLConfig
from keras_avl.models.outputs import max_pooled_softmax, segment_classifier, softmax_output
from keras_avl.models.paper import temporal_lstm
from keras_avl.layers.torch_init import torch_lstm, torch_uniform

ARCHITECTURES = ("avatt", "avatt-keras-avl")


def _lstm(config, name):
    """A bidirectional LSTM of A+V-att. The released one is PyTorch's `nn.LSTM`
    with its default init, U(+-1/sqrt(hidden)) for the kernels and the biases;
    PyTorch has two biases (b_ih + b_hh), Keras one, drawn from the same U."""
    if config.architecture == "avatt-keras-avl":
        return temporal_lstm(config.replace(bidirectional=True), name)
    return keras.layers.Bidirectional(torch_lstm(config.hidden, name),
                                      name=f"{name}_bidirectional")


def _segment_features(config, inputs, mask):
    """Attention, the two BiLSTMs and the hidden Dense layer (B, T, 64)."""
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
    h_v = _lstm(config, "visual_lstm")(attended, mask=mask)
    h_a = _lstm(config, "audio_lstm")(inputs["audio"], mask=mask)
    joint = keras.layers.Concatenate(name="stream_features")([h_a, h_v])
    if not official:
        return keras.layers.Dense(64, activation="relu", name="hidden_dense")(joint)
    joint = keras.layers.ReLU(name="stream_relu")(joint)
    return keras.layers.Dense(
        64, activation="relu", bias_initializer=torch_uniform(4 * config.hidden),
        name="hidden_dense",
    )(joint)


def _classifier_features(config, inputs, mask):
    features = _segment_features(config, inputs, mask)
    return keras.layers.Dropout(config.dropout, name="classifier_dropout")(features)


def _segment_logits(config, inputs, mask):
    """The released A+V-att's per-segment scores `L2(...)` (B, T, C), before the
    softmax (its weak model max-pools them over time)."""
    # The features' layers first: a layer draws its initializers' seeds when
    # it is created, so this order keeps the weights of a seed.
    features = _classifier_features(config, inputs, mask)
    return keras.layers.Dense(
        config.num_classes, bias_initializer=torch_uniform(64), dtype="float32",
        name="segment_logits",
    )(features)


def _segment_probabilities(config, inputs, mask):
    if config.architecture == "avatt":
        return softmax_output("segment_probabilities")(_segment_logits(config, inputs, mask))
    features = _classifier_features(config, inputs, mask)
    return segment_classifier(config.num_classes)(features)


def _video_probabilities(config, inputs, mask):
    if config.architecture == "avatt":
        # models_weakly.py: MaxPool1d over time of the segment scores (real
        # segments only), then softmax.
        return max_pooled_softmax(_segment_logits(config, inputs, mask), mask)
    return MILPooling(name="video_probabilities")(
        _segment_probabilities(config, inputs, mask), mask=mask
    )


def _checked(config):
    config = config or AVLConfig(architecture="avatt", dropout=0.0)
    if config.architecture not in ARCHITECTURES:
        raise ValueError(
            f"A+V-att's builders build architecture in {ARCHITECTURES}; received "
            f"architecture={config.architecture!r} (build it with build_model)."
        )
    return config


def build_avatt_supervised(config=None, compile=True, optimizer=None, loss=None):
    """A+V-att for per-segment labels: outputs (B, T, C) probabilities.
    `optimizer` and `loss` replace Adam and the cross-entropy when compiling
    (a training protocol's, e.g. `ave-eccv18-supervised`).

    Example:

    >>> config = AVLConfig(architecture="avatt", dropout=0.0, num_classes=3,
    ...                    visual_dim=8, hidden=4, avatt_hidden_dim=8)
    >>> build_avatt_supervised(config).output_shape
    (None, 10, 3)
    """
    return classifier_model(_checked(config), "supervised", _segment_probabilities,
                            compile, optimizer, loss)


def build_avatt_weak(config=None, compile=True, optimizer=None, loss=None):
    """A+V-att for video labels: outputs (B, C); its segment probabilities are
    the output of the layer `segment_probabilities` (`"avatt-keras-avl"`) or
    the softmax of the layer `segment_logits` (`"avatt"`).

    Example:

    >>> config = AVLConfig(architecture="avatt", dropout=0.0, num_classes=3,
    ...                    visual_dim=8, hidden=4, avatt_hidden_dim=8)
    >>> build_avatt_weak(config).output_shape
    (None, 3)
    """
    return classifier_model(_checked(config), "weak", _video_probabilities, compile,
                            optimizer, loss)
