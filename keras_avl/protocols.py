"""Training protocols: the named recipes a model can be trained with
(optimizer, learning-rate schedule, loss, epochs, batch size, gradient
clipping and the config values the public code trains with), selectable by
name (`train(protocol=...)`, `keras-avl train --protocol NAME`) and recorded in
the run folder (`config.json`, `training.protocol`).

Without a protocol every model trains with the common keras-avl recipe: Adam
at the learning rate given (1e-3), the model's own loss (categorical
cross-entropy on the segment labels, or on the video label after MIL pooling,
as the paper trains, §3.6; AVTGML for the unsupervised regime; the methods'
losses for AVSDN, PSP and CMBS), 15 epochs (`DEFAULT_EPOCHS`), batch 64.

The recipes come from the public codes. One thing is never copied: those codes
keep the checkpoint of best *test* accuracy; `keras_avl.training.train` always
selects the epoch on the validation split.

| protocol | trains | recipe (from) |
|---|---|---|
| ave-eccv18-supervised | avatt (and the other presets of the paper's model and A+V-att), supervised | Adam 1e-3, per-batch StepLR(15000, 0.1), MultiLabelSoftMarginLoss on the softmax outputs, 300 epochs, batch 64 (`supervised_main.py`) |
| ave-eccv18-weak | same, weak | the same, 250 epochs (`weak_supervised_main.py`) |
| psp-cvpr21-supervised | psp, supervised | Adam 1e-3, x0.8 after epochs 60 and 120, 300 epochs, batch 128, tau 0.099, lambda 100 (`fully_supervised_main.py`) |
| psp-cvpr21-weak | psp, weak | Adam 1e-3, x0.8 after epochs 80 and 160, 300 epochs, batch 128, tau 0.095 (`weakly_supervised_main.py`) |
| cmbs-cvpr22-supervised | cmbs, supervised | Adam 7e-4, x0.5 after epochs 10, 20, 30, gradient norm clipped at 0.5, 200 epochs, batch 64, alpha 0.1, gamma 0.3, float64 (`supv_train.sh`, `configs/main.json`, `model.double()`) |
| cmbs-cvpr22-weak | cmbs, weak | Adam 6e-4, x0.5 after epochs 10, 20, 40, clip 0.5, 200 epochs, batch 64, the weak config (`keras_avl.models.cmbs.REGIME_DEFAULTS`), float64 (`weakly_train.sh`, `configs/weak.json`, `model.double()`) |
| cace-mm24-supervised | cace, supervised | Adam 7e-4, x0.5 after epochs 10, 20, 30, clip 0.5, 200 epochs, batch 64, psai 0.3, Lambda 0.6, contras_coeff 1.0, float64 (`supv_main.py`, `run_supp.sh`, `configs/main.json`, `model.double()`) |

AVE-ECCV18's recipe (the released A+V-att, github:YapengTian/AVE-ECCV18):
`nn.MultiLabelSoftMarginLoss` applied to the model's **softmax outputs** (the
code feeds probabilities where the loss expects scores: the mean over classes
of the binary cross-entropy of sigmoid(p) against the labels, averaged over
segments or videos; `keras_avl.losses.multilabel_soft_margin_loss`), Adam at
1e-3 and `StepLR(step_size=15000, gamma=0.1)` stepped once per batch
(`keras_avl.models.step_lr.StepLR`). With their batch of 64, `len // 64`
batches per epoch (52 on the 3339 training videos, 54 with the 178 background
videos of the weak regime) and 300 (supervised) / 250 (weak) epochs, the rate
drops tenfold once, at update 15000 (epoch 288) in the supervised regime, and
never in the weak one (13500 updates).

A protocol is a named `keras_avl.training_config.TrainingConfig` (its
`training`) with what makes it a model's recipe: the model it belongs to, the
regime, the other models it fits, the model-config values it sets (`config`)
and its source. A protocol chosen by name sets the batch size, the learning
rate and its schedule, the loss, the gradient clipping, the dtype policy
(`dtype_policy`: only CMBS's and CACE-Net's recipes, float64 as their code; the
common recipe stays float32), the config values of the recipe (`--set` overrides still win)
and, unless epochs are given, the epochs (`resolve_training`).
`"own"` picks each model's own recipe (the protocol it is the `model` of, in
the regime), and the common keras-avl recipe for a model without one.

A preset may name a default recipe (`keras_avl.models.get(NAME).recipe`:
the preset `avatt`, the released A+V-att, trains with `ave-eccv18-<regime>`):
without `protocol`, it trains with that protocol's loss and learning-rate
schedule, for the epochs, batch size and learning rate given (15, 64, 1e-3 by
default), as the README's `avatt` rows do.

AVSDN has no public code, hence no recipe: it trains with the common settings.
"""

