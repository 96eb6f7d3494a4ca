"""A+V-att, the audio-guided visual attention baseline of the AVE benchmark
(Tian et al., "Audio-Visual Event Localization in Unconstrained Videos", ECCV
2018, Sec. 4 and eq. 1-2 of its attention), in the supervised and weak
regimes: the audio-guided visual attention (`AudioGuidedAttention`), two
bidirectional LSTMs, a hidden Dense layer of 64 units and a softmax classifier.

Its config is `AVAttConfig`. `reading="released"` (the default) is the
released `att_Net` / weak model
(github:YapengTian/AVE-ECCV18 `models.py`, `models_weakly.py`): the audio term
one scalar per region, ReLU on the concatenated LSTM outputs before the hidden
layer, Xavier-uniform weights and PyTorch's default biases, no dropout, and for the
weak regime the softmax of the segment scores max-pooled over time. It trains
with its own protocol (`keras_avl.protocols`: `ave-eccv18-<regime>`, the
recipe of the preset `avatt`; the preset `avatt-adam` trains the same model
with the common recipe). `reading="keras-avl"` (the preset `avatt-keras-avl`)
is keras-avl's earlier reading (audio term per hidden unit, no ReLU there,
zero biases, dropout + the shared softmax classifier, MIL averaging of the
probabilities for the weak regime).

Segment masks (`segment_mask`, clips shorter than T): the LSTMs skip padded
segments, the weak pooling leaves them out, and the segment probabilities
carry the mask.
"""

import dataclasses

import keras

from keras_avl.layers import AudioGuidedAttention, MILPooling
from keras_avl.layers.torch_init import torch_lstm, torch_uniform
from keras_avl.models.classifier import classifier_model
from keras_avl.models.method_config import MethodConfig
from keras_avl.models.outputs import max_pooled_softmax, segment_classifier, softmax_output
from keras_avl.validation import check_choice

# The released model (AVE-ECCV18's code) and keras-avl's earlier reading.
READINGS = ("released", "keras-avl")


@dataclasses.dataclass
class AVAttConfig(MethodConfig):
    """A+V-att's knobs (defaults: the released model).

    Args:
        hidden: units of each direction of the two bidirectional LSTMs.
        avatt_hidden_dim: the attention's projection size (512 in AVE's code).
        dropout: dropout before the classifier (the released model has none;
            keras-avl's earlier reading had 0.2).
        reading: `"released"` (AVE-ECCV18's `models.py` / `models_weakly.py`)
            or `"keras-avl"` (keras-avl's earlier reading; see the module).
        (and the data fields and `learning_rate` of `MethodConfig`)

    Example:

    >>> config = AVAttConfig(num_classes=3, visual_dim=8, hidden=4, avatt_hidden_dim=8)
    >>> config.method, config.dropout, config.reading
    ('avatt', 0.0, 'released')
    >>> build_avatt_supervised(config).name
    'avatt_supervised'
    """

    method = "avatt"
    positive_ints = ("hidden", "avatt_hidden_dim")
    rates = ("dropout",)

    hidden: int = 128
    avatt_hidden_dim: int = 512
    dropout: float = 0.0
    reading: str = "released"

    def __post_init__(self):
        super().__post_init__()
        check_choice("reading", self.reading, READINGS)

    @property
    def model_name(self):
        """The prefix of its models' names: `avatt`, or `avatt-keras-avl` for
        the earlier reading."""
        return "avatt" if self.reading == "released" else "avatt-keras-avl"


def _lstm(config, name):
    """A bidirectional LSTM of A+V-att. The released one is PyTorch's `nn.LSTM`
    with its default init, U(+-1/sqrt(hidden)) for the kernels and the biases;
    PyTorch has two biases (b_ih + b_hh), Keras one, drawn from the same U."""
    if config.reading == "keras-avl":
        lstm = keras.layers.LSTM(config.hidden, return_sequences=True, name=name)
        return keras.layers.Bidirectional(lstm, name=f"{name}_bidirectional")
    return keras.layers.Bidirectional(torch_lstm(config.hidden, name),
                                      name=f"{name}_bidirectional")


def _segment_features(config, inputs, mask):
    """Attention, the two BiLSTMs and the hidden Dense layer (B, T, 64)."""
    official = config.reading == "released"
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
    if config.reading == "released":
        return softmax_output("segment_probabilities")(_segment_logits(config, inputs, mask))
    features = _classifier_features(config, inputs, mask)
    return segment_classifier(config.num_classes)(features)


def _video_probabilities(config, inputs, mask):
    if config.reading == "released":
        # models_weakly.py: MaxPool1d over time of the segment scores (real
        # segments only), then softmax.
        return max_pooled_softmax(_segment_logits(config, inputs, mask), mask)
    return MILPooling(name="video_probabilities")(
        _segment_probabilities(config, inputs, mask), mask=mask
    )


def _checked(config):
    config = config or AVAttConfig()
    if not isinstance(config, AVAttConfig):
        raise ValueError(
            f"A+V-att's builders build an AVAttConfig; received a "
            f"{type(config).__name__} (build it with keras_avl.models.build_model)."
        )
    return config


def build_avatt_supervised(config=None, compile=True, optimizer=None, loss=None):
    """A+V-att for per-segment labels: outputs (B, T, C) probabilities.
    `optimizer` and `loss` replace Adam and the cross-entropy when compiling
    (a training protocol's, e.g. `ave-eccv18-supervised`).

    Example:

    >>> config = AVAttConfig(num_classes=3, visual_dim=8, hidden=4, avatt_hidden_dim=8)
    >>> build_avatt_supervised(config).output_shape
    (None, 10, 3)
    """
    config = _checked(config)
    return classifier_model(config, f"{config.model_name}_supervised",
                            _segment_probabilities, compile, optimizer, loss)


def build_avatt_weak(config=None, compile=True, optimizer=None, loss=None):
    """A+V-att for video labels: outputs (B, C); its segment probabilities are
    the output of the layer `segment_probabilities` (`reading="keras-avl"`) or
    the softmax of the layer `segment_logits` (`reading="released"`).

    Example:

    >>> config = AVAttConfig(num_classes=3, visual_dim=8, hidden=4, avatt_hidden_dim=8)
    >>> build_avatt_weak(config).output_shape
    (None, 3)
    """
    config = _checked(config)
    return classifier_model(config, f"{config.model_name}_weak", _video_probabilities,
                            compile, optimizer, loss)
