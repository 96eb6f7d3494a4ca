"""PSP (Zhou et al., "Positive Sample Propagation along the Audio-Visual Event
Line", CVPR 2021): its config and its supervised and weak models, as the public
code has them (github:jasongief/PSP_CVPR_2021: `fully_model.py`,
`weakly_model.py`, `fully_supervised_main.py`, `weakly_supervised_main.py`,
`dataloader.py`). Keras layer names follow the code's module names.

Supervised (`fully_model.py::psp_net`):

- `fa`: the audio through two bias-free Linear layers (128 -> 256 -> 128);
- `audio_guided_attention` (the code's `AVGA`, `AudioGuidedAttention`, hidden
  512): `affine_v(v_t) + affine_g(a_t).unsqueeze(2)`, one audio scalar per
  region (`audio_term="region"`), the softmax over the regions pools the raw
  regions;
- `fv`: two bias-free Linear layers on the attended visual (512 -> 256 -> 128);
- `lstm_audio`, `lstm_video`: bidirectional LSTMs (128);
- `psp`: the PSP block (`PositiveSamplePropagation`, `variant="fully"`, 256),
  tau = 0.099, and the cosine similarity of its two outputs (`AVSimilarity`,
  output `av_similarity`);
- `L1` (64, ReLU), `L2` (C), both bias-free: the segment scores, softmax per
  segment (output `segment_probabilities`);
- loss (`fully_supervised_main.py`): the cross-entropy plus `avps_weight`
  (`--LAMBDA` = 100) times the AVPS loss (`AVPSLoss`, whose docstring says
  where the released loader's target buffer differs from the paper).

Weak (`weakly_model.py::psp_net`): no `fa` (the raw audio enters the attention
and `lstm_audio`); `linear_v`, one Linear layer with bias (512 -> 128), instead
of `fv`; the PSP block `variant="weakly"` (no `v_fc` / `a_fc`, no second L1
normalisation, output 2 x hidden), tau = 0.095 (`REGIME_DEFAULTS`); `L1`,
`L2`; the weighting branch `W3` (`SegmentScoreWeighting`); the video
prediction is the softmax of the weighted scores averaged over the segments
(output `video_probabilities`), the segment prediction their softmax. Its loss
(`weakly_supervised_main.py`) is `nn.BCELoss` of that softmax against
`prob_label.h5`, the video's "normalized" label: per class, the share of the
video's segments labelled with it (background included; the code's author on
github:jasongief/PSP_CVPR_2021 issue 7: "the proportion of the background and
event segments"; e.g. 0.2 event, 0.8 background for an event over 2 of 10
segments), and for the 178 background-only videos their label
(`labels_noisy.h5`, all background). It cannot be derived from one-hot
video labels (`mil_labels.h5`): the registry marks PSP's weak model as
training on `weak_targets="class-shares"`, and `train` has the data
pipeline compute them from the segment labels of the training split
(`keras_avl.data.class_shares`; the val split keeps the video labels, so
that every method's epoch is chosen by the same video accuracy). The
release's weak target thus carries segment-level information (how many
segments are background).

Initialisation: where the code re-initialises a layer (Xavier-uniform: the
attention's weights, the PSP block, `L1`, `L2`), Keras' `glorot_uniform`;
where it keeps PyTorch's defaults (`fa`, `fv`, `linear_v`, `W3`, the
attention's biases, the LSTMs), `keras_avl.layers.torch_init`. The code's
unused modules (`v_classify`, `a_classify`, `L3`, `L4`; weak `W1`, `W2`,
`temperature`) are left out.

Segment masks (`segment_mask`, clips shorter than T; PSP's code has none): the
BiLSTMs skip padded segments, the PSP block propagates from real segments only
and gives padded ones no similarity, the weak video scores average the real
segments, the segment probabilities carry the mask (Keras leaves padded
segments out of the cross-entropy and the accuracy), the AVPS loss reads
the real segments from the labels that `fit_targets` zeroes at padding, and
the class shares count the real segments only.
"""

import dataclasses

import keras

from keras_avl.layers import AudioGuidedAttention, PositiveSamplePropagation, SegmentScoreWeighting
from keras_avl.losses import AVPSLoss, probability_binary_crossentropy
from keras_avl.models.compiling import compile_model, compile_video_classifier
from keras_avl.models.inputs import model_inputs, real_segments
from keras_avl.models.method_config import MethodConfig
from keras_avl.models.optional_inputs import OptionalInputsModel
from keras_avl.models.outputs import float32_output, softmax_output
from keras_avl.layers.torch_init import torch_dense, torch_lstm, torch_uniform