import dataclasses

from keras_avl.models.cmbs import REGIME_DEFAULTS
from keras_avl.models.registry import get, presets
from keras_avl.training_config import SCHEDULE_FIELDS, TrainingConfig

# The classifiers of the paper's model and A+V-att (every preset of those
# methods): AVE-ECCV18's recipe trains any of them.
AVL_CLASSIFIERS = tuple(name for name, preset in presets().items()
                        if preset.method in ("paper", "avatt"))
OWN = "own"


@dataclasses.dataclass(frozen=True)
class Protocol:
    """A named recipe: a `TrainingConfig` and the model it is the recipe of.

    Args:
        name: the protocol's name (also its `training.protocol`).
        model: the model (a preset's name) whose own recipe it is.
        regime: the regime it trains.
        training: the `TrainingConfig` (epochs, batch size, learning rate,
            schedule, loss, clipping, dtype policy).
        config: fields of the model's config the recipe sets.
        fits: the other models it can train (besides `model`).
        source: where the recipe comes from.
    """

    name: str
    model: str
    regime: str
    training: TrainingConfig
    config: dict = dataclasses.field(default_factory=dict)
    fits: tuple = ()
    source: str = ""

    def __post_init__(self):
        object.__setattr__(self, "training", self.training.replace(protocol=self.name))

    @property
    def models(self):
        """Every model the protocol can train."""
        return (self.model,) + tuple(name for name in self.fits if name != self.model)

    def check(self, model, regime):
        """A clear error when the protocol does not fit `model` / `regime`."""
        if model not in self.models or regime != self.regime:
            raise ValueError(
                f"Protocol {self.name!r} trains {_names(self.models)} in the "
                f"{self.regime!r} regime; received model={model!r}, regime={regime!r}. "
                f"Protocols for {model!r}: {protocols_for(model) or 'none'}."
            )


def _names(models):
    return f"model {models[0]!r}" if len(models) == 1 else f"the models {sorted(models)}"


def _ave_eccv18(regime, epochs, script):
    return Protocol(f"ave-eccv18-{regime}", "avatt", regime,
                    TrainingConfig(epochs=epochs, batch_size=64, learning_rate=1e-3,
                                   step_lr=(15000, 0.1), loss="multilabel-soft-margin"),
                    fits=AVL_CLASSIFIERS, source=f"github:YapengTian/AVE-ECCV18 {script}")


PROTOCOLS = {
    protocol.name: protocol
    for protocol in (
        _ave_eccv18("supervised", 300, "supervised_main.py"),
        _ave_eccv18("weak", 250, "weak_supervised_main.py"),
        Protocol("psp-cvpr21-supervised", "psp", "supervised",
                 TrainingConfig(epochs=300, batch_size=128, learning_rate=1e-3,
                                decay_epochs=(60, 120), decay=0.8),
                 config={"threshold": 0.099, "avps_weight": 100.0},
                 source="github:jasongief/PSP_CVPR_2021 fully_supervised_main.py"),
        Protocol("psp-cvpr21-weak", "psp", "weak",
                 TrainingConfig(epochs=300, batch_size=128, learning_rate=1e-3,
                                decay_epochs=(80, 160), decay=0.8),
                 config={"threshold": 0.095},
                 source="github:jasongief/PSP_CVPR_2021 weakly_supervised_main.py"),
        Protocol("cmbs-cvpr22-supervised", "cmbs", "supervised",
                 TrainingConfig(epochs=200, batch_size=64, learning_rate=7e-4,
                                decay_epochs=(10, 20, 30), decay=0.5, clipnorm=0.5,
                                dtype_policy="float64"),
                 config={"alpha": 0.1, "gamma": 0.3},
                 source="github:marmot-xy/CMBS supv_train.sh, configs/main.json"),
        Protocol("cmbs-cvpr22-weak", "cmbs", "weak",
                 TrainingConfig(epochs=200, batch_size=64, learning_rate=6e-4,
                                decay_epochs=(10, 20, 40), decay=0.5, clipnorm=0.5,
                                dtype_policy="float64"),
                 config=dict(REGIME_DEFAULTS["weak"]),
                 source="github:marmot-xy/CMBS weakly_train.sh, configs/weak.json"),
        Protocol("cace-mm24-supervised", "cace", "supervised",
                 TrainingConfig(epochs=200, batch_size=64, learning_rate=7e-4,
                                decay_epochs=(10, 20, 30), decay=0.5, clipnorm=0.5,
                                dtype_policy="float64"),
                 config={"psai": 0.3, "enhancement": 0.6, "contrastive_weight": 1.0},
                 source="github:Brain-Cog-Lab/CACE-Net CACE/supv_main.py, "
                        "CACE/run_supp.sh, CACE/configs/main.json"),
    )
}


