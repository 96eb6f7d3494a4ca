"""`AVLConfig`: every knob of the paper's models in one JSON-serialisable place."""

import dataclasses

from keras_avl.layers.avfb_layer import FUSIONS, MF_NORMALIZATIONS
from keras_avl.layers.swab_layer import POOLINGS
from keras_avl.models.config_serialization import ConfigSerialization
from keras_avl.regimes import NEGATIVE_SAMPLINGS
from keras_avl.validation import check_choice, check_positive_int, check_rate

ARCHITECTURES = ("paper", "avatt", "avatt-keras-avl", "ezvsl")
# Rows of the paper's Table 1: which streams feed the classifier.
MODALITIES = ("audio", "visual", "fused_visual", "audio+visual", "audio+fused_visual")
# How the weak regime turns segment predictions into the video's: the mean of
# the segment probabilities (the paper's MIL pooling, §3.6) or the softmax of
# the segment scores max-pooled over time (the released A+V-att's).
WEAK_POOLINGS = ("mean-probabilities", "max-logits")
# The paper-model options of the "does the paper trail A+V-att?" study
# (docs/reproducing_the_paper.md), with their faithful values.
PAPER_ONLY_DEFAULTS = {"mf_normalization": "none", "swab_rescale": False, "head_units": (),
                       "weak_pooling": "mean-probabilities"}


