"""CACE-Net (He, Liu, Li et al., "CACE-Net: Co-guidance Attention and
Contrastive Enhancement for Effective Audio-Visual Event Localization", ACM MM
2024): its config and its supervised model, as released in
github:Brain-Cog-Lab/CACE-Net (`CACE/model/main_model.py::supv_main_model`,
`CACE/model/models.py::Co_Guided_Attention`, `CACE/configs/main.json`, the
losses of `CACE/supv_main.py`, the run of `CACE/run_supp.sh` / the README:
`--guide Co-Guide --psai 0.3 --contrastive --Lambda 0.6 --contras_coeff 1.0`).

The code grew from CMBS's (`keras_avl.models.cmbs`) and keeps its trunk; it
changes two blocks and adds a loss:

- audio-visual co-guidance attention (AVCA, Sec. 3.2; `CoGuidedAttention`):
  CMBS's audio-guided spatial-channel attention gives the attended visual
  o_t, and the visual regions guide the audio back,
  a'_t = a_t + psai sigmoid(g_t) a_t, g the audio attended over time by a
  visual query (psai = 0.3);
- the trunk as CMBS's supervised model: the regions through Dense(512) +
  ReLU + dropout (`v_fc`), BiLSTMs on a' (d/2 per direction) and o (d per
  direction), the intra-modal encoders (two self-attention blocks,
  feed-forward 1024) and cross-modal decoders (memory [keys; query],
  feed-forward **512**: CMBS has 1024), the background suppression
  (v' = v + alpha g^a v, a' = a + alpha g^v a, G = g^a g^v, alpha = 0.1),
  the class-activation consistency score (top-4, `av_score`) and the two
  audio-visual interaction blocks, whose mean is the fused sequence f;
- background-event contrastive enhancement (BECE, Sec. 3.3;
  `ContrastiveEventHead`): the is-event logit z_t = (f_t + s lambda q_t) w + b
  with q_t = relu(f_t W_q + b_q) (lambda = 0.6), and the contrastive loss
  (`SegmentContrastiveLoss`, tau = 0.01, weight `--contras_coeff` 1.0) of the
  normalised q and of its view from f + 0.1 N(0, I); the switch s turns both
  on from epoch n_epoch / 8 (`CACEModel.fit`);
- the video event logits: Dense(C - 1) of the max over time of f plus
  gamma (0.3) times the consistency score.

Losses (`supv_main.py`, weights 1): BCE of z and of G against
event/background (`ForegroundLoss`: the code feeds G, a product of sigmoids,
to `BCEWithLogitsLoss` too), CE of the event logits and of the consistency
score against the video's event (`EventClassLoss`), and, once the switch is
on, the contrastive loss. `segment_probabilities` is the code's decision
(`compute_accuracy_supervised`: background where sigmoid(z_t) <= 0.5, else
the argmax event) written as a distribution (`EventGatedProbabilities`).

The release has no weak model: `weak_main_model` in `main_model.py` reads
attributes it never sets (`self.dual`) and a class that is not defined
(`New_Audio_Guided_Attention`), and no script trains it; only the supervised
regime is registered. The code's "Visual-Guide" and "None" guide ablations
are not modelled ("Audio-Guide" is psai = 0, the code's "no --contrastive"
is `enhancement=0, contrastive_weight=0`). Weights are initialised as PyTorch
initialises the released modules (`keras_avl.layers.torch_init`); the code
trains in float64 (`model.double()`): see the protocol
`cace-mm24-supervised` in `keras_avl.protocols`.

Segment masks (`segment_mask`, clips shorter than T; the code has none): as
CMBS (the BiLSTMs skip padded segments, no attention block attends to one,
the top-k means and the max over time run over the real segments, the
segment probabilities carry the mask, the losses read the real segments from
the labels that `fit_targets` zeroes at padding), and the co-guidance's
attentions over time give padded segments no weight, the contrastive
features of padded segments are zero and the contrastive loss leaves them
out.
"""

import dataclasses

import keras

from keras_avl.layers import (
    ClassActivationConsistency,
    CoGuidedAttention,
    ContrastiveEventHead,
)
from keras_avl.layers.torch_init import torch_dense, torch_lstm
from keras_avl.losses import EventClassLoss, ForegroundLoss, SegmentContrastiveLoss
from keras_avl.models.cmbs import CMBSConfig, attend_and_fuse, supervised_outputs
from keras_avl.models.compiling import compile_model
from keras_avl.models.inputs import model_inputs, real_segments
from keras_avl.models.optional_inputs import OptionalInputsModel
from keras_avl.models.outputs import float32_output


@dataclasses.dataclass
class CACEConfig(CMBSConfig):
    """CACE-Net's knobs: CMBS's (`CMBSConfig`, whose trunk it keeps) and its
    own, with the released supervised values as defaults (`main.json` and the
    README's run).

    Args:
        feedforward_dim: the cross-modal (decoder) blocks' feed-forward size
            (512; CMBS's is 1024).
        psai: the weight of the visual guidance of the audio (`--psai` 0.3).
        guidance_dropout: dropout of the co-guidance's self-attentions (0.2).
        enhancement: lambda, the weight of the contrastive projection in the
            event logits once the switch is on (`--Lambda` 0.6).
        contrastive_weight: the contrastive loss's weight (`--contras_coeff` 1.0).
        temperature: tau of the contrastive loss (0.01).
        augmentation_noise: sigma of the augmented view's noise (0.1).
        warmup_fraction: the share of the epochs before the contrastive switch
            turns on (1/8: `epoch >= n_epoch / 8`).
        (and the fields of `CMBSConfig`: `attention_hidden` is the
        co-guidance's hidden size, `beta` the weight of its audio guidance)
    """

    method = "cace"
    rates = CMBSConfig.rates + ("guidance_dropout", "warmup_fraction")
    non_negative = CMBSConfig.non_negative + ("psai", "enhancement", "contrastive_weight",
                                              "augmentation_noise")

    feedforward_dim: int = 512
    psai: float = 0.3
    guidance_dropout: float = 0.2
    enhancement: float = 0.6
    contrastive_weight: float = 1.0
    temperature: float = 0.01
    augmentation_noise: float = 0.1
    warmup_fraction: float = 0.125

    def __post_init__(self):
        super().__post_init__()
        if not self.temperature > 0:
            raise ValueError(f"`temperature` must be > 0; received {self.temperature!r}.")


