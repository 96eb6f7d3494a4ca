"""Presets: named models, each a method of `keras_avl.models.registry.METHODS`
with config changes and a default recipe, as keras-hub names its presets.

`keras-avl train --model NAME`, `keras_avl.models.get(NAME)` and the run
folders (`config.json`'s `variant`) name a model by its preset. `PRESETS` holds
the rows of the paper's Tables 1-3 and the other named variants of a method;
every method is also the preset of its own name, without changes (the
registry adds those not listed here). `keras-avl models` lists them all.

A preset's `recipe` is the family of the training protocol it trains with when
none is chosen (`keras_avl.protocols`: `<recipe>-<regime>`, its loss and
learning-rate schedule for the epochs, batch size and learning rate given);
None: the common keras-avl recipe.
"""

import dataclasses

TRAINING_REGIMES = ("supervised", "weak")


@dataclasses.dataclass(frozen=True)
class Preset:
    """A named model: a method, config changes and a default recipe.

    It has the API of the registry's `Method` (`config`, `build`, `regimes`,
    `check_regime`, `weak_targets`, `config_class`, `reference`), applying
    its changes.

    Args:
        name: the name `--model` takes (and run folders record as `variant`).
        method: the registered method it builds.
        changes: fields of the method's config it changes.
        recipe: the protocol family it trains with when no protocol is
            chosen (e.g. `"ave-eccv18"`), or None (the common recipe).
        description: one line for `keras-avl models`.
        only_regimes: the regimes its changes allow, when fewer than the
            method's (a Table 1 row without AVFB has no unsupervised model).

    Example:

    >>> from keras_avl.models import get
    >>> preset = get("fusion-mfb")
    >>> preset.method, preset.regimes, preset.config(hidden=64).fusion
    ('paper', ('supervised', 'weak', 'unsupervised'), 'mfb')
    >>> config = get("audio").config(num_classes=3, audio_dim=8, hidden=4, swab_units=4)
    >>> get("audio").build(config, "weak").output_shape
    (None, 3)
    >>> get("audio").build(config, "unsupervised")
    Traceback (most recent call last):
    ...
    ValueError: Preset 'audio' (method 'paper') supports the regimes ('supervised', 'weak'); received regime='unsupervised'.
    """

    name: str
    method: str
    changes: dict = dataclasses.field(default_factory=dict)
    recipe: str = None
    description: str = ""
    only_regimes: tuple = None

    @property
    def _method(self):
        # The registry imports this module: it is looked up on use.
        from keras_avl.models.registry import get_method

        return get_method(self.method)

    @property
    def config_class(self):
        return self._method.config_class

    @property
    def reference(self):
        return self._method.reference

    @property
    def weak_targets(self):
        return self._method.weak_targets

    @property
    def regimes(self):
        return self._method.regimes if self.only_regimes is None else tuple(self.only_regimes)

    def check_regime(self, regime):
        """A clear error when the preset has no model of `regime`."""
        self._method.check_regime(regime)
        if regime not in self.regimes:
            raise ValueError(
                f"Preset {self.name!r} (method {self.method!r}) supports the regimes "
                f"{self.regimes}; received regime={regime!r}."
            )

    def config(self, regime="supervised", **fields):
        """The method's config in `regime` with the preset's changes, then
        `fields` (which win)."""
        self.check_regime(regime)
        return self._method.config(regime, **{**self.changes, **fields})

    def build(self, config=None, regime="supervised", compile=True, optimizer=None,
              loss=None):
        """Builds the model of `regime` (default config: `config(regime)`);
        see `Method.build`."""
        self.check_regime(regime)
        config = self.config(regime) if config is None else config
        return self._method.build(config, regime, compile=compile, optimizer=optimizer,
                                  loss=loss)


def _paper(name, changes, description, only_regimes=None):
    return Preset(name, "paper", changes, description=description, only_regimes=only_regimes)


# In the order of the paper's variants before the presets (protocols record
# the classifiers they fit in this order).
PRESETS = {
    preset.name: preset
    for preset in (
        # Table 1 (and the full model, identical to the last rows of Tables 2-3).
        _paper("paper", {}, "the paper's model as published (Table 1, last row)"),
        _paper("audio", {"modalities": "audio"}, "Table 1: audio stream only",
               TRAINING_REGIMES),
        _paper("visual", {"modalities": "visual"}, "Table 1: pooled visual stream only",
               TRAINING_REGIMES),
        _paper("fused-visual", {"modalities": "fused_visual"},
               "Table 1: AVFB's audio-assisted visual stream only", TRAINING_REGIMES),
        _paper("audio+visual", {"modalities": "audio+visual"},
               "Table 1: both streams, no fusion", TRAINING_REGIMES),
        Preset("avatt", "avatt", recipe="ave-eccv18",
               description="A+V-att as released (AVE-ECCV18), with its loss and StepLR"),
        # Its own recipe needs its 300 epochs to leave the background class.
        Preset("avatt-adam", "avatt",
               description="the released A+V-att trained like the paper's model "
               "(Adam + cross-entropy)"),
        Preset("avatt-keras-avl", "avatt", {"reading": "keras-avl", "dropout": 0.2},
               description="keras-avl's earlier reading of A+V-att"),
        # Unsupervised regime: the contrastive baseline and AVTGML options beside
        # the paper's reading (see docs/reproducing_the_paper.md).
        Preset("ezvsl", "ezvsl",
               description="the contrastive EZ-VSL-style baseline (unsupervised)"),
        _paper("paper-segment", {"segment_weight": 1.0},
               "AVTGML plus a per-segment audio-visual triplet"),
        _paper("paper-other-class", {"negative_sampling": "other-class"},
               "negative audio from a video of another class"),
        _paper("fusion-mfb-segment", {"fusion": "mfb", "segment_weight": 1.0},
               "MFB fusion, AVTGML plus a per-segment triplet"),
        _paper("fusion-mfb-other-class", {"fusion": "mfb", "negative_sampling": "other-class"},
               "MFB fusion, negative audio from another class"),
        # The changes of docs/reproducing_the_paper.md ("Does the paper's model
        # trail A+V-att?") that helped there, together.
        _paper("paper-plus", {"bidirectional": True, "mf_normalization": "rms",
                              "head_units": (64,)},
               "bidirectional LSTMs, MF_v at unit RMS, a hidden ReLU layer of 64"),
        # Table 2: fusion strategies, SWAB and aggregation kept.
        _paper("fusion-mul", {"fusion": "mul"}, "Table 2: multiplicative fusion"),
        _paper("fusion-add", {"fusion": "add"}, "Table 2: additive fusion"),
        _paper("fusion-concat", {"fusion": "concat"}, "Table 2: concatenation"),
        _paper("fusion-lstm", {"fusion": "lstm"}, "Table 2: AVFB's LSTM branch only"),
        _paper("fusion-mfb", {"fusion": "mfb"}, "Table 2: AVFB's MFB branch only"),
        # Table 3: modules switched on one after the other.
        _paper("avfb", {"use_swab": False, "use_aggregation": False},
               "Table 3: AVFB only", TRAINING_REGIMES),
        _paper("avfb+swab-mean", {"swab_pooling": "mean", "use_aggregation": False},
               "Table 3: AVFB + SWAB (mean pooling)"),
        _paper("avfb+swab-max", {"swab_pooling": "max", "use_aggregation": False},
               "Table 3: AVFB + SWAB (max pooling)"),
        _paper("avfb+swab", {"swab_pooling": "mean+max", "use_aggregation": False},
               "Table 3: AVFB + SWAB (mean+max), no aggregation"),
    )
}