@dataclasses.dataclass
class AVLConfig(ConfigSerialization):
    """Configuration of an audio-visual localization model.

    Args:
        num_classes: C, event classes plus background (AVE: 28 + 1).
        segments: T, one-second segments per video.
        grid: (H, W) of the visual feature map (VGG-19 pool5: 7 x 7).
        visual_dim: d_v, visual channels.
        audio_dim: d_a, audio embedding size (VGGish: 128).
        architecture: `"paper"` (Ramaswamy & Das), `"avatt"` (the A+V-att
            baseline of Tian et al., ECCV 2018, as released in AVE-ECCV18's
            `models.py` / `models_weakly.py`), `"avatt-keras-avl"` (keras-avl's
            earlier reading of it: the audio term per hidden unit as the ECCV
            2018 paper's equation writes it, no ReLU on the LSTM outputs, the
            shared dropout + softmax head, MIL averaging of probabilities for
            the weak regime) or `"ezvsl"` (the contrastive
            sound-source-localization baseline, unsupervised regime only, see
            `keras_avl.models.contrastive`).
        modalities: which streams feed the classifier (Table 1): `"audio"`,
            `"visual"` (pooled visual features), `"fused_visual"` (AVFB
            audio-assisted visual), `"audio+visual"` (no fusion), or
            `"audio+fused_visual"` (the paper's model).
        fusion: the AVFB fusion of Table 2 (see `AVFBLayer`).
        embed_dim: d_e, the common embedding of AVFB's LSTM fusion.
        mfb_factor, mfb_output_dim, mfb_dropout: MFB's q, p and dropout
            (0 by default: the paper uses none, and the fused kernel of
            `keras_avl.ops` needs none).
        hidden: units of the temporal LSTMs of eq. 8 (also of the baseline).
        bidirectional: whether the temporal LSTMs are bidirectional.
        use_swab, swab_units, swab_pooling: SWAB on/off, its size and pooling
            (Table 3).
        mf_normalization: `"none"` (eq. 7 as written) or `"rms"` (MF_v scaled
            to unit root mean square before LF_v + MF_v; see `AVFBLayer`).
        swab_rescale: multiply SWAB's s_t = alpha_t h_t by the number of real
            segments (False: eq. 11 as written; see `SWABLayer`).
        head_units: sizes of the hidden ReLU Dense layers of the classifier
            before its softmax layer (the paper's "series of fully connected
            layers", §3 step 6, sizes unstated; () = the softmax layer only;
            A+V-att has one of 64).
        weak_pooling: `"mean-probabilities"` (the paper's MIL pooling) or
            `"max-logits"` (the released A+V-att's: softmax of the segment
            scores max-pooled over the real segments).
        use_aggregation: eq. 12 aggregation on/off (Table 3); off means the
            classifier reads the concatenated stream features.
        dropout: dropout before the classifier (the released A+V-att has none:
            the variant `avatt` sets 0).
        margin: AVTGML margin gamma (unsupervised regime).
        segment_weight: weight of a per-segment audio-visual triplet added to
            AVTGML (0: the paper's loss; see `segment_triplet_loss`).
        negative_sampling: where the negative audio of the unsupervised regime
            comes from: `"any-video"` (the paper's reading: any other video)
            or `"other-class"` (a video of another class; needs video labels).
        temperature: tau of the contrastive baseline's InfoNCE (EZ-VSL: 0.03);
            its common space has `embed_dim` channels.
        learning_rate: Adam's learning rate used by the builders' `compile`
            (a training protocol, `keras_avl.protocols`, may compile
            with its own optimizer and loss).
        avatt_hidden_dim: the baseline's projection size (512 in AVE's code).
    """

    num_classes: int = 29
    segments: int = 10
    grid: tuple = (7, 7)
    visual_dim: int = 512
    audio_dim: int = 128
    architecture: str = "paper"
    modalities: str = "audio+fused_visual"
    fusion: str = "avfb"
    embed_dim: int = 512
    mfb_factor: int = 5
    mfb_output_dim: int = 256
    mfb_dropout: float = 0.0
    hidden: int = 128
    bidirectional: bool = False
    use_swab: bool = True
    swab_units: int = 128
    swab_pooling: str = "mean+max"
    mf_normalization: str = "none"
    swab_rescale: bool = False
    head_units: tuple = ()
    weak_pooling: str = "mean-probabilities"
    use_aggregation: bool = True
    dropout: float = 0.2
    margin: float = 0.7
    segment_weight: float = 0.0
    negative_sampling: str = "any-video"
    temperature: float = 0.03
    learning_rate: float = 1e-3
    avatt_hidden_dim: int = 512

    @classmethod
    def from_dict(cls, config):
        """As `ConfigSerialization.from_dict`; configs written before the
        training protocol left `AVLConfig` may hold `"protocol": "keras-avl"`
        (the common recipe: dropped). `keras_avl.runs.load_run` turns an
        older `"ave-eccv18"` into the run's training protocol first."""
        config = dict(config)
        if config.get("protocol", "keras-avl") != "keras-avl":
            raise ValueError(
                f"`protocol` is no AVLConfig field any more; received "
                f"protocol={config['protocol']!r}: choose a training protocol "
                "(keras_avl.protocols, `keras-avl train --protocol`)."
            )
        config.pop("protocol", None)
        return super().from_dict(config)

    def __post_init__(self):
        for name in (
            "num_classes",
            "segments",
            "visual_dim",
            "audio_dim",
            "embed_dim",
            "mfb_factor",
            "mfb_output_dim",
            "hidden",
            "swab_units",
            "avatt_hidden_dim",
        ):
            setattr(self, name, check_positive_int(name, getattr(self, name)))
        grid = tuple(self.grid)
        if len(grid) != 2:
            raise ValueError(f"`grid` must be (H, W); received grid={self.grid!r}.")
        self.grid = tuple(check_positive_int("grid", size) for size in grid)
        check_choice("architecture", self.architecture, ARCHITECTURES)
        check_choice("modalities", self.modalities, MODALITIES)
        check_choice("fusion", self.fusion, FUSIONS)
        check_choice("swab_pooling", self.swab_pooling, POOLINGS)
        check_choice("mf_normalization", self.mf_normalization, MF_NORMALIZATIONS)
        check_choice("weak_pooling", self.weak_pooling, WEAK_POOLINGS)
        if not isinstance(self.swab_rescale, bool):
            raise ValueError(
                f"`swab_rescale` must be True or False; received swab_rescale={self.swab_rescale!r}."
            )
        self.head_units = tuple(check_positive_int("head_units", units) for units in self.head_units)
        changed = [name for name, default in PAPER_ONLY_DEFAULTS.items()
                   if getattr(self, name) != default]
        if changed and self.architecture != "paper":
            raise ValueError(
                f"{changed} are options of the paper's model (architecture='paper'); "
                f"received architecture={self.architecture!r}."
            )
        self.mfb_dropout = check_rate("mfb_dropout", self.mfb_dropout)
        self.dropout = check_rate("dropout", self.dropout)
        check_choice("negative_sampling", self.negative_sampling, NEGATIVE_SAMPLINGS)
        if not self.segment_weight >= 0:
            raise ValueError(
                f"`segment_weight` must be >= 0; received segment_weight={self.segment_weight!r}."
            )
        if not self.temperature > 0:
            raise ValueError(
                f"`temperature` must be > 0; received temperature={self.temperature!r}."
            )
        if not self.margin > 0:
            raise ValueError(f"`margin` must be > 0; received margin={self.margin!r}.")
        if not self.learning_rate > 0:
            raise ValueError(
                f"`learning_rate` must be > 0; received learning_rate={self.learning_rate!r}."
            )