class ContrastiveWarmup(keras.callbacks.Callback):
    """Sets the contrastive switch of every `ContrastiveEventHead` of the model
    at the start of each epoch: on from epoch `warmup_fraction * epochs`
    (0-based; the code's `epoch >= n_epoch / 8`), off before. The epochs are
    those of the `fit` call (a resumed run counts from its `initial_epoch`)."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_begin(self, epoch, logs=None):
        for layer in self.model.layers:
            if isinstance(layer, ContrastiveEventHead):
                layer.switch.assign(float(epoch >= layer.warmup_fraction * self.epochs))


@keras.saving.register_keras_serializable(package="keras_avl")
class CACEModel(OptionalInputsModel):
    """CACE-Net's functional model: its `fit` turns the contrastive switch on
    from the released epoch (`ContrastiveWarmup`, added before the callbacks
    given). Outside `fit` the switch keeps its value (0 when built; a saved
    model keeps the value of its epoch)."""

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            **kwargs):
        callbacks = [ContrastiveWarmup(epochs), *(callbacks or [])]
        return super().fit(x, y, batch_size=batch_size, epochs=epochs, verbose=verbose,
                           callbacks=callbacks, **kwargs)


def _trunk(config, inputs, mask):
    """(fused (B, T, d), audio-visual gate (B, T), suppressed visual, audio)."""
    regions = keras.layers.Reshape(
        (config.segments, config.regions, config.visual_dim), name="visual_regions"
    )(inputs["visual"])
    regions = torch_dense(config.visual_hidden, config.visual_dim, activation="relu",
                          name="visual_fc")(regions)
    regions = keras.layers.Dropout(config.visual_dropout, name="visual_dropout")(regions)
    # Named as the other methods' attention: `inference_model` reads lambda there.
    visual, _, audio = CoGuidedAttention(
        hidden_dim=config.attention_hidden, beta=config.beta, psai=config.psai,
        dropout=config.guidance_dropout, name="audio_guided_attention",
    )([regions, inputs["audio"]], mask=mask)
    d = config.d_model
    audio = keras.layers.Bidirectional(torch_lstm(d // 2), name="audio_lstm")(audio, mask=mask)
    visual = keras.layers.Bidirectional(torch_lstm(d), name="visual_lstm")(visual, mask=mask)
    return attend_and_fuse(config, visual, audio, mask)


def build_cace_supervised(config=None, compile=True, optimizer=None):
    """CACE-Net for per-segment labels (`supv_main_model`). Outputs (all
    trained on the segment labels): `segment_probabilities` (B, T, C) (no
    loss: the code's decision), `event_logits` (B, T), `av_gate` (B, T),
    `class_logits` (B, C-1), `consistency_score` (B, C-1) and
    `contrastive_features` (B, 2T, d) (zero until the switch turns on).

    Example:

    >>> config = CACEConfig(num_classes=3, visual_dim=8, visual_hidden=8,
    ...                     attention_hidden=4, d_model=8, num_heads=2,
    ...                     interaction_heads=2, feedforward_dim=8,
    ...                     encoder_feedforward_dim=8)
    >>> model = build_cace_supervised(config)
    >>> model.get_layer("segment_probabilities").output.shape
    (None, 10, 3)
    >>> model.get_layer("contrastive_features").output.shape
    (None, 20, 8)
    """
    config = config or CACEConfig()
    inputs = model_inputs(config)
    mask = real_segments(inputs)
    fused, gate, visual, audio = _trunk(config, inputs, mask)
    events = config.num_classes - 1
    consistency = ClassActivationConsistency(events, config.top_k,
                                             name="class_activation_consistency")(
        [visual, audio], mask=mask)
    event_logits, features = ContrastiveEventHead(
        enhancement=config.enhancement, noise_stddev=config.augmentation_noise,
        warmup_fraction=config.warmup_fraction, name="contrastive_event_head",
    )(fused, mask=mask)
    outputs = {**supervised_outputs(config, fused, gate, consistency, event_logits, mask),
               "contrastive_features": float32_output("contrastive_features")(features)}
    model = CACEModel(inputs, outputs, name="cace_supervised")
    if compile:
        losses = {"event_logits": ForegroundLoss(), "av_gate": ForegroundLoss(),
                  "class_logits": EventClassLoss(), "consistency_score": EventClassLoss(),
                  "contrastive_features": SegmentContrastiveLoss(config.temperature)}
        weights = {name: 1.0 for name in losses}
        weights["contrastive_features"] = config.contrastive_weight
        compile_model(model, config, losses,
                      {"segment_probabilities": ["categorical_accuracy"]}, optimizer,
                      loss_weights=weights)
    return model