def protocols_for(model):
    """The names of the protocols that can train `model`.

    Example:

    >>> protocols_for("psp"), protocols_for("avsdn")
    (['psp-cvpr21-supervised', 'psp-cvpr21-weak'], [])
    """
    return sorted(name for name, protocol in PROTOCOLS.items() if model in protocol.models)


def own_protocol(model, regime):
    """The name of `model`'s own recipe in `regime`, or None (the common
    keras-avl recipe).

    Example:

    >>> own_protocol("avatt", "weak"), own_protocol("avatt-adam", "weak")
    ('ave-eccv18-weak', None)
    """
    for name, protocol in PROTOCOLS.items():
        if (protocol.model, protocol.regime) == (model, regime):
            return name
    return None


def get_protocol(name):
    """The protocol `name`; a clear error listing the known ones otherwise.

    Example:

    >>> get_protocol("cmbs-cvpr22-supervised").training.clipnorm
    0.5
    """
    if name not in PROTOCOLS:
        raise ValueError(
            f"Unknown training protocol {name!r}; expected one of {sorted(PROTOCOLS)} "
            f"or {OWN!r} (each model's own recipe)."
        )
    return PROTOCOLS[name]


def resolve_protocol(protocol, model, regime):
    """The `Protocol` a run of `model` in `regime` trains with, and whether it
    was chosen by name (then its epochs, batch size and learning rate apply):

    - a name: that protocol (a clear error when it does not fit);
    - `"own"`: the model's own recipe, if it has one;
    - None: the default recipe of the preset, if it names one
      (`keras_avl.models.get(model).recipe`: its loss and schedule only).

    Returns `(protocol, chosen)`; `(None, False)` for the common recipe.

    Example:

    >>> [(p and p.name, chosen) for p, chosen in (resolve_protocol(None, "avatt", "weak"),
    ...  resolve_protocol("own", "psp", "weak"), resolve_protocol("own", "paper", "weak"))]
    [('ave-eccv18-weak', False), ('psp-cvpr21-weak', True), (None, False)]
    """
    if protocol == OWN:
        protocol = own_protocol(model, regime)
        if protocol is None:
            return None, False
    elif protocol is None:
        # A regime the family has no recipe for (avatt unsupervised) is left
        # to the model's builder, which refuses it.
        recipe = get(model).recipe
        return (None if recipe is None else PROTOCOLS.get(f"{recipe}-{regime}")), False
    recipe = get_protocol(protocol)
    recipe.check(model, regime)
    return recipe, True


def resolve_training(training, model, regime):
    """The `TrainingConfig` that a new run of `model` in `regime` trains
    with, from the one asked for (its `protocol`: a name, `"own"` or None; see
    `resolve_protocol`), and the model-config values of its recipe.

    A protocol sets the schedule, the loss, the clipping and the dtype
    policy; one chosen by name (or `"own"`) also the batch size, the learning
    rate and, where `training.epochs` is None, the epochs. Every other field
    (seed, selection, precision, ...) is `training`'s; the epochs, batch size
    and rate still None become 15, 64 and 1e-3.

    Example:

    >>> config, values = resolve_training(TrainingConfig(protocol="own", epochs=2, seed=1),
    ...                                   "psp", "weak")
    >>> config.epochs, config.batch_size, config.decay_epochs, config.seed, values
    (2, 128, (80, 160), 1, {'threshold': 0.095})
    >>> config, _ = resolve_training(TrainingConfig(batch_size=8), "avatt", "weak")
    >>> config.protocol, config.epochs, config.batch_size, config.step_lr
    ('ave-eccv18-weak', 15, 8, (15000, 0.1))
    """
    recipe, chosen = resolve_protocol(training.protocol, model, regime)
    if recipe is None:
        return training.replace(protocol=None).with_defaults(), {}
    changes = {name: getattr(recipe.training, name) for name in SCHEDULE_FIELDS}
    if chosen:
        changes.update(batch_size=recipe.training.batch_size,
                       learning_rate=recipe.training.learning_rate,
                       epochs=training.epochs or recipe.training.epochs)
    return training.replace(protocol=recipe.name, **changes).with_defaults(), dict(recipe.config)
