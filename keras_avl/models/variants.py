"""Named model variants: the rows of the paper's Tables 1-3 and the baseline.

`variant_config("fusion-mfb", base)` returns `base` with the changes of that
row, so that one command can train and compare any of them. A variant may
name its default training protocol (`DEFAULT_PROTOCOLS`, see
`keras_avl.protocols`).
"""

from keras_avl.models.config import AVLConfig

VARIANTS = {
    # Table 1 (and the full model, identical to the last rows of Tables 2-3).
    "paper": {},
    "audio": {"modalities": "audio"},
    "visual": {"modalities": "visual"},
    "fused-visual": {"modalities": "fused_visual"},
    "audio+visual": {"modalities": "audio+visual"},
    # The released A+V-att (AVE-ECCV18), trained with its own protocol
    # (DEFAULT_PROTOCOLS).
    "avatt": {"architecture": "avatt", "dropout": 0.0},
    # The released A+V-att trained like the paper's model (Adam + cross-entropy):
    # its own protocol needs its 300 epochs to leave the background class.
    "avatt-adam": {"architecture": "avatt", "dropout": 0.0},
    # keras-avl's earlier reading of A+V-att (see AVLConfig.architecture).
    "avatt-keras-avl": {"architecture": "avatt-keras-avl"},
    # Unsupervised regime: the contrastive baseline and AVTGML options beside
    # the paper's reading (see docs/reproducing_the_paper.md).
    "ezvsl": {"architecture": "ezvsl"},
    "paper-segment": {"segment_weight": 1.0},
    "paper-other-class": {"negative_sampling": "other-class"},
    "fusion-mfb-segment": {"fusion": "mfb", "segment_weight": 1.0},
    "fusion-mfb-other-class": {"fusion": "mfb", "negative_sampling": "other-class"},
    # Beside the faithful `paper`: the changes of docs/reproducing_the_paper.md
    # ("Does the paper's model trail A+V-att?") that helped there, together:
    # bidirectional temporal LSTMs, MF_v scaled to unit RMS in eq. 7 and one
    # hidden ReLU layer of 64 in the classifier (A+V-att's head).
    "paper-plus": {"bidirectional": True, "mf_normalization": "rms", "head_units": (64,)},
    # Table 2: fusion strategies, SWAB and aggregation kept.
    "fusion-mul": {"fusion": "mul"},
    "fusion-add": {"fusion": "add"},
    "fusion-concat": {"fusion": "concat"},
    "fusion-lstm": {"fusion": "lstm"},
    "fusion-mfb": {"fusion": "mfb"},
    # Table 3: modules switched on one after the other.
    "avfb": {"use_swab": False, "use_aggregation": False},
    "avfb+swab-mean": {"swab_pooling": "mean", "use_aggregation": False},
    "avfb+swab-max": {"swab_pooling": "max", "use_aggregation": False},
    "avfb+swab": {"swab_pooling": "mean+max", "use_aggregation": False},
}

# Variant -> the family of the protocol it trains with when none is chosen:
# its loss and learning-rate schedule (`<family>-<regime>` of
# `keras_avl.protocols.PROTOCOLS`), for the epochs given.
DEFAULT_PROTOCOLS = {"avatt": "ave-eccv18"}


def variant_config(name, base=None):
    """The config of variant `name`, applied on top of `base` (default config)."""
    if name not in VARIANTS:
        raise ValueError(
            f"Unknown model variant {name!r}; expected one of {sorted(VARIANTS)}."
        )
    return (base or AVLConfig()).replace(**VARIANTS[name])
