"""Training protocols: a method's own recipe (optimizer, learning-rate
schedule, epochs, batch size, gradient clipping, loss weights and the other
config values its code trains with), selectable by name and recorded in the
run folder (`config.json`, `training.protocol`).

The recipes come from the public codes. One thing is never copied: those codes
keep the checkpoint of best *test* accuracy; `keras_avl.training.train` always
selects the epoch on the validation split.

| protocol | method, regime | recipe (from) |
|---|---|---|
| psp-cvpr21-supervised | psp, supervised | Adam 1e-3, x0.8 after epochs 60 and 120, 300 epochs, batch 128, tau 0.099, lambda 100 (`fully_supervised_main.py`) |
| psp-cvpr21-weak | psp, weak | Adam 1e-3, x0.8 after epochs 80 and 160, 300 epochs, batch 128, tau 0.095 (`weakly_supervised_main.py`) |
| cmbs-cvpr22-supervised | cmbs, supervised | Adam 7e-4, x0.5 after epochs 10, 20, 30, gradient norm clipped at 0.5, 200 epochs, batch 64, alpha 0.1, gamma 0.3 (`supv_train.sh`, `configs/main.json`) |
| cmbs-cvpr22-weak | cmbs, weak | Adam 6e-4, x0.5 after epochs 10, 20, 40, clip 0.5, 200 epochs, batch 64, alpha 0.2, gamma 0.5 (`weakly_train.sh`, `configs/weak.json`) |

AVSDN has no public code, hence no recipe: it trains with the common settings.
"""

import dataclasses

from keras_avl.validation import check_positive_int


@dataclasses.dataclass(frozen=True)
class Protocol:
    """A named recipe.

    Args:
        name: the protocol's name.
        model: the model (registry name) it trains.
        regime: the regime it trains.
        epochs, batch_size, learning_rate: the training settings.
        decay_epochs: epochs after which the learning rate is multiplied by
            `decay` (a step schedule; empty: constant).
        decay: the factor of each step.
        clipnorm: the global gradient-norm clip, or None.
        config: fields of the model's config the recipe sets.
        source: where the recipe comes from.
    """

    name: str
    model: str
    regime: str
    epochs: int
    batch_size: int
    learning_rate: float
    decay_epochs: tuple = ()
    decay: float = 1.0
    clipnorm: float = None
    config: dict = dataclasses.field(default_factory=dict)
    source: str = ""

    def optimizer(self, steps_per_epoch):
        """Adam with the recipe's step schedule (counted in optimizer steps) and clip."""
        import keras

        steps_per_epoch = check_positive_int("steps_per_epoch", steps_per_epoch)
        learning_rate = self.learning_rate
        if self.decay_epochs:
            # Update number n (from 0) of epoch e uses the rate of e: the
            # schedule keeps values[i] while step <= boundaries[i].
            learning_rate = keras.optimizers.schedules.PiecewiseConstantDecay(
                [epoch * steps_per_epoch - 1 for epoch in self.decay_epochs],
                [self.learning_rate * self.decay ** i
                 for i in range(len(self.decay_epochs) + 1)],
            )
        return keras.optimizers.Adam(learning_rate, global_clipnorm=self.clipnorm)

    def check(self, model, regime):
        """A clear error when the protocol does not fit `model` / `regime`."""
        if (model, regime) != (self.model, self.regime):
            raise ValueError(
                f"Protocol {self.name!r} trains model {self.model!r} in the "
                f"{self.regime!r} regime; received model={model!r}, regime={regime!r}. "
                f"Protocols for {model!r}: {protocols_for(model) or 'none'}."
            )

    def to_dict(self):
        return dataclasses.asdict(self)


PROTOCOLS = {
    protocol.name: protocol
    for protocol in (
        Protocol("psp-cvpr21-supervised", "psp", "supervised", epochs=300, batch_size=128,
                 learning_rate=1e-3, decay_epochs=(60, 120), decay=0.8,
                 config={"threshold": 0.099, "avps_weight": 100.0},
                 source="github:jasongief/PSP_CVPR_2021 fully_supervised_main.py"),
        Protocol("psp-cvpr21-weak", "psp", "weak", epochs=300, batch_size=128,
                 learning_rate=1e-3, decay_epochs=(80, 160), decay=0.8,
                 config={"threshold": 0.095},
                 source="github:jasongief/PSP_CVPR_2021 weakly_supervised_main.py"),
        Protocol("cmbs-cvpr22-supervised", "cmbs", "supervised", epochs=200, batch_size=64,
                 learning_rate=7e-4, decay_epochs=(10, 20, 30), decay=0.5, clipnorm=0.5,
                 config={"alpha": 0.1, "gamma": 0.3},
                 source="github:marmot-xy/CMBS supv_train.sh, configs/main.json"),
        Protocol("cmbs-cvpr22-weak", "cmbs", "weak", epochs=200, batch_size=64,
                 learning_rate=6e-4, decay_epochs=(10, 20, 40), decay=0.5, clipnorm=0.5,
                 config={"alpha": 0.2, "gamma": 0.5},
                 source="github:marmot-xy/CMBS weakly_train.sh, configs/weak.json"),
    )
}


def protocols_for(model):
    """The names of the protocols that train `model`."""
    return sorted(name for name, protocol in PROTOCOLS.items() if protocol.model == model)


def get_protocol(name):
    """The protocol `name`; a clear error listing the known ones otherwise.

    Example:

    >>> get_protocol("cmbs-cvpr22-supervised").clipnorm
    0.5
    """
    if name not in PROTOCOLS:
        raise ValueError(
            f"Unknown training protocol {name!r}; expected one of {sorted(PROTOCOLS)}."
        )
    return PROTOCOLS[name]