@dataclasses.dataclass
class PSPConfig(MethodConfig):
    """PSP's knobs (defaults: the public code's supervised model; the weak
    model's own values are `REGIME_DEFAULTS["weak"]`).

    Args:
        projection_dim: the middle size of `fa` and `fv` (256; supervised).
        hidden: the units of the bidirectional LSTMs (128).
        attention_dim: the audio-guided attention's hidden size (512).
        psp_dim: the PSP block's output size (256; the weak block has no
            output projection: its output is 2 x `hidden`).
        threshold: tau of the PSP pruning (0.099 supervised, 0.095 weak).
        psp_dropout: the PSP block's dropout (0.1).
        classifier_hidden: the units of `L1` (64).
        avps_weight: lambda, the weight of the AVPS loss (supervised; 100).
        (and the data fields of `MethodConfig`)
    """

    method = "psp"
    positive_ints = ("projection_dim", "hidden", "attention_dim", "psp_dim",
                     "classifier_hidden")
    rates = ("psp_dropout",)
    non_negative = ("avps_weight",)

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


# The fields whose released weak value (`weakly_supervised_main.py`) differs
# from the supervised default of `PSPConfig`.
REGIME_DEFAULTS = {"weak": {"threshold": 0.095}}


def regime_config(regime):
    """The released config of `regime`: `PSPConfig()` with `REGIME_DEFAULTS`
    (as `keras_avl.models.cmbs.regime_config`).

    Example:

    >>> regime_config("weak").threshold, regime_config("supervised").threshold
    (0.095, 0.099)
    """
    return PSPConfig().replace(**REGIME_DEFAULTS.get(regime, {}))


def _segment_scores(config, inputs, mask, weak):
    """`psp_net.forward` up to the scores `L2(...)`: (B, T, C), and the
    similarities (B, T) of the PSP block."""
    audio = inputs["audio"]
    if not weak:
        audio = keras.Sequential([
            torch_dense(config.projection_dim, config.audio_dim, name="fa_0", use_bias=False),
            torch_dense(config.hidden, config.projection_dim, name="fa_1", use_bias=False),
        ], name="fa")(audio)
    regions = keras.layers.Reshape(
        (config.segments, config.regions, config.visual_dim), name="visual_regions"
    )(inputs["visual"])
    attended, _ = AudioGuidedAttention(
        hidden_dim=config.attention_dim, attention_dim=config.regions, audio_term="region",
        torch_bias_init=True, name="audio_guided_attention",
    )([regions, audio])
    if weak:  # nn.Linear(v_dim, a_dim), with its bias
        visual = torch_dense(config.audio_dim, config.visual_dim, name="linear_v")(attended)
    else:
        visual = keras.Sequential([
            torch_dense(config.projection_dim, config.visual_dim, name="fv_0", use_bias=False),
            torch_dense(config.hidden, config.projection_dim, name="fv_1", use_bias=False),
        ], name="fv")(attended)
    lstm = lambda name: keras.layers.Bidirectional(torch_lstm(config.hidden, name), name=name)
    fused, similarity = PositiveSamplePropagation(
        output_dim=2 * config.hidden if weak else config.psp_dim, threshold=config.threshold,
        dropout=config.psp_dropout, variant="weakly" if weak else "fully", name="psp",
    )([lstm("lstm_audio")(audio, mask=mask), lstm("lstm_video")(visual, mask=mask)],
      mask=mask)
    hidden = keras.layers.Dense(config.classifier_hidden, activation="relu", use_bias=False,
                                name="L1")(fused)
    scores = keras.layers.Dense(config.num_classes, use_bias=False, name="L2")(hidden)
    return scores, similarity


def build_psp_supervised(config=None, compile=True, optimizer=None):
    """PSP for per-segment labels (`fully_model.py`): outputs
    `segment_probabilities` (B, T, C) and `av_similarity` (B, T), trained on
    the same segment labels (cross-entropy + lambda AVPS).

    Example:

    >>> config = PSPConfig(num_classes=3, visual_dim=8, projection_dim=8, hidden=4,
    ...                    attention_dim=8, psp_dim=8, classifier_hidden=4)
    >>> model = build_psp_supervised(config)
    >>> sorted(model.output_names)
    ['av_similarity', 'segment_probabilities']
    >>> model.get_layer("segment_probabilities").output.shape
    (None, 10, 3)
    """
    config = config or regime_config("supervised")
    inputs = model_inputs(config)
    scores, similarity = _segment_scores(config, inputs, real_segments(inputs), weak=False)
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
    """PSP for video labels (`weakly_model.py`): outputs `video_probabilities`
    (B, C), trained with the BCE against the video's normalised label
    (class shares, `keras_avl.data.class_shares`), and `segment_probabilities` (B, T, C), without loss.

    Example:

    >>> config = PSPConfig(num_classes=3, visual_dim=8, hidden=4, attention_dim=8,
    ...                    classifier_hidden=4, **REGIME_DEFAULTS["weak"])
    >>> build_psp_weak(config).get_layer("video_probabilities").output.shape
    (None, 3)
    """
    config = config or regime_config("weak")
    inputs = model_inputs(config)
    mask = real_segments(inputs)
    scores, _ = _segment_scores(config, inputs, mask, weak=True)
    weighted = SegmentScoreWeighting(
        kernel_initializer=torch_uniform(config.num_classes), name="segment_score_weighting",
    )(scores)
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
