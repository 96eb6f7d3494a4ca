"""`PaperConfig`: the knobs of the paper's model (Ramaswamy & Das, WACV 2020),
built by `keras_avl.models.paper`; the rows of its Tables 1-3 are presets of it
(`keras_avl.models.presets`).

`AVLConfig` stays the name of this class for code written before the methods
had a config each (`AVLConfig = PaperConfig`).
"""

import dataclasses

from keras_avl.layers.avfb_layer import FUSIONS, MF_NORMALIZATIONS
from keras_avl.layers.swab_layer import POOLINGS
from keras_avl.models.method_config import MethodConfig
from keras_avl.regimes import NEGATIVE_SAMPLINGS
from keras_avl.validation import check_choice, check_positive_int

# Rows of the paper's Table 1: which streams feed the classifier.
MODALITIES = ("audio", "visual", "fused_visual", "audio+visual", "audio+fused_visual")
# How the weak regime turns segment predictions into the video's: the mean of
# the segment probabilities (the paper's MIL pooling, §3.6) or the softmax of
# the segment scores max-pooled over time (the released A+V-att's).
WEAK_POOLINGS = ("mean-probabilities", "max-logits")


@dataclasses.dataclass
class PaperConfig(MethodConfig):
    """Configuration of the paper's model (Fig. 2), in its three regimes.

    Args:
        modalities: which streams feed the classifier (Table 1): `"audio"`,
            `"visual"` (pooled visual features), `"fused_visual"` (AVFB
            audio-assisted visual), `"audio+visual"` (no fusion), or
            `"audio+fused_visual"` (the paper's model).
        fusion: the AVFB fusion of Table 2 (see `AVFBLayer`).
        embed_dim: d_e, the common embedding of AVFB's LSTM fusion.
        mfb_factor, mfb_output_dim, mfb_dropout: MFB's q, p and dropout
            (0 by default: the paper uses none, and the fused kernel of
            `keras_avl.ops` needs none).
        hidden: units of the temporal LSTMs of eq. 8.
        bidirectional: whether the temporal LSTMs are bidirectional.
        use_swab, swab_units, swab_pooling: SWAB on/off, its size and pooling
            (Table 3).
        mf_normalization: `"none"` (eq. 7 as written) or `"rms"` (MF_v scaled
            to unit root mean square before LF_v + MF_v; see `AVFBLayer`).
        swab_rescale: multiply SWAB's s_t = alpha_t h_t by the number of real
            segments (False: eq. 11 as written; see `SWABLayer`).
        head_units: sizes of the hidden ReLU Dense layers of the classifier
            before its softmax layer (the paper's "series of fully connected
            layers", §3 step 6, sizes unstated; () = the softmax layer only).
        weak_pooling: `"mean-probabilities"` (the paper's MIL pooling) or
            `"max-logits"` (the released A+V-att's: softmax of the segment
            scores max-pooled over the real segments).
        use_aggregation: eq. 12 aggregation on/off (Table 3); off means the
            classifier reads the concatenated stream features.
        dropout: dropout before the classifier.
        margin: AVTGML margin gamma (unsupervised regime).
        segment_weight: weight of a per-segment audio-visual triplet added to
            AVTGML (0: the paper's loss; see `segment_triplet_loss`).
        negative_sampling: where the negative audio of the unsupervised regime
            comes from: `"any-video"` (the paper's reading: any other video)
            or `"other-class"` (a video of another class; needs video labels).
        (and the data fields and `learning_rate` of `MethodConfig`: Adam's
        rate for the builders' `compile`; a training protocol,
        `keras_avl.protocols`, may compile with its own optimizer and loss)

    Example:

    >>> config = PaperConfig(hidden=64, fusion="mfb")
    >>> config.method, PaperConfig.from_json(config.to_json()) == config
    ('paper', True)
    """

    method = "paper"
    positive_ints = ("embed_dim", "mfb_factor", "mfb_output_dim", "hidden", "swab_units")
    rates = ("mfb_dropout", "dropout")
    non_negative = ("segment_weight",)

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

    def __post_init__(self):
        super().__post_init__()
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
        check_choice("negative_sampling", self.negative_sampling, NEGATIVE_SAMPLINGS)
        if not self.margin > 0:
            raise ValueError(f"`margin` must be > 0; received margin={self.margin!r}.")


# The name of the paper's config before every method had its own.
AVLConfig = PaperConfig
